"""ONNX model runner on tiny models (tests/support/onnx_models.py) run by the real onnxruntime:
marks land on the bright spot in image coordinates, density follows the dense fraction, and every
way a model folder or an image can be unusable is reported, not raised."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from breastgate.algorithms.base import Algorithm
from breastgate.domain.model import AlgorithmStatus, FindingKind, InstanceRef, StudyRef
from breastgate.engines.onnx_runner import OnnxModelRunner
from breastgate.pipeline.analysis import build_outputs
from breastgate.results.json import build_results
from tests.support.dicom_factory import truncated_copy
from tests.support.onnx_models import (
    COLS,
    DENSITY_MANIFEST,
    DETECTION_MANIFEST,
    HALF,
    ROWS,
    SX,
    SY,
    H,
    W,
    density_graph,
    detection_graph,
    model_folder,
)
from tests.unit.test_imaging import make_mg, save


def blob_image(col: float, row: float, amplitude: float = 3000.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:ROWS, 0:COLS]
    blob = amplitude * np.exp(-((cc - col) ** 2 + (rr - row) ** 2) / (2 * 12.0**2))
    return np.maximum(rng.integers(0, 800, size=(ROWS, COLS)), blob).astype(np.uint16)


def dense_fraction_image(fraction: float) -> np.ndarray:
    pixels = np.full((ROWS, COLS), 100, dtype=np.uint16)
    pixels[: round(fraction * ROWS), :] = 4000
    return pixels


def ref_of(ds: Dataset, path: str) -> InstanceRef:
    return InstanceRef(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SOPClassUID, "MG", path
    )


def study_of(datasets: list[Dataset], folder: Path) -> StudyRef:
    uid = datasets[0].StudyInstanceUID
    refs = []
    for i, ds in enumerate(datasets):
        ds.StudyInstanceUID = uid
        refs.append(ref_of(ds, save(ds, folder / f"{i}.dcm")))
    return StudyRef(uid, tuple(refs))


def run(runner: OnnxModelRunner, study: StudyRef) -> Any:
    return runner.run(runner.select(study))


@pytest.fixture
def detector(tmp_path: Path) -> OnnxModelRunner:
    return OnnxModelRunner(model_folder(tmp_path / "models", detection_graph(), DETECTION_MANIFEST))


def test_detection_lands_on_the_bright_spot_in_image_coordinates(
    detector: OnnxModelRunner, tmp_path: Path
) -> None:
    assert isinstance(detector, Algorithm)
    assert detector.is_available() == (True, "")
    assert detector.manifest.id == "acme.brightest"
    assert detector.manifest.label == "Investigational device: site validation pending."
    left = make_mg(blob_image(121.0, 317.0), ImageLaterality="L", ViewPosition="CC")
    right = make_mg(
        blob_image(250.0, 90.0, amplitude=2000.0, seed=1), ImageLaterality="R", ViewPosition="MLO"
    )
    study = study_of([left, right], tmp_path)

    result = run(detector, study)

    assert result.status == AlgorithmStatus.OK, result.message
    assert result.operating_threshold == pytest.approx(1000 / 4095, abs=1e-6)
    by_uid = {f.marks[0].sop_instance_uid: f for f in result.findings if f.attributes["raw_score"] > 1000}
    assert set(by_uid) == {left.SOPInstanceUID, right.SOPInstanceUID}
    for ds, (col, row), side, view in (
        (left, (121.0, 317.0), "L", "CC"),
        (right, (250.0, 90.0), "R", "MLO"),
    ):
        finding = by_uid[ds.SOPInstanceUID]
        mark = finding.marks[0]
        # The model sees a smaller image: its pixel centre is within half a model pixel of the peak.
        assert abs(mark.point[0] - col) <= SX / 2 and abs(mark.point[1] - row) <= SY / 2, mark.point
        hx, hy = HALF * SX, HALF * SY
        assert mark.bbox == pytest.approx(
            (mark.point[0] - hx, mark.point[1] - hy, mark.point[0] + hx, mark.point[1] + hy)
        )
        assert (finding.laterality, mark.laterality, mark.view) == (side, side, view)
        assert finding.kind == FindingKind.MASS
    high = by_uid[left.SOPInstanceUID]
    raw = high.attributes["raw_score"]
    assert 2800 < raw <= 3000  # the peak, slightly lowered by anti-aliasing
    assert high.score == pytest.approx(raw / 4095, abs=1e-6)
    # The fixed box (-10, -10)-(5, 5) overhanging the top-left corner: scaled, clipped to the image.
    corner = [f for f in result.findings if f.attributes["raw_score"] == 100.0]
    assert len(corner) == 2
    assert corner[0].marks[0].bbox == (0.0, 0.0, 5 * SX, 5 * SY)
    assert corner[0].marks[0].point == (2.5 * SX, 2.5 * SY)
    assert [f.id for f in result.findings] == ["mass-1", "mass-2", "mass-3", "mass-4"]
    assert [f.score for f in result.findings] == sorted((f.score for f in result.findings), reverse=True)
    shown = [f["shown"] for f in build_results(study.study_instance_uid, [result])["findings"]]
    assert shown == [True, True, False, False]
    assert run(detector, study) == result  # deterministic


def test_density_per_breast_and_study(tmp_path: Path) -> None:
    runner = OnnxModelRunner(model_folder(tmp_path / "models", density_graph(), DENSITY_MANIFEST))
    assert runner.is_available() == (True, "")
    datasets = [
        make_mg(dense_fraction_image(0.1), ImageLaterality="L", ViewPosition="CC"),
        make_mg(dense_fraction_image(0.12), ImageLaterality="L", ViewPosition="MLO"),
        make_mg(dense_fraction_image(0.9), ImageLaterality="R", ViewPosition="CC"),
    ]
    result = run(runner, study_of(datasets, tmp_path))

    assert result.status == AlgorithmStatus.OK, result.message
    density = result.density
    assert density is not None
    assert (density.per_breast["L"].category, density.per_breast["R"].category) == ("a", "d")
    assert density.category == "d"  # the denser breast
    assert len(density.per_breast["L"].sop_instance_uids) == 2
    assert density.per_breast["L"].percent_dense < 10 < 65 < density.per_breast["R"].percent_dense
    for image in result.images:
        probs = [image.measurements[f"p_{c}"] for c in "abcd"]
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert image.measurements["percent_dense_measured"] == 0.0
    assert result.images[0].measurements["p_a"] > 0.9
    assert result.images[2].measurements["p_d"] > 0.9


def test_bad_image_is_a_failed_outcome_not_an_exception(detector: OnnxModelRunner, tmp_path: Path) -> None:
    good = make_mg(blob_image(121.0, 317.0), ImageLaterality="L", ViewPosition="CC")
    bad = make_mg(blob_image(50.0, 50.0), ImageLaterality="R", ViewPosition="CC")
    study = study_of([good, bad], tmp_path)
    truncated_copy(Path(study.instances[1].path), Path(study.instances[1].path).with_suffix(".cut"), 0.3)
    Path(study.instances[1].path).with_suffix(".cut").replace(study.instances[1].path)

    result = run(detector, study)

    assert result.status == AlgorithmStatus.OK
    outcomes = {o.sop_instance_uid: o for o in result.images}
    assert outcomes[good.SOPInstanceUID].status == AlgorithmStatus.OK
    assert outcomes[bad.SOPInstanceUID].status == AlgorithmStatus.FAILED
    assert outcomes[bad.SOPInstanceUID].message
    assert {f.marks[0].sop_instance_uid for f in result.findings} == {good.SOPInstanceUID}


def test_score_outside_the_declared_scale_fails_the_image(tmp_path: Path) -> None:
    manifest = DETECTION_MANIFEST.replace("score_scale = [0, 4095]", "score_scale = [0, 1000]")
    manifest = manifest.replace("operating_threshold = 1000", "operating_threshold = 500")
    runner = OnnxModelRunner(model_folder(tmp_path / "models", detection_graph(), manifest))
    result = run(runner, study_of([make_mg(blob_image(121.0, 317.0))], tmp_path))
    assert result.status == AlgorithmStatus.FAILED
    assert "outside the declared scale [0, 1000]" in result.images[0].message
    assert "outside the declared scale" in result.message


def test_output_of_the_wrong_shape_fails_the_image(tmp_path: Path) -> None:
    manifest = DENSITY_MANIFEST.replace('id = "acme.density"', 'id = "acme.mixup"')
    folder = model_folder(tmp_path / "models", detection_graph(), manifest)  # boxes, not 4 probabilities
    result = run(OnnxModelRunner(folder), study_of([make_mg(blob_image(121.0, 317.0))], tmp_path))
    assert result.status == AlgorithmStatus.FAILED
    assert "density output must be 4 probabilities" in result.images[0].message


def test_views_outside_the_manifest_are_skipped(detector: OnnxModelRunner, tmp_path: Path) -> None:
    ml = make_mg(blob_image(121.0, 317.0), ViewPosition="ML")
    selection = detector.select(study_of([ml], tmp_path))
    assert selection.inputs == ()
    assert selection.skipped[0].status == AlgorithmStatus.SKIPPED
    assert "view ML is not one the model takes" in selection.skipped[0].message
    result = detector.run(selection)
    assert result.status == AlgorithmStatus.SKIPPED


def test_missing_model_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "manifest.toml").write_text(DETECTION_MANIFEST, encoding="utf-8")
    runner = OnnxModelRunner(folder)
    ok, why = runner.is_available()
    assert not ok and "model file missing" in why and "model.onnx" in why
    result = run(runner, study_of([make_mg(blob_image(121.0, 317.0))], tmp_path))
    assert result.status == AlgorithmStatus.FAILED and "model file missing" in result.message


def test_corrupt_model_file(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "manifest.toml").write_text(DETECTION_MANIFEST, encoding="utf-8")
    (folder / "model.onnx").write_bytes(b"\x08\x07this is not a protobuf of an ONNX model" * 10)
    ok, why = OnnxModelRunner(folder).is_available()
    assert not ok and "cannot be loaded by onnxruntime" in why


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m.replace('output = "detections"', 'output = "segmentation"'), "output must be one of"),
        (lambda m: m.replace('kind = "mass"', 'kind = "tumour"'), "kind must be one of"),
        (lambda m: m.replace(f"input_size = [{H}, {W}]", "input_size = [128]"), "input_size"),
        (lambda m: m.replace("score_scale = [0, 4095]", "score_scale = [5, 1]"), "lo < hi"),
        (
            lambda m: m.replace("operating_threshold = 1000", "operating_threshold = 9000"),
            "operating_threshold",
        ),
        (lambda m: m.replace('id = "acme.brightest"\n', ""), "id must be"),
        (lambda m: m + "\nthreshold = 3\n", "unknown keys ['threshold']"),
        (lambda m: m.replace("[", "{", 1), "cannot be read"),
        (lambda m: None, "no such file"),
    ],
)
def test_bad_manifest(tmp_path: Path, edit: Any, expected: str) -> None:
    folder = model_folder(tmp_path, detection_graph(), DETECTION_MANIFEST)
    text = edit(DETECTION_MANIFEST)
    if text is None:
        (folder / "manifest.toml").unlink()
    else:
        (folder / "manifest.toml").write_text(text, encoding="utf-8")
    runner = OnnxModelRunner(folder)
    ok, why = runner.is_available()
    assert not ok
    assert "invalid model manifest" in why and expected in why, why
    assert runner.manifest.id == "onnx.brightest"  # a placeholder the UI can list


def test_missing_onnxruntime_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = model_folder(tmp_path, detection_graph(), DETECTION_MANIFEST)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an environment without it imports
    ok, why = OnnxModelRunner(folder).is_available()
    assert not ok and "onnxruntime is not installed" in why


def test_results_become_cad_sr_and_gsps(detector: OnnxModelRunner, tmp_path: Path) -> None:
    """The engine's results go through the same encoders as the built-ins'."""
    left_cc = make_mg(blob_image(121.0, 317.0), ImageLaterality="L", ViewPosition="CC")
    detections = study_of([left_cc], tmp_path)
    outputs = build_outputs(detections, detector, run(detector, detections))
    assert [o.kind for o in outputs] == ["cad-sr", "gsps", "kos"]
    density_runner = OnnxModelRunner(model_folder(tmp_path / "models", density_graph(), DENSITY_MANIFEST))
    datasets = [
        make_mg(dense_fraction_image(0.1), ImageLaterality="L", ViewPosition="CC"),
        make_mg(dense_fraction_image(0.9), ImageLaterality="R", ViewPosition="CC"),
    ]
    (tmp_path / "density").mkdir()
    density = study_of(datasets, tmp_path / "density")
    outputs = build_outputs(density, density_runner, run(density_runner, density))
    assert [o.kind for o in outputs] == ["cad-sr"]
