"""The calcification detector's clutter-adaptive peak threshold (dark spots count false bright ones)."""

from __future__ import annotations

import numpy as np

from breastgate.algorithms.calcifications import PEAK_SNR, PEAK_SNR_MIN, _peak_threshold

PX = 0.1  # mm; 1000 × 1000 pixels = 100 cm² of breast


def _dark_spots(snr: np.ndarray, depths: list[float]) -> None:
    for k, depth in enumerate(depths):
        r, c = 50 + 40 * (k // 20), 50 + 40 * (k % 20)
        snr[r : r + 2, c : c + 2] = -depth


def test_quiet_image_goes_down_to_the_minimum() -> None:
    snr = np.zeros((1000, 1000), np.float32)
    inner = np.ones_like(snr, dtype=bool)
    _dark_spots(snr, [4.0] * 30)  # below every candidate threshold
    assert _peak_threshold(snr, inner, PX) == PEAK_SNR_MIN


def test_cluttered_image_keeps_the_fixed_threshold() -> None:
    snr = np.zeros((1000, 1000), np.float32)
    inner = np.ones_like(snr, dtype=bool)
    _dark_spots(snr, [8.0] * 30)  # 0.3 per cm², far over the allowed 0.02
    assert _peak_threshold(snr, inner, PX) == PEAK_SNR


def test_threshold_lets_through_the_allowed_number_of_dark_spots() -> None:
    snr = np.zeros((1000, 1000), np.float32)
    inner = np.ones_like(snr, dtype=bool)
    _dark_spots(snr, [6.2, 6.0, 5.8, 5.6, 5.4])  # 100 cm² allows 2 spots above the threshold
    level = _peak_threshold(snr, inner, PX)
    assert level == np.float32(5.8)
    depths = [6.2, 6.0, 5.8, 5.6, 5.4]
    assert sum(d > level for d in depths) == 2


def test_kernels_stay_representable_and_apart_on_coarse_pixels() -> None:
    from breastgate.algorithms.calcifications import _scales

    for px in (0.05, 0.1, 0.2, 0.5, 1.0):
        signal, background = _scales(px)
        assert signal >= 0.5 and background >= 1.5 * signal - 1e-9
    assert np.allclose(_scales(0.05), (1.0, 3.0))  # fine pixels: the mm scales themselves


def test_cluster_score_grows_with_evidence() -> None:
    from breastgate.algorithms.calcifications import MODEL, score_cluster

    assert all(w > 0 for w in MODEL.weights)
    faint = {
        "core_score": 0.0,
        "log_count": 1.1,
        "log_strong": 0.0,
        "top3_snr": 5.0,
        "log_excess": 1.2,
        "skin_mm": 30.0,
    }
    florid = {
        "core_score": 0.0,
        "log_count": 2.5,
        "log_strong": 2.5,
        "top3_snr": 10.0,
        "log_excess": 2.8,
        "skin_mm": 30.0,
    }
    at_edge = {**florid, "skin_mm": 4.0}
    assert score_cluster(faint) < MODEL.threshold < score_cluster(florid)
    assert score_cluster(at_edge) < score_cluster(florid)
    # A core of strong calcifications keeps its rule-based score whatever the model says.
    assert score_cluster({**at_edge, "core_score": 0.9}) == 0.9
