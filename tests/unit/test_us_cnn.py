"""The ultrasound lesion network's map (shipped ONNX file) and the candidates and features read
from it, on synthetic speckle images made here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from breastgate.algorithms import _us_cnn
from breastgate.algorithms._us_candidates import Region, prepare
from breastgate.algorithms._us_cnn import (
    CNN_FEATURES,
    MULTIPLE,
    US_CNN_FILE,
    blobs,
    lesion_map,
    map_features,
    map_regions,
    network_input,
    to_work,
    unavailable,
)
from breastgate.algorithms._us_lesions import analyse, find_lesions, thresholds, uses_network
from tests.unit.test_us_lesions import PIXEL_MM, speckle_image


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The network file missing (the session state reset before and after)."""
    monkeypatch.setattr(_us_cnn, "US_CNN_FILE", Path("/nonexistent/us_lesion_cnn.onnx"))
    monkeypatch.setattr(_us_cnn, "_STATE", {})
    yield


def test_shipped_file_is_small_and_loads() -> None:
    assert US_CNN_FILE.is_file() and US_CNN_FILE.stat().st_size < 2_000_000
    assert unavailable() == ""


def test_network_input_is_padded_and_standardised() -> None:
    work = prepare(speckle_image(3, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}]), None, PIXEL_MM)
    x, shape = network_input(work)
    assert x.dtype == np.float32 and x.shape[0] % MULTIPLE == 0 and x.shape[1] % MULTIPLE == 0
    assert x.shape[0] >= shape[0] and x.shape[1] >= shape[1]
    inner = x[: shape[0], : shape[1]]
    assert abs(float(inner.mean())) < 0.05 and abs(float(inner.std()) - 1.0) < 0.05


def test_to_work_restores_the_working_grid() -> None:
    prob = np.zeros((24, 32))
    prob[4:12, 8:16] = 1.0
    out = to_work(prob, (20, 30), (80, 120))
    assert out.shape == (80, 120) and out.min() >= 0.0 and out.max() <= 1.0
    assert out[32, 48] == 1.0 and out[70, 110] == 0.0


def test_map_marks_a_lesion_not_the_tissue() -> None:
    image = speckle_image(5, [{"x": 25.0, "y": 18.0, "a": 7.0, "b": 4.0, "echo": 0.25}])
    work = prepare(image, None, PIXEL_MM)
    prob = lesion_map(work)
    assert prob is not None and prob.shape == work.smooth.shape
    # Working grid 0.3 mm: the lesion's centre (25, 18) mm and tissue far from it.
    inside = prob[round(18 / 0.3) - 3 : round(18 / 0.3) + 4, round(25 / 0.3) - 5 : round(25 / 0.3) + 6]
    assert float(inside.mean()) > 0.5
    assert float(prob[round(34 / 0.3) :, :].mean()) < 0.2


def test_map_regions_and_features_of_a_known_map() -> None:
    prob = np.zeros((60, 80))
    prob[10:30, 20:50] = 0.9
    valid = np.ones(prob.shape, bool)
    regions = map_regions(prob, valid, 20.0)
    # One component per level (0.3, 0.5, 0.7), all the same box.
    assert len(regions) == 3 and all(r.family == "cnn" for r in regions)
    assert all((r.r0, r.c0, r.mask.shape) == (10, 20, (20, 30)) for r in regions)
    feats = map_features(prob, blobs(prob), regions[0])
    assert set(feats) == set(CNN_FEATURES)
    assert feats["cnn_mean"] == pytest.approx(0.9) and feats["cnn_iou"] == pytest.approx(1.0)
    assert feats["cnn_out"] == 0.0
    half = Region(np.ones((20, 15), bool), 10, 20, "level", 0.1)
    assert map_features(prob, blobs(prob), half)["cnn_iou"] == pytest.approx(0.5)
    outside = Region(np.ones((10, 10), bool), 45, 60, "level", 0.1)
    assert map_features(prob, blobs(prob), outside) == {
        "cnn_mean": 0.0, "cnn_max": 0.0, "cnn_iou": 0.0, "cnn_out": 0.0,
    }  # fmt: skip


def test_detector_ranks_with_the_network() -> None:
    image = speckle_image(1, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}])
    analysis = analyse(image, None, PIXEL_MM)
    assert analysis.network is not None and uses_network(analysis.features)
    assert any(r.family == "cnn" for r in analysis.regions)
    found = find_lesions(image, pixel_mm=PIXEL_MM)
    assert found and found[0].score >= thresholds(True)[0]
    col, row = found[0].centre
    assert abs(col * PIXEL_MM - 25.0) < 1.0 and abs(row * PIXEL_MM - 18.0) < 1.0


@pytest.mark.usefixtures("no_network")
def test_without_the_network_the_classical_detector_runs() -> None:
    assert "missing" in unavailable()
    image = speckle_image(1, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}])
    analysis = analyse(image, None, PIXEL_MM)
    assert analysis.network is None and not uses_network(analysis.features)
    assert all(r.family != "cnn" for r in analysis.regions)
    found = find_lesions(image, pixel_mm=PIXEL_MM)
    assert found and found[0].score >= thresholds(False)[0]


def test_the_session_is_loaded_once_and_runs_on_one_thread() -> None:
    # Speed itself is measured by bench/us_phantoms.py --speed, not here (no wall-clock asserts).
    image = speckle_image(2, [{"x": 25.0, "y": 18.0, "a": 6.0, "b": 3.5}])
    work = prepare(image, None, PIXEL_MM)
    first = lesion_map(work)
    session = _us_cnn._session()
    again = lesion_map(work)
    assert session is not None and _us_cnn._session() is session
    assert first is not None and again is not None and np.array_equal(first, again)
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1


@pytest.mark.usefixtures("no_network")
def test_the_algorithm_says_when_it_runs_without_the_network(tmp_path: Path) -> None:
    from breastgate.phantoms.us import generate_us_study
    from tests.unit.test_ultrasound import LESION, _run

    us = generate_us_study(
        41, images=1, lesions=[LESION], style="caps_clock", location="text", overlays=False, dual=False
    )
    result = _run(us, tmp_path)
    assert result.message.startswith("classical detector only: the network file")
    assert result.operating_threshold == thresholds(False)[0] != thresholds(True)[0]
    assert result.findings
