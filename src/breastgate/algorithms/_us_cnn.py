"""A small convolutional network's lesion-probability map of one B-mode ultrasound image.

The network (a tiny U-Net, ``US_CNN_FILE`` beside this module, run by onnxruntime on one thread)
reads the detector's working image (:func:`breastgate.algorithms._us_candidates.prepare`: filled,
speckle-reduced, 0.3 mm per pixel) shrunk to ``CNN_MM`` per pixel and standardised over its valid
pixels (:func:`network_input`), and gives each pixel a probability of lying in a lesion; the map is
brought back to the working grid (:func:`lesion_map`). The detector ranks its candidates with it
and adds the map's own components as candidates (:mod:`breastgate.algorithms._us_lesions`).

Origin: trained by ``bench/busi_cnn.py`` on the 240 images of the BUSI calibration set
(Al-Dhabyani et al., Data in Brief 28:104863, 2020), which has no pixel spacing (0.15 mm per pixel
assumed). onnxruntime is loaded on first use, once per process; when it or the file is missing,
:func:`lesion_map` returns None and :func:`unavailable` says why (the detector then runs without it).
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from breastgate.algorithms._us_candidates import WORK_MM, Region, WorkImage

LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: The network's pixel size (mm) and the multiple its input sides are padded to (three poolings).
CNN_MM = 1.2
MULTIPLE = 8
US_CNN_FILE = Path(__file__).with_name("us_lesion_cnn.onnx")

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def network_input(work: WorkImage) -> tuple[npt.NDArray[np.float32], tuple[int, int]]:
    """The network's input (padded to ``MULTIPLE``) and the unpadded size, from a working image."""
    factor = WORK_MM / CNN_MM
    shape = (
        max(MULTIPLE, round(work.smooth.shape[0] * factor)),
        max(MULTIPLE, round(work.smooth.shape[1] * factor)),
    )
    zoom = (shape[0] / work.smooth.shape[0], shape[1] / work.smooth.shape[1])
    averaged = ndi.uniform_filter(work.smooth, size=max(1, round(1 / factor)))
    small = ndi.zoom(averaged, zoom, order=1, mode="nearest", grid_mode=True)
    ok = ndi.zoom(work.valid.astype(np.float64), zoom, order=1, mode="nearest", grid_mode=True) > 0.5
    values = small[ok] if ok.sum() >= 16 else small.ravel()
    x = (small - float(values.mean())) / max(float(values.std()), 1.0)
    pad = ((0, -shape[0] % MULTIPLE), (0, -shape[1] % MULTIPLE))
    return np.pad(x, pad, mode="reflect").astype(np.float32), shape


def to_work(prob: FloatArray, shape: tuple[int, int], work_shape: tuple[int, int]) -> FloatArray:
    """A probability map at the network's grid (padding cut to ``shape``) on the working grid."""
    cut = prob[: shape[0], : shape[1]]
    zoom = (work_shape[0] / shape[0], work_shape[1] / shape[1])
    out = ndi.zoom(cut, zoom, order=1, mode="nearest", grid_mode=True)[: work_shape[0], : work_shape[1]]
    return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)


