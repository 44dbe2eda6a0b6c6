"""ONNX model runner: a third-party model file run here on the CPU with onnxruntime.

A model is a folder with ``model.onnx`` and ``manifest.toml``::

    id = "acme.mass"                    # vendor.name (STYLE "Names")
    version = "2.1.0"
    name = "ACME mass detector"
    intended_use = "Mass detection on 2-D screening mammograms"
    manufacturer = "ACME"
    label = "..."                       # optional; default: not for diagnostic use (the site decides)
    modalities = ["MG"]                 # the runner reads 2-D mammograms (MG) only
    views = ["CC", "MLO"]               # optional; [] or absent = every view
    sop_class_uids = ["1.2.840.10008.5.1.4.1.1.1.2"]   # optional; default MG For Presentation
    output = "detections"               # or "density"
    kind = "mass"                       # detections: a DESIGN §4 findings[].kind
    input_size = [512, 384]             # [H, W] the image is resized to
    normalisation = "minmax"            # minmax (per image, to 0-1) | zscore (per image) | none
    layout = "NCHW"                     # optional: NCHW (default, [1, 1, H, W]) | NHWC ([1, H, W, 1])
    score_scale = [0.0, 1.0]            # optional; raw scores lie in it, default [0, 1]
    operating_threshold = 0.5           # optional, on the raw scale; findings at or above are shown
    input_name = "image"                # optional; default the graph's first input
    output_name = "boxes"               # optional; default the graph's first output

Per selected For Presentation mammogram (the same eligibility as the built-ins:
:func:`breastgate.algorithms._findings.select_mammograms`, then the manifest's SOP classes and
views): pixels through the Modality LUT with bright = dense
(:func:`breastgate.imaging.pixels.load_mammogram`), bilinear resize (Pillow; anti-aliased when shrinking)
to ``input_size``, normalisation, one float32 tensor.

Outputs
-------
``detections``
    float tensor [N, 5] (or [1, N, 5]): ``x0, y0, x1, y1, score`` in model-input pixel coordinates
    (x along the W axis, origin at the top-left corner of the top-left pixel). Each row becomes a
    single-mark :class:`~breastgate.domain.model.Finding` (no CC/MLO correlation: the model did not
    make one). Boxes are scaled back to DICOM image coordinates (column, row) by Columns/W and Rows/H,
    clipped to the image; the mark's point is the box centre. The score is normalised to 0-1 by
    ``score_scale``; the raw value is kept in ``attributes["raw_score"]``. A score outside the scale
    or a non-finite value fails that image. ``size_mm`` is left empty: a box is not a lesion size.
``density``
    4 probabilities (BI-RADS a, b, c, d; shape [4] or [1, 4]) per image. A breast's probabilities
    are the mean over its images and its category the most probable; the study category is the
    denser breast's (as radiologists report). The model gives no percent density, but
    :class:`~breastgate.domain.model.DensityAssessment` needs one: ``percent_dense`` is the
    *expected value* ``Σ p_k · m_k`` over representative PD% ``m`` = (5, 21.5, 49, 82.5) — the
    middles of breastgate.density's category ranges a < 10 ≤ b < 33 ≤ c < 65 ≤ d (``category_percent``
    in the manifest overrides them). It is not a measurement; each image's probabilities are kept in
    its ``ImageOutcome.measurements`` (``p_a`` … ``p_d``) with ``percent_dense_measured = 0``.

:meth:`OnnxModelRunner.is_available` says what is missing (onnxruntime, the model file, a valid
manifest, a model onnxruntime can load); nothing is loaded at import. Inference runs on one thread
by default (``threads``), so the output does not depend on the machine's core count.
"""

from __future__ import annotations

import importlib
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from breastgate.algorithms._findings import select_mammograms
from breastgate.algorithms.base import Selection
from breastgate.domain.errors import ConfigurationError
from breastgate.domain.model import (
    AlgorithmManifest,
    AlgorithmResult,
    AlgorithmStatus,
    BreastDensity,
    DensityAssessment,
    Finding,
    ImageOutcome,
    InstanceRef,
    Mark,
    StudyRef,
)
from breastgate.engines._onnx_manifest import (
    CATEGORY_PERCENT,
    OnnxModelSpec,
    read_model_manifest,
)
from breastgate.imaging.errors import ImagingError
from breastgate.imaging.pixels import MG_FOR_PRESENTATION, MammoImage, load_mammogram, read_header, view_of

