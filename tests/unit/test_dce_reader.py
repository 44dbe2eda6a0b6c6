"""Reading the dynamic series as sites send it: phases ordered, slices sorted, other series left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from breastgate.imaging.dce import DceError, read_dce
from breastgate.pipeline.offline import collect_studies
from tests.support.dce import Phantom, classic_datasets, enhanced_dataset, t2_series, write

PHANTOM = Phantom(shape=(8, 48, 64), spacing=(3.0, 4.0, 4.0), origin=(-126.0, -60.0, -10.5), heart=False)


def _read(tmp_path: Path, datasets: list) -> object:
    write(datasets, tmp_path)
    studies, unreadable = collect_studies(tmp_path)
    assert unreadable == 0 and len(studies) == 1
    return read_dce(studies[0].instances)


def _assert_phases_in_order(series: object) -> None:
    expected = PHANTOM.phases()
    assert series.phases == len(expected)  # type: ignore[attr-defined]
    for p, pixels in enumerate(expected):
        np.testing.assert_array_equal(series.pixels[p], pixels)  # type: ignore[attr-defined]


@pytest.mark.parametrize("form", ["series-per-phase", "multiphase"])
def test_classic_forms_are_ordered_by_temporal_position(tmp_path: Path, form: str) -> None:
    series = _read(tmp_path, classic_datasets(PHANTOM, form))
    _assert_phases_in_order(series)
    assert series.form == form and series.order_key == "temporal_position"  # type: ignore[attr-defined]
    assert series.times_s == pytest.approx((0, 90, 180, 270, 360, 450))  # type: ignore[attr-defined]
    assert series.grid.spacing == pytest.approx((3.0, 4.0, 4.0))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("keys", "order_key"),
    [(("TriggerTime",), "trigger_time"), (("AcquisitionTime",), "acquisition_time"), ((), "instance_number")],
)
def test_without_temporal_position_identifier_falls_back(
    tmp_path: Path, keys: tuple[str, ...], order_key: str
) -> None:
    series = _read(tmp_path, classic_datasets(PHANTOM, "multiphase", keys=keys))
    _assert_phases_in_order(series)
    assert series.order_key == order_key  # type: ignore[attr-defined]


def test_shuffled_series_per_phase_without_identifier_uses_trigger_time(tmp_path: Path) -> None:
    datasets = classic_datasets(PHANTOM, "series-per-phase", keys=("TriggerTime",))
    datasets.reverse()  # file order (and so series order) says nothing
    series = _read(tmp_path, datasets)
    _assert_phases_in_order(series)


@pytest.mark.parametrize("dimension_only", [False, True])
def test_enhanced_mr_frames_are_sorted_by_temporal_index_and_position(
    tmp_path: Path, dimension_only: bool
) -> None:
    series = _read(tmp_path, [enhanced_dataset(PHANTOM, dimension_only=dimension_only)])
    _assert_phases_in_order(series)
    assert series.form == "enhanced"  # type: ignore[attr-defined]
    assert sorted(series.slice_frames) != list(series.slice_frames)  # frames were shuffled  # type: ignore[attr-defined]
    assert len(set(series.slice_frames)) == PHANTOM.shape[0]  # type: ignore[attr-defined]


def test_a_t2_series_is_left_out_with_its_reason(tmp_path: Path) -> None:
    datasets = classic_datasets(PHANTOM, "series-per-phase")
    t2 = t2_series(PHANTOM, datasets[0].StudyInstanceUID)
    series = _read(tmp_path, datasets + t2)
    _assert_phases_in_order(series)
    reasons = dict(series.ignored)  # type: ignore[attr-defined]
    assert "not part of the dynamic series" in reasons[t2[0].SeriesInstanceUID]


def test_a_study_without_a_dynamic_series_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    datasets = classic_datasets(PHANTOM, "series-per-phase")
    t2 = t2_series(PHANTOM, datasets[0].StudyInstanceUID)
    with pytest.raises(DceError, match=r"no dynamic MR series.*1 phase"):
        _read(tmp_path, t2)


@pytest.mark.parametrize(
    ("bolus", "injection", "early"), [("100130", 90.0, 2), ("100015", 15.0, 1), (None, None, 1)]
)
def test_contrast_bolus_start_time_places_the_early_phase(
    tmp_path: Path, bolus: str | None, injection: float | None, early: int
) -> None:
    """Phases start every 90 s from 10:00:00; with the injection at 10:01:30 the first post-contrast
    phase is centred 45 s after it, too early for the initial phase: the second (135 s) is read.
    Injected at 10:00:15, the first is centred at 120 s; without Contrast/Bolus Start Time, the
    first post-contrast phase."""
    from breastgate.algorithms._dce_maps import early_phase_index

    datasets = classic_datasets(PHANTOM, "series-per-phase")
    if bolus is not None:
        for ds in datasets:
            if ds.SeriesDescription != "DCE phase 0":
                ds.ContrastBolusStartTime = bolus
    series = _read(tmp_path, datasets)
    assert series.injection_s == (None if injection is None else pytest.approx(injection))  # type: ignore[attr-defined]
    assert early_phase_index(series) == early  # type: ignore[arg-type]


def test_a_first_phase_taken_before_the_bolus_arrives_is_not_the_early_phase() -> None:
    """No Contrast/Bolus Start Time; 70 s phases (centred 35 s after their start). The injection
    is estimated from the images: 15 s before the tissue's enhancement crosses 20 % of its largest
    (interpolated between phase centres).

    - The first post-contrast phase holds no enhancement yet (the injection came late): the
      contrast arrives between its centre (105 s) and the second's (175 s), the injection is
      placed at about 103 s and the second phase, centred 72 s after it, is the early phase.
    - The first phase already enhances to 3/4 of the peak: the injection is placed at about 39 s;
      the first phase is centred 66 s after it, the second 136 s, nearer the 105 s aimed at.
    - Tissue that barely enhances (noise) gives no estimate: the first post-contrast phase."""
    import numpy as np

    from breastgate.algorithms._dce_maps import early_phase_index
    from breastgate.imaging.dce import DceSeries, Grid

    rng = np.random.default_rng(1)
    base = np.zeros((4, 32, 32))
    base[:, 8:24, 8:24] = 1000.0  # tissue in air

    def series(rises: list[float]) -> DceSeries:
        phases = np.stack([base * (1.0 + r / 100.0) + rng.normal(0, 5, base.shape) for r in rises])
        n = len(rises)
        return DceSeries(
            pixels=np.clip(phases, 0, None).astype(np.uint16),
            slopes=np.ones((n, 4)),
            intercepts=np.zeros((n, 4)),
            grid=Grid(
                (0.0, 0.0, 0.0),
                (1.0, 0.0, 0.0),
                (0.0, 1.0, 0.0),
                (0.0, 0.0, 1.0),
                (3.0, 2.0, 2.0),
                (4, 32, 32),
            ),
            times_s=tuple(70.0 * i for i in range(n)),
            order_key="temporal",
            series_instance_uids=("1",),
            sop_instance_uids=(),
            slice_uids=(),
            slice_frames=(),
            frame_of_reference_uid="1",
            form="series-per-phase",
        )

    assert early_phase_index(series([0.0, 1.0, 40.0, 38.0, 35.0])) == 2
    assert early_phase_index(series([0.0, 30.0, 40.0, 38.0, 35.0])) == 2
    assert early_phase_index(series([0.0, 0.1, 0.5, 0.2, 0.4])) == 1