def _session() -> Any:
    """The onnxruntime session (loaded once per process), or None when it cannot be."""
    with _LOCK:
        if "session" in _STATE:
            return _STATE["session"]
        session, reason = None, ""
        try:
            ort = importlib.import_module("onnxruntime")
        except ImportError:
            reason = "onnxruntime is not installed"
        else:
            if not US_CNN_FILE.is_file():
                reason = f"the network file {US_CNN_FILE.name} is missing"
            else:
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                try:
                    session = ort.InferenceSession(
                        str(US_CNN_FILE), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as error:  # any load failure means "classical only"
                    reason = f"the network could not be loaded ({type(error).__name__})"
        if reason:
            LOGGER.warning("ultrasound lesion network unavailable: %s; classical detector only", reason)
        _STATE["session"], _STATE["reason"] = session, reason
        return session


def unavailable() -> str:
    """Why the network cannot run here ("" when it can)."""
    _session()
    return str(_STATE.get("reason", ""))


def lesion_map(work: WorkImage) -> FloatArray | None:
    """Lesion probability of each working-grid pixel, or None when the network is unavailable."""
    session = _session()
    if session is None:
        return None
    x, shape = network_input(work)
    name = session.get_inputs()[0].name
    out = session.run(None, {name: x[None, None]})[0]
    prob = np.asarray(out, dtype=np.float64).reshape(x.shape)
    return to_work(prob, shape, (int(work.smooth.shape[0]), int(work.smooth.shape[1])))


#: The candidate features read from the map (:func:`map_features`).
CNN_FEATURES = ("cnn_mean", "cnn_max", "cnn_iou", "cnn_out")
#: Levels whose connected components of the map are candidates (:func:`map_regions`).
MAP_LEVELS = (0.3, 0.5, 0.7)
#: The band outside a candidate that ``cnn_out`` averages over (working pixels).
OUT_BAND = (1.0, 8.0)


def map_regions(prob: FloatArray, valid: npt.NDArray[np.bool_], min_area: float) -> list[Region]:
    """Connected components of the map at ``MAP_LEVELS`` (holes filled, valid pixels only), of at
    least ``min_area`` and at most half the image (working pixels)."""
    out: list[Region] = []
    for level in MAP_LEVELS:
        labels, _ = ndi.label((prob >= level) & valid)
        for index, box in enumerate(ndi.find_objects(labels), start=1):
            if box is None:
                continue
            mask = ndi.binary_fill_holes(labels[box] == index)
            if min_area <= mask.sum() <= 0.5 * prob.size:
                out.append(Region(np.asarray(mask, bool), box[0].start, box[1].start, "cnn", level))
    return out


def blobs(prob: FloatArray) -> tuple[npt.NDArray[np.int_], npt.NDArray[np.int_]]:
    """The map's components above one half (labels) and their areas (index = label)."""
    labels, count = ndi.label(prob >= 0.5)
    return labels, np.bincount(labels.ravel(), minlength=count + 1)


def map_features(
    prob: FloatArray, found: tuple[npt.NDArray[np.int_], npt.NDArray[np.int_]], region: Region
) -> dict[str, float]:
    """The map inside and around one candidate: mean and maximum inside (``cnn_mean``,
    ``cnn_max``), IoU with the map's components above one half that it touches (``cnn_iou``;
    ``found``: :func:`blobs`) and the mean over a band ``OUT_BAND`` outside it (``cnn_out``)."""
    h, w = region.mask.shape
    pad = int(OUT_BAND[1]) + 1
    r0, c0 = max(0, region.r0 - pad), max(0, region.c0 - pad)
    r1, c1 = min(prob.shape[0], region.r0 + h + pad), min(prob.shape[1], region.c0 + w + pad)
    window = prob[r0:r1, c0:c1]
    mask = np.zeros(window.shape, bool)
    mask[region.r0 - r0 : region.r0 - r0 + h, region.c0 - c0 : region.c0 - c0 + w] = region.mask
    inside = window[mask]
    distance = ndi.distance_transform_edt(~mask)
    band = (distance > OUT_BAND[0]) & (distance <= OUT_BAND[1])
    labels, sizes = found
    inner = labels[r0:r1, c0:c1][mask]
    touched = np.unique(inner[inner > 0])
    iou = 0.0
    if touched.size:
        # Pixels of a touched component outside the window count in its area (``sizes``).
        inter = float(np.isin(inner, touched).sum())
        iou = inter / float(sizes[touched].sum() + mask.sum() - inter)
    return {
        "cnn_mean": float(inside.mean()),
        "cnn_max": float(inside.max()),
        "cnn_iou": iou,
        "cnn_out": float(window[band].mean()) if band.any() else 0.0,
    }