LOGGER = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
CATEGORIES = ("a", "b", "c", "d")
#: How far 4 density probabilities may sum from 1 (float32 softmax round-off is far smaller).
PROBABILITY_TOLERANCE = 0.01
FloatArray = npt.NDArray[np.float32]


def preprocess(pixels: FloatArray, spec: OnnxModelSpec) -> FloatArray:
    """Resize to ``input_size``, normalise, add the batch and channel axes.

    Pillow's bilinear filter on 32-bit float pixels: its support widens with the shrink factor, so
    shrinking is anti-aliased (about 60 ms for a 3328 x 2560 mammogram; scikit-image's Gaussian
    anti-aliasing took 1.3 s). Pixel areas map edge to edge, so model coordinates scale to image
    coordinates by Columns/W and Rows/H.
    """
    height, width = spec.input_size
    resized = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    image = np.asarray(resized, dtype=np.float64)
    if spec.normalisation == "minmax":
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    elif spec.normalisation == "zscore":
        sd = float(image.std())
        image = (image - float(image.mean())) / sd if sd > 0 else np.zeros_like(image)
    tensor = image.astype(np.float32)
    out: FloatArray = tensor[None, None] if spec.layout == "NCHW" else tensor[None, :, :, None]
    return out


def _fallback_manifest(folder: Path) -> AlgorithmManifest:
    """What the registry shows for a model folder whose manifest cannot be read."""
    return AlgorithmManifest(
        id=f"onnx.{folder.name or 'model'}",
        version="0.0.0",
        name=f"ONNX model in {folder} (manifest unreadable)",
        intended_use="unknown: the model's manifest.toml could not be read",
        modalities=("MG",),
        sop_class_uids=(MG_FOR_PRESENTATION,),
        manufacturer="unknown",
    )


