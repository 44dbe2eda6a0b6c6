"""Phantom women (issue 19): one lesion placed consistently in MG, US and MRI, unrelated ones apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from breastgate.phantoms import DceLesionRequest, LesionRequest, UsLesionRequest
from breastgate.phantoms.mg import generate_mg_study
from breastgate.phantoms.mri import generate_dce_study
from breastgate.phantoms.us import generate_us_study
from breastgate.phantoms.woman import MRI_DAY, US_DAY, PhantomWoman, Spot, apart, clock_gap, generate_woman

SMALL_MRI = (64, 64, 16)


@pytest.fixture(scope="module")
def woman() -> Iterator[PhantomWoman]:
    with generate_woman(3, mri_size=SMALL_MRI) as w:
        yield w


def test_mg_lesion_placed_by_clock_and_distance() -> None:
    requests = [
        LesionRequest(
            kind="mass", size_mm=12, laterality="R", clock=3, distance_from_nipple_mm=40, radial_mm=20
        ),
        LesionRequest(
            kind="mass", size_mm=12, laterality="L", clock=3, distance_from_nipple_mm=40, radial_mm=20
        ),
    ]
    with generate_mg_study(5, lesions=requests) as study:
        right, left = study.truth["lesions"]
    assert (right["clock"], left["clock"]) == (3, 3)
    assert right["distance_from_nipple_mm"] == pytest.approx(40.0, abs=0.1)
    assert right["radial_mm"] == pytest.approx(20.0, abs=0.1)
    # 3 o'clock is medial in the right breast, lateral in the left: rows grow medially on CC views.
    cc = {
        lesion["laterality"]: next(v for v in lesion["views"] if v["view"] == "CC")
        for lesion in (right, left)
    }
    assert cc["R"]["centre"][1] - cc["L"]["centre"][1] > 300  # 2 × 20 mm apart at 0.1 mm or so


def test_mg_clock_request_too_deep_is_pulled_inside_and_recorded() -> None:
    req = LesionRequest(kind="mass", size_mm=10, laterality="L", clock=12, distance_from_nipple_mm=400)
    with generate_mg_study(6, lesions=[req]) as study:
        (lesion,) = study.truth["lesions"]
    assert lesion["distance_from_nipple_mm"] < 400 * 0.5
    assert lesion["clock"] == 12


def test_mri_lesion_placed_by_clock_and_distance() -> None:
    requests = [
        DceLesionRequest(diameter_mm=10, laterality="R", clock=9, distance_from_nipple_mm=35, radial_mm=15),
        DceLesionRequest(diameter_mm=10, laterality="L", clock=2, distance_from_nipple_mm=35, radial_mm=15),
    ]
    with generate_dce_study(4, size=SMALL_MRI, phases=4, lesions=requests) as study:
        right, left = study.truth["lesions"]
    assert clock_gap(right["clock"], 9) <= 1 and clock_gap(left["clock"], 2) <= 1
    for lesion in (right, left):
        assert lesion["distance_from_nipple_mm"] == pytest.approx(35.0, rel=0.15)
    # 9 o'clock faces the patient's right: the right breast's lesion lies right (-x, LPS) of its nipple.
    nipple_r = next(b["nipple_mm"] for b in study.truth["breasts"] if b["laterality"] == "R")
    assert right["patient_mm"][0] < nipple_r[0] - 8


def test_mri_clock_must_be_an_hour() -> None:
    with pytest.raises(ValueError, match="clock"):
        DceLesionRequest(clock=13)


def test_us_locations_and_lesions_given_per_image() -> None:
    study = generate_us_study(
        2,
        images=2,
        laterality="L",
        image_locations=[(4, 3), (10, 6)],
        image_lesions=[[UsLesionRequest(width_mm=14)], [UsLesionRequest(width_mm=9)]],
        location="structured",
        dual=False,
    )
    images = study.truth["images"]
    assert [
        (i["laterality"], i["location"]["clock"], i["location"]["distance_from_nipple_mm"]) for i in images
    ] == [
        ("L", 4, 30.0),
        ("L", 10, 60.0),
    ]
    assert [[round(x["width_mm"]) for x in i["lesions"]] for i in images] == [[14], [9]]


def test_us_given_locations_keep_the_rest_of_the_study() -> None:
    plain = generate_us_study(8, images=2, location="structured")
    given = generate_us_study(8, images=2, location="structured", image_locations=[None, (5, 2)])
    assert plain.truth["images"][0]["location"] == given.truth["images"][0]["location"]
    assert plain.truth["images"][1]["lesions"] == given.truth["images"][1]["lesions"]
    assert given.truth["images"][1]["location"]["clock"] == 5


def test_woman_true_lesion_is_one_place_in_three_studies(woman: PhantomWoman) -> None:
    lesion = woman.truth["lesion"]
    planned = lesion["planned"]
    entries = [lesion[m] for m in ("MG", "US", "MR")]
    assert all(e["lesion_id"] for e in entries)
    assert {e["laterality"] for e in entries} == {planned["laterality"]}
    assert lesion["MG"]["clock"] == lesion["US"]["clock"] == planned["clock"]
    assert clock_gap(lesion["MR"]["clock"], planned["clock"]) <= 1
    for e in entries:
        assert e["distance_from_nipple_mm"] == pytest.approx(planned["distance_from_nipple_mm"], abs=6.0)
        assert e["size_mm"] == pytest.approx(planned["size_mm"], rel=0.2)
    assert 8.0 <= planned["size_mm"] <= 25.0


def test_woman_unrelated_lesions_are_apart(woman: PhantomWoman) -> None:
    true = Spot(**_spot_args(woman.truth["lesion"]["planned"]))
    unrelated = {u["modality"]: Spot(**_spot_args(u["planned"])) for u in woman.truth["unrelated"]}
    assert sorted(unrelated) == ["MG", "MR", "US"]
    assert all(apart(s, true) for s in unrelated.values())
    spots = list(unrelated.values())
    assert all(apart(a, b, hours=4, further_mm=1e9) for i, a in enumerate(spots) for b in spots[i + 1 :])
    assert unrelated["US"].laterality == true.laterality  # an ultrasound study is of one breast
    ids = {u["modality"]: u["lesion_id"] for u in woman.truth["unrelated"]}
    assert (
        ids["MG"] != woman.truth["lesion"]["MG"]["lesion_id"]
        and ids["US"] != woman.truth["lesion"]["US"]["lesion_id"]
    )


def test_woman_is_one_patient_on_three_dates(woman: PhantomWoman) -> None:
    datasets = woman.mg.datasets + woman.us.datasets + woman.mri.datasets
    assert {str(ds.PatientID) for ds in datasets} == {woman.patient_id}
    assert len({str(ds.PatientName) for ds in datasets}) == 1
    dates = {
        m: dt.datetime.strptime(str(s.datasets[0].StudyDate), "%Y%m%d").date()
        for m, s in woman.studies.items()
    }
    assert (dates["US"] - dates["MG"]).days == US_DAY and (dates["MR"] - dates["MG"]).days == MRI_DAY
    uids = {m: s.study_instance_uid for m, s in woman.studies.items()}
    assert len(set(uids.values())) == 3
    assert {m: v["study_instance_uid"] for m, v in woman.truth["studies"].items()} == uids


def test_apart_rule() -> None:
    a = Spot("L", 2, 40.0, 20.0, 10.0)
    assert not apart(a, Spot("L", 4, 45.0, 20.0, 10.0))
    assert apart(a, Spot("R", 2, 40.0, 20.0, 10.0))
    assert apart(a, Spot("L", 11, 40.0, 20.0, 10.0))  # 3 hours across 12
    assert apart(a, Spot("L", 2, 70.0, 20.0, 10.0))


def _spot_args(planned: dict[str, object]) -> dict[str, object]:
    return {
        "laterality": planned["laterality"],
        "clock": planned["clock"],
        "distance_mm": planned["distance_from_nipple_mm"],
        "radial_mm": planned["radial_mm"],
        "size_mm": planned["size_mm"],
    }


def test_which_lesion_a_finding_shows(woman: PhantomWoman) -> None:
    true_mg = woman.truth["lesion"]["MG"]
    view = true_mg["views"][0]
    c0, r0, c1, r1 = view["bbox"]
    on = {"marks": [{"sop_instance_uid": view["sop_instance_uid"], "point": [(c0 + c1) / 2, (r0 + r1) / 2]}]}
    off = {"marks": [{"sop_instance_uid": view["sop_instance_uid"], "point": [c1 + 400, r1 + 400]}]}
    assert (woman.shows(on, "MG"), woman.shows(off, "MG")) == ("true", "")
    unrelated_us = next(u for u in woman.truth["unrelated"] if u["modality"] == "US")
    c0, r0, c1, r1 = unrelated_us["bbox_px"]
    mark = {"sop_instance_uid": unrelated_us["sop_instance_uid"], "point": [(c0 + c1) / 2, (r0 + r1) / 2]}
    assert woman.shows({"marks": [mark]}, "US") == "unrelated"
    true_mr = woman.truth["lesion"]["MR"]
    near = [v + 2.0 for v in true_mr["patient_mm"]]
    assert (
        woman.shows({"laterality": true_mr["laterality"], "location": {"patient_mm": near}}, "MR") == "true"
    )
    other = "L" if true_mr["laterality"] == "R" else "R"
    assert woman.shows({"laterality": other, "location": {"patient_mm": near}}, "MR") == ""
