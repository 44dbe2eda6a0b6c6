"""DCE-MRI phantom: truth consistent with the physics, determinism, forms holding the same voxels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from breastgate.phantoms import DceLesionRequest, generate_dce_study
from breastgate.phantoms.dce_physics import Sequence, classify_curve, spgr, tofts_table
from breastgate.phantoms.errors import PhantomError
from breastgate.phantoms.mri import lesion_mask, plan_dce_study
from breastgate.phantoms.mri_truth import clock_hour

SMALL = (64, 64, 12)


def volume(datasets: list[pydicom.Dataset]) -> np.ndarray:
    """(phase, slice, row, col) voxels of a study in any form."""
    if len(datasets) == 1:
        ds = datasets[0]
        n = int(ds.NumberOfTemporalPositions) if "NumberOfTemporalPositions" in ds else None
        frames = ds.pixel_array
        index = [
            (
                int(f.FrameContentSequence[0].TemporalPositionIndex),
                int(f.FrameContentSequence[0].InStackPositionNumber),
            )
            for f in ds.PerFrameFunctionalGroupsSequence
        ]
        phases = n or max(p for p, _ in index)
        out = np.zeros((phases, len(frames) // phases, *frames.shape[1:]), dtype=frames.dtype)
        for frame, (p, k) in zip(frames, index, strict=True):
            out[p - 1, k - 1] = frame
        return out
    by = {}
    for ds in datasets:
        z = float(ds.ImagePositionPatient[2])
        by[(int(ds.TemporalPositionIdentifier), z)] = ds.pixel_array
    phases = sorted({p for p, _ in by})
    zs = sorted({z for _, z in by})
    return np.stack([np.stack([by[(p, z)] for z in zs]) for p in phases])


def test_reference_curve_types_are_reproduced() -> None:
    """algorithms.md §3.5: Tofts (v_p 0), TR 5 ms, FA 15°, T10 1 s; PE at 120 s and change to 420 s."""
    table = tofts_table(np.array([-60.0, 120.0, 420.0]), 0.0)
    seq = Sequence(5.0, 2.0, 15.0, 1.5)
    expected = [(0.03, 0.5, 43, 18.6, "I"), (0.2, 0.6, 168, -6.9, "II"), (0.3, 0.6, 198, -17.9, "III")]
    for ktrans, ve, pe, delta, curve in expected:
        conc = np.array(
            [table.concentration(p, np.array(ktrans), np.array(ktrans / ve), np.array(0.0)) for p in range(3)]
        )
        c = classify_curve(spgr(1.0, 1.0, conc, seq))
        assert c.initial_pct == pytest.approx(pe, abs=1.0)
        assert c.delayed_pct == pytest.approx(delta, abs=0.3)
        assert c.curve_type == curve


@pytest.mark.parametrize("curve", ["I", "II", "III"])
def test_lesion_truth_is_recomputed_from_its_noise_free_curve(curve: str) -> None:
    request = DceLesionRequest(curve_type=curve, diameter_mm=14.0, heterogeneous=False)
    plan = plan_dce_study(11, size=SMALL, lesions=[request])
    study = generate_dce_study(11, size=SMALL, lesions=[request])
    (truth,) = study.truth["lesions"]
    (lesion,) = plan.lesions
    recomputed = classify_curve(lesion.curves(plan.table, plan.sequence)["mean"])
    assert (truth["curve_type"], truth["initial_phase"], truth["delayed_phase"]) == (
        recomputed.curve_type,
        recomputed.initial_phase,
        recomputed.delayed_phase,
    )
    assert truth["curve_type"] == curve  # drawn for the request, with a margin from the boundaries
    assert abs(abs(truth["delayed_change_pct"]) - 10) >= 3


def test_the_rendered_lesion_enhances_like_its_truth() -> None:
    """Mean of the voxels at the lesion's core in the (noisy, moving) image has the truth's curve type."""
    request = DceLesionRequest(curve_type="III", diameter_mm=24.0, heterogeneous=False, laterality="L")
    study = generate_dce_study(4, size=(128, 128, 40), lesions=[request])
    vol = volume(study.datasets).astype(float)
    (truth,) = study.truth["lesions"]
    k, r, c = (round(v) for v in truth["voxel_ksr"])
    roi = vol[:, k - 1 : k + 2, r - 1 : r + 2, c - 1 : c + 2].mean(axis=(1, 2, 3))
    assert classify_curve(roi).curve_type == "III"
    assert truth["laterality"] == "L" and truth["patient_mm"][0] > 0


def test_clock_is_read_facing_the_patient() -> None:
    nipple = [50.0, -100.0, 0.0]
    assert clock_hour(nipple, [50.0, -90.0, 20.0]) == 12
    assert clock_hour(nipple, [70.0, -90.0, 0.0]) == 3  # towards the patient's left, either breast
    assert clock_hour(nipple, [30.0, -90.0, 0.0]) == 9
    assert clock_hour(nipple, [50.0, -90.0, -20.0]) == 6
    assert clock_hour(nipple, [-50.0, -90.0, 0.0]) == 9


def test_lesion_clock_and_laterality_match_positions() -> None:
    study = generate_dce_study(21, size=SMALL, lesions=3)
    nipples = {b["laterality"]: b["nipple_mm"] for b in study.truth["breasts"]}
    assert nipples["L"][0] > 0 > nipples["R"][0]
    for lesion in study.truth["lesions"]:
        assert (lesion["patient_mm"][0] > 0) == (lesion["laterality"] == "L")
        assert lesion["clock"] == clock_hour(nipples[lesion["laterality"]], lesion["patient_mm"])
        assert lesion["diameters_mm"][0] >= lesion["diameters_mm"][1] >= lesion["diameters_mm"][2] > 0


def test_a_seed_is_deterministic_and_seeds_differ() -> None:
    a = generate_dce_study(5, size=SMALL)
    b = generate_dce_study(5, size=SMALL)
    c = generate_dce_study(6, size=SMALL)
    assert a.truth == b.truth
    assert [ds.SOPInstanceUID for ds in a.datasets] == [ds.SOPInstanceUID for ds in b.datasets]
    assert all(x.PixelData == y.PixelData for x, y in zip(a.datasets, b.datasets, strict=True))
    assert a.truth["study_instance_uid"] != c.truth["study_instance_uid"]
    assert not np.array_equal(volume(a.datasets), volume(c.datasets))


def test_the_forms_hold_the_same_voxels() -> None:
    vols = [
        volume(generate_dce_study(8, size=SMALL, phases=5, form=f).datasets)
        for f in ("series-per-phase", "multiphase", "enhanced")
    ]
    assert vols[0].shape == (5, 12, 64, 64)
    assert np.array_equal(vols[0], vols[1])
    assert np.array_equal(vols[0], vols[2])


def test_series_per_phase_headers() -> None:
    study = generate_dce_study(2, size=SMALL, phases=4)
    series = {}
    for ds in study.datasets:
        series.setdefault(ds.SeriesInstanceUID, set()).add(str(ds.SeriesDescription))
    assert sorted(d for s in series.values() for d in s) == ["DYN_POST1", "DYN_POST2", "DYN_POST3", "DYN_PRE"]
    assert len({ds.FrameOfReferenceUID for ds in study.datasets}) == 1
    assert {str(ds.NumberOfTemporalPositions) for ds in study.datasets} == {"4"}
    assert study.truth["phases"]["times_s"][0] < 0 < study.truth["phases"]["times_s"][1]


def test_prior_is_the_same_woman_elsewhere_in_the_magnet() -> None:
    current = generate_dce_study(30, size=SMALL, lesions=3)
    prior = generate_dce_study(31, size=SMALL, lesions=3, prior_of=30)
    assert prior.datasets[0].PatientID == current.datasets[0].PatientID
    assert prior.datasets[0].FrameOfReferenceUID != current.datasets[0].FrameOfReferenceUID
    assert int(prior.datasets[0].StudyDate) < int(current.datasets[0].StudyDate)
    links = prior.truth["prior"]["lesion_links"]
    assert [link["current_id"] for link in links] == [les["id"] for les in current.truth["lesions"]]
    by_id = {les["id"]: les for les in prior.truth["lesions"]}
    shift = np.subtract(
        prior.truth["geometry"]["positioning_offset_mm"], current.truth["geometry"]["positioning_offset_mm"]
    )
    assert 1.9 <= float(np.linalg.norm(shift)) <= 6.1
    for link, now in zip(links, current.truth["lesions"], strict=True):
        if link["prior_id"] is None:
            assert link["change"] == "new"
            continue
        before = by_id[link["prior_id"]]
        moved = np.subtract(before["patient_mm"], now["patient_mm"])
        assert np.allclose(moved, shift, atol=0.05 if link["change"] == "stable" else 3.0)
        ratio = before["volume_mm3"] / now["volume_mm3"]
        assert (ratio < 0.6) if link["change"] == "increased" else ratio == pytest.approx(1, abs=0.02)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(PhantomError, match="form"):
        generate_dce_study(1, form="mosaic")
    with pytest.raises(PhantomError, match="phases"):
        generate_dce_study(1, phases=12)
    with pytest.raises(PhantomError, match="curve_type"):
        DceLesionRequest(curve_type="IV")


def test_a_heterogeneous_lesion_reports_its_worst_part() -> None:
    request = DceLesionRequest(curve_type="III", diameter_mm=20.0, laterality="R", heterogeneous=True)
    plan = plan_dce_study(13, size=SMALL, lesions=[request])
    (truth,) = generate_dce_study(13, size=SMALL, lesions=[request]).truth["lesions"]
    assert truth["heterogeneous"] is True
    parts = truth["components"]
    assert parts["rim"]["curve_type"] == "III"
    assert parts["core"]["curve_type"] == "I"
    assert truth["curve_type"] == "III"
    curves = plan.lesions[0].curves(plan.table, plan.sequence)
    assert classify_curve(curves["rim"]).delayed_phase == truth["delayed_phase"] == "washout"


def test_lesion_mask_matches_the_truth_volume_and_centre() -> None:
    request = DceLesionRequest(curve_type="II", diameter_mm=22.0, heterogeneous=False)
    plan = plan_dce_study(17, size=(128, 128, 40), lesions=[request])
    (truth,) = generate_dce_study(17, size=(128, 128, 40), lesions=[request]).truth["lesions"]
    mask = lesion_mask(plan) == 1
    g = plan.geometry
    voxel_mm3 = g.pixel_mm * g.pixel_mm * g.slice_mm
    assert mask.sum() * voxel_mm3 == pytest.approx(truth["volume_mm3"], rel=0.35)
    centre = np.argwhere(mask).mean(axis=0)
    assert np.allclose(centre, truth["voxel_ksr"], atol=1.0)


def test_foci_are_small_enhancing_distractors_apart_from_lesions() -> None:
    seen = 0
    for seed in range(4):
        truth = generate_dce_study(seed, size=SMALL, phases=4).truth
        for focus in truth["foci"]:
            seen += 1
            assert focus["id"].startswith("F") and focus["diameter_mm"] < 6.0
            assert focus["curve_type"] in ("I", "II", "III")
            for lesion in truth["lesions"]:
                gap = np.linalg.norm(np.subtract(focus["patient_mm"], lesion["patient_mm"]))
                assert gap > lesion["diameters_mm"][0] / 2
    assert seen > 0


def test_lesions_are_not_the_only_enhancing_voxels() -> None:
    """Heart, vessels, foci, nipples, muscle and BPE enhance too: most voxels that gain > 50 % at the
    first post-contrast phase lie outside the lesions."""
    plan = plan_dce_study(9, size=(96, 96, 24), lesions=2)
    vol = volume(generate_dce_study(9, size=(96, 96, 24), lesions=2).datasets).astype(float)
    pre, first = vol[0], vol[1]
    bright = (pre > np.percentile(pre, 60)) & (first > 1.5 * pre)
    lesion = lesion_mask(plan) > 0
    assert (bright & lesion).sum() > 0
    assert (bright & ~lesion).sum() > 2 * (bright & lesion).sum()


def test_truth_of_a_heterogeneous_lesion_is_plain_json(tmp_path: Path) -> None:
    """Regression: numpy scalars (a rim's ``enhancing`` flag) once broke writing truth.json."""
    from breastgate.phantoms.mri import write_dce_phantoms
    from breastgate.phantoms.mri_truth import dce_truth

    plan = plan_dce_study(5004, size=(64, 64, 16), lesions=[DceLesionRequest(heterogeneous=True)])
    json.dumps(dce_truth(plan))  # no default=: every value must be a JSON type
    (folder,) = write_dce_phantoms(tmp_path, 1, 5004, size=(64, 64, 16))
    assert json.loads((folder / "truth.json").read_text())["lesions"]