class OnnxModelRunner:
    """An ONNX model folder behind the Algorithm protocol (see the module docstring)."""

    manifest: AlgorithmManifest

    def __init__(self, folder: str | Path, threads: int = 1) -> None:
        self.folder = Path(folder)
        self.threads = threads
        self.spec: OnnxModelSpec | None = None
        self._problem = ""
        try:
            self.spec = read_model_manifest(self.folder)
            self.manifest = self.spec.manifest
        except ConfigurationError as exc:
            self._problem = f"invalid model manifest: {exc}"
            self.manifest = _fallback_manifest(self.folder)
        self._session: Any = None
        self._names: tuple[str, str] = ("", "")

    def is_available(self) -> tuple[bool, str]:
        """True once onnxruntime is installed, the manifest is valid and the model loads."""
        if self._session is not None:
            return True, ""
        if self.spec is None:
            return False, self._problem
        try:
            ort = importlib.import_module("onnxruntime")
        except ImportError as exc:
            return False, f"onnxruntime is not installed (pip install 'onnxruntime>=1.17'): {exc}"
        model = self.folder / MODEL_FILE
        if not model.is_file():
            return False, f"model file missing: {model}"
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for corrupt or unsupported models
            return False, f"model file cannot be loaded by onnxruntime: {model}: {exc}"
        inputs = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        input_name = self.spec.input_name or inputs[0]
        output_name = self.spec.output_name or outputs[0]
        if input_name not in inputs:
            return False, f"model has no input {input_name!r} (inputs: {inputs})"
        if output_name not in outputs:
            return False, f"model has no output {output_name!r} (outputs: {outputs})"
        self._session, self._names = session, (input_name, output_name)
        return True, ""

    def select(self, study: StudyRef) -> Selection:
        """Usable For Presentation mammograms of the manifest's SOP classes and views; others skipped."""
        selection = select_mammograms(study)
        inputs: list[InstanceRef] = []
        skipped = list(selection.skipped)
        classes, views = self.manifest.sop_class_uids, self.manifest.views
        for ref in selection.inputs:
            reason, view = None, ref.view
            if classes and ref.sop_class_uid not in classes:
                reason = f"SOP class {ref.sop_class_uid} is not one the model takes"
            elif views:
                view = view or view_of(read_header(ref.path))  # select_mammograms read it: readable
                if (view or "").upper() not in views:
                    reason = f"view {view or 'unknown'} is not one the model takes ({', '.join(views)})"
            if reason is None:
                inputs.append(ref)
            else:
                skipped.append(
                    ImageOutcome(ref.sop_instance_uid, AlgorithmStatus.SKIPPED, reason, ref.laterality, view)
                )
        return Selection(study=study, inputs=tuple(inputs), skipped=tuple(skipped))

    def run(self, selection: Selection) -> AlgorithmResult:
        """Run the model on every input; a bad image is a failed ImageOutcome, never an exception."""
        base: dict[str, Any] = {
            "algorithm_id": self.manifest.id,
            "algorithm_version": self.manifest.version,
            "study_instance_uid": selection.study.study_instance_uid,
        }
        ok, why = self.is_available()
        if not ok or self.spec is None:
            return AlgorithmResult(
                status=AlgorithmStatus.FAILED, message=why, images=selection.skipped, **base
            )
        spec = self.spec
        if spec.output == "detections" and spec.operating_threshold is not None:
            base["operating_threshold"] = spec.score_scale.normalise(spec.operating_threshold)
        outcomes: list[ImageOutcome] = list(selection.skipped)
        findings: list[Finding] = []
        probabilities: list[tuple[ImageOutcome, tuple[float, ...]]] = []
        for ref in selection.inputs:
            try:
                image = load_mammogram(ref.path)
                raw = self._infer(preprocess(image.pixels, spec))
                if spec.output == "detections":
                    found = self._findings(ref, image, raw)
                    measurements = {"detections": float(len(found))}
                else:
                    probs = _probabilities(raw)
                    measurements = {f"p_{c}": p for c, p in zip(CATEGORIES, probs, strict=True)}
                    measurements["percent_dense_measured"] = 0.0
            except Exception as exc:  # one image must never take the study down
                LOGGER.info("%s failed on %s: %s", self.manifest.id, ref.sop_instance_uid, exc)
                plain = isinstance(exc, ValueError | ImagingError)
                message = str(exc) if plain else f"{self.manifest.id} failed: {type(exc).__name__}: {exc}"
                outcomes.append(
                    ImageOutcome(
                        ref.sop_instance_uid, AlgorithmStatus.FAILED, message, ref.laterality, ref.view
                    )
                )
                continue
            outcome = ImageOutcome(
                ref.sop_instance_uid, AlgorithmStatus.OK, "", image.laterality, image.view, measurements
            )
            outcomes.append(outcome)
            if spec.output == "detections":
                findings.extend(found)
            else:
                probabilities.append((outcome, probs))
        base["images"] = tuple(outcomes)
        if not any(o.status == AlgorithmStatus.OK for o in outcomes):
            failed = any(o.status == AlgorithmStatus.FAILED for o in outcomes)
            reasons = "; ".join(sorted({o.message for o in outcomes if o.message})) or "no images"
            status = AlgorithmStatus.FAILED if failed else AlgorithmStatus.SKIPPED
            return AlgorithmResult(status=status, message=f"no usable mammogram: {reasons}", **base)
        if spec.output == "density":
            density = aggregate_density(probabilities, spec.category_percent)
            return AlgorithmResult(status=AlgorithmStatus.OK, density=density, **base)
        return AlgorithmResult(status=AlgorithmStatus.OK, findings=_numbered(findings), **base)

    def _infer(self, tensor: FloatArray) -> npt.NDArray[np.float64]:
        input_name, output_name = self._names
        (raw,) = self._session.run([output_name], {input_name: tensor})
        return np.asarray(raw, dtype=np.float64)

    def _findings(self, ref: InstanceRef, image: MammoImage, raw: npt.NDArray[np.float64]) -> list[Finding]:
        spec, kind = self.spec, self.spec.kind if self.spec else None
        assert spec is not None and kind is not None  # a detections model has a kind
        boxes = raw[0] if raw.ndim == 3 and raw.shape[0] == 1 else raw
        if boxes.size == 0:
            return []
        if boxes.ndim != 2 or boxes.shape[1] != 5:
            raise ValueError(f"detections output must be [N, 5], got shape {list(raw.shape)}")
        if not np.all(np.isfinite(boxes)):
            raise ValueError("detections output holds non-finite values")
        rows, cols = image.pixels.shape
        height, width = spec.input_size
        sx, sy = cols / width, rows / height
        found = []
        for x0, y0, x1, y1, raw_score in boxes.tolist():
            score = spec.score_scale.normalise(raw_score)
            c0, c1 = sorted((_clip(x0 * sx, cols), _clip(x1 * sx, cols)))
            r0, r1 = sorted((_clip(y0 * sy, rows), _clip(y1 * sy, rows)))
            bbox = (round(c0, 2), round(r0, 2), round(c1, 2), round(r1, 2))
            point = (round((c0 + c1) / 2, 2), round((r0 + r1) / 2, 2))
            mark = Mark(
                sop_instance_uid=ref.sop_instance_uid,
                point=point,
                bbox=bbox,
                score=score,
                laterality=image.laterality,
                view=image.view,
                sop_class_uid=ref.sop_class_uid,
            )
            found.append(
                Finding(
                    id="",
                    kind=kind,
                    laterality=image.laterality,
                    score=score,
                    marks=(mark,),
                    attributes={"raw_score": round(float(raw_score), 6)},
                )
            )
        return found


def _clip(value: float, limit: int) -> float:
    return min(float(limit), max(0.0, value))


def _numbered(findings: list[Finding]) -> tuple[Finding, ...]:
    """Sorted by score (then image and box, so the order is deterministic), numbered kind-1, kind-2 ..."""
    ordered = sorted(findings, key=lambda f: (-f.score, f.marks[0].sop_instance_uid, f.marks[0].bbox))
    return tuple(
        Finding(
            id=f"{f.kind.value}-{i + 1}",
            kind=f.kind,
            laterality=f.laterality,
            score=f.score,
            marks=f.marks,
            attributes=f.attributes,
        )
        for i, f in enumerate(ordered)
    )


def _probabilities(raw: npt.NDArray[np.float64]) -> tuple[float, ...]:
    values = raw.reshape(-1)
    if values.size != 4:
        raise ValueError(f"density output must be 4 probabilities (a, b, c, d), got shape {list(raw.shape)}")
    if not np.all(np.isfinite(values)) or values.min() < 0.0 or values.max() > 1.0:
        raise ValueError(f"density output is not probabilities: {values.round(4).tolist()}")
    if abs(float(values.sum()) - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(f"density probabilities sum to {values.sum():.4f}, not 1")
    return tuple(round(float(v), 6) for v in values)


def aggregate_density(
    images: list[tuple[ImageOutcome, tuple[float, ...]]],
    category_percent: tuple[float, float, float, float] = CATEGORY_PERCENT,
) -> DensityAssessment:
    """Per breast: mean probabilities, most probable category (the less dense on a tie), expected
    PD%; study: the denser breast's category, mean of the breasts' expected PD%."""
    by_side: dict[str, list[tuple[str, tuple[float, ...]]]] = {}
    for outcome, probs in images:
        by_side.setdefault(outcome.laterality or "?", []).append((outcome.sop_instance_uid, probs))
    per_breast: dict[str, BreastDensity] = {}
    for side, items in sorted(by_side.items()):
        mean = np.mean([p for _, p in items], axis=0)
        category = CATEGORIES[int(np.argmax(mean))]
        expected = float(np.dot(mean / mean.sum(), category_percent))
        per_breast[side] = BreastDensity(
            laterality=side,
            category=category,
            percent_dense=round(expected, 2),
            sop_instance_uids=tuple(sorted(uid for uid, _ in items)),
        )
    category = max(b.category for b in per_breast.values())
    percent = float(np.mean([b.percent_dense for b in per_breast.values()]))
    if not math.isfinite(percent):  # pragma: no cover - probabilities were checked
        raise ValueError("expected percent density is not finite")
    return DensityAssessment(category=category, percent_dense=round(percent, 2), per_breast=per_breast)
