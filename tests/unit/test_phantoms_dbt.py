"""Tomosynthesis phantoms and the streaming frame reader: determinism, geometry, focus, truth, memory."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from breastgate.imaging import ImagingError, density_eligibility, frame_info, iter_frames
from breastgate.imaging.pixels import laterality_of, view_of
from breastgate.phantoms import (
    LesionRequest,
    PhantomError,
    PhantomStudy,
    generate_dbt_study,
    generate_mg_study,
    write_phantoms,
)
from breastgate.phantoms import dbt as dbt_module
from breastgate.phantoms.plan import plan_study

SEED, CATEGORY, VENDOR, PIXEL = 11, "c", "profile-b-100um", 0.4
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"
MG = "1.2.840.10008.5.1.4.1.1.1.2"
LESIONS = (
    LesionRequest("mass", shape="oval", size_mm=8.0, laterality="R"),
    LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="L"),
)


@pytest.fixture(scope="module")
def study() -> PhantomStudy:
    return generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=LESIONS)


@pytest.fixture(scope="module")
def plain() -> PhantomStudy:
    """The same study without lesions (and without synthesized views)."""
    return generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, synthesized_2d=False)


def _digest(study: PhantomStudy) -> list[str]:
    return [hashlib.sha256(ds.PixelData).hexdigest() for ds in study.datasets]


def _uids(study: PhantomStudy) -> set[str]:
    return {study.study_instance_uid} | {str(ds.SOPInstanceUID) for ds in study.datasets}


def _volume(study: PhantomStudy, sop: str) -> Dataset:
    return next(ds for ds in study.datasets if ds.SOPInstanceUID == sop)


def _views(study: PhantomStudy, kind: str, image: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [
        (lesion, view)
        for lesion in study.truth["lesions"]
        if lesion["kind"] == kind
        for view in lesion["views"]
        if view["image"] == image
    ]


def test_same_seed_same_pixels_uids_and_truth(study: PhantomStudy) -> None:
    again = generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=LESIONS)
    assert _digest(again) == _digest(study)
    assert [ds.SOPInstanceUID for ds in again.datasets] == [ds.SOPInstanceUID for ds in study.datasets]
    assert again.truth == study.truth
    other = generate_dbt_study(SEED + 1, category=CATEGORY, vendor=VENDOR, pixel_mm=1.0, synthesized_2d=False)
    assert not _uids(other) & _uids(study)


def test_uids_differ_from_the_ffdm_phantom_of_the_seed(study: PhantomStudy) -> None:
    mg = generate_mg_study(SEED, category=CATEGORY, vendor=VENDOR)
    assert not _uids(mg) & _uids(study)
    assert len(_uids(study)) == 1 + 8


def test_four_volumes_one_slice_per_mm(study: PhantomStudy) -> None:
    plan = plan_study(SEED, CATEGORY, VENDOR)
    volumes = study.datasets[:4]
    assert [ds.SOPClassUID for ds in volumes] == [BTO] * 4
    assert [(laterality_of(ds), view_of(ds)) for ds in volumes] == [
        ("R", "CC"),
        ("L", "CC"),
        ("R", "MLO"),
        ("L", "MLO"),
    ]
    for ds, summary in zip(volumes, study.truth["volumes"], strict=True):
        frames = int(ds.NumberOfFrames)
        assert frames == round(plan.thickness_mm[laterality_of(ds)]) == summary["frames"]
        assert 25 <= frames <= 85
        assert float(ds.XRay3DAcquisitionSequence[0].BodyPartThickness) == frames
        shared = ds.SharedFunctionalGroupsSequence[0]
        assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == [PIXEL, PIXEL]
        assert float(shared.PixelMeasuresSequence[0].SliceThickness) == 1.0
        # 0.1 mm detector field of view resampled: 3062 × 2394 at 0.1 mm → 766 × 598 at 0.4 mm.
        assert (ds.Rows, ds.Columns) == (766, 598)
        per_frame = ds.PerFrameFunctionalGroupsSequence
        assert len(per_frame) == frames
        positions = np.array(
            [[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in per_frame]
        )
        steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
        assert np.allclose(steps, 1.0, atol=1e-3)
        orientation = np.array([float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient])
        normal = np.cross(orientation[:3], orientation[3:])
        assert np.allclose(np.abs(np.diff(positions, axis=0) @ normal), 1.0, atol=1e-3)  # along the normal
        assert [f.FrameContentSequence[0].InStackPositionNumber for f in per_frame] == list(
            range(1, frames + 1)
        )
        assert ds.ImageType == ["DERIVED", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
        assert density_eligibility(ds) == "not a 2-D mammogram (Breast Tomosynthesis)"


def test_synthesized_2d_references_its_volume_and_looks_like_a_mammogram(study: PhantomStudy) -> None:
    volumes, flats = study.datasets[:4], study.datasets[4:]
    assert len(flats) == 4
    for volume, flat in zip(volumes, flats, strict=True):
        assert flat.SOPClassUID == MG
        assert list(flat.ImageType)[3] == "GENERATED_2D"
        source = flat.SourceImageSequence[0]
        assert (source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID) == (BTO, volume.SOPInstanceUID)
        assert (flat.Rows, flat.Columns) == (volume.Rows, volume.Columns)
        assert (laterality_of(flat), view_of(flat)) == (laterality_of(volume), view_of(volume))
        assert flat.FrameOfReferenceUID == volume.FrameOfReferenceUID
        assert (
            flat.StudyInstanceUID == volume.StudyInstanceUID
            and flat.SeriesInstanceUID != volume.SeriesInstanceUID
        )
        assert density_eligibility(flat) is None  # the 2-D algorithms accept it
        pixels = flat.pixel_array.astype(float)
        mid = pixels[int(np.argmax((pixels > 0).sum(axis=1)))]  # the breast's widest row
        wall, far = (mid[:10], mid[-10:]) if flat.ImageLaterality == "L" else (mid[-10:], mid[:10])
        assert wall.min() > 0 and far.max() == 0
        # Like the mean of its slices, and like the FFDM rendering of the same breast.
        mean = volume.pixel_array.astype(float).mean(axis=0)
        breast = pixels > 0
        assert np.corrcoef(pixels[breast], mean[breast])[0, 1] > 0.8
    absent = generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=1.5, synthesized_2d=False)
    assert [ds.SOPClassUID for ds in absent.datasets] == [BTO] * 4


def test_truth_complete(study: PhantomStudy) -> None:
    truth = study.truth
    assert truth["schema"] == "breastgate.phantom-truth/1" and truth["kind"] == "dbt"
    assert truth["study_instance_uid"] == study.study_instance_uid
    assert truth["seed"] == SEED and truth["vendor"] == VENDOR
    density = truth["density"]
    assert density["category"] == CATEGORY and set(density["per_breast"]) == {"L", "R"}
    assert sorted(i["image"] for i in density["per_image"]) == ["dbt"] * 4 + ["synthesized_2d"] * 4
    sops = {str(ds.SOPInstanceUID) for ds in study.datasets}
    assert {i["sop_instance_uid"] for i in density["per_image"]} == sops
    assert {(v["sop_instance_uid"], v["synthesized_sop_instance_uid"]) for v in truth["volumes"]} == {
        (str(a.SOPInstanceUID), str(b.SOPInstanceUID))
        for a, b in zip(study.datasets[:4], study.datasets[4:], strict=True)
    }
    assert len(truth["lesions"]) == 2 and truth["distractors"] == []
    for lesion in truth["lesions"]:
        assert {"id", "kind", "shape", "laterality", "size_mm", "distance_from_nipple_mm", "views"} <= set(
            lesion
        )
        assert sorted((v["view"], v["image"]) for v in lesion["views"]) == [
            ("CC", "dbt"),
            ("CC", "synthesized_2d"),
            ("MLO", "dbt"),
            ("MLO", "synthesized_2d"),
        ]
        for view in lesion["views"]:
            ds = _volume(study, view["sop_instance_uid"])
            c0, r0, c1, r1 = view["bbox"]
            assert c0 < view["centre"][0] < c1 and r0 < view["centre"][1] < r1
            assert c0 >= 0 and c1 <= ds.Columns and r0 >= 0 and r1 <= ds.Rows
            if view["image"] == "synthesized_2d":
                assert "frames" not in view and "focus_frame" not in view
                continue
            first, last = view["frames"]
            assert 1 <= first <= view["focus_frame"] <= last <= int(ds.NumberOfFrames)
            assert len(view["patient_mm"]) == 3
            twin = next(
                v for v in lesion["views"] if v["view"] == view["view"] and v["image"] == "synthesized_2d"
            )
            assert twin["centre"] == view["centre"] and twin["bbox"] == view["bbox"]
        if lesion["kind"] == "calcification_cluster":
            for view in (v for v in lesion["views"] if v["image"] == "dbt"):
                assert (
                    len(view["calcification_frames"])
                    == len(view["calcifications"])
                    == lesion["calcification_count"]
                )
                assert min(view["calcification_frames"]) == view["frames"][0]
    images = truth["positioning"]["images"]
    assert {i["sop_instance_uid"] for i in images} == {str(ds.SOPInstanceUID) for ds in study.datasets[4:]}
    json.dumps(truth)


def _contrast(volume: np.ndarray, frame: int, inner: np.ndarray, ring: np.ndarray) -> float:
    """Mean of the centre disc minus mean of the ring on 1-based ``frame``."""
    return float(volume[frame - 1][inner].mean() - volume[frame - 1][ring].mean())


def test_mass_in_focus_on_its_focus_frame(study: PhantomStudy, plain: PhantomStudy) -> None:
    """Local contrast (centre disc minus a surrounding ring) of the mass peaks on its focus frame and
    is clearly lower 5 slices away; measured on the lesion alone (volume minus the lesion-free
    volume of the seed, identical elsewhere) and, more loosely, on the volume itself."""
    for _, view in _views(study, "mass", "dbt"):
        with_mass = _volume(study, view["sop_instance_uid"]).pixel_array.astype(float)
        index = [ds.SOPInstanceUID for ds in study.datasets].index(view["sop_instance_uid"])
        without = plain.datasets[index].pixel_array.astype(float)
        c, r = view["centre"]
        c0, r0, c1, r1 = view["bbox"]
        radius = max(c1 - c0, r1 - r0) / 2
        yy, xx = np.mgrid[: with_mass.shape[1], : with_mass.shape[2]]
        d = np.hypot(xx + 0.5 - c, yy + 0.5 - r)
        inner, ring = d <= 0.5 * radius, (d >= 1.5 * radius) & (d <= 2.5 * radius)
        focus, n = view["focus_frame"], with_mass.shape[0]
        lesion_only = with_mass - without
        assert not lesion_only[:, d > 3 * radius + 40].any()  # the lesion changes nothing far from it
        own = [_contrast(lesion_only, k, inner, ring) for k in range(1, n + 1)]
        assert int(np.argmax(own)) + 1 == focus
        first, last = view["frames"]
        assert min(own[first - 1 : last]) > 0.5 * own[focus - 1]  # in focus on the slices it occupies
        for away in (focus - 5, focus + 5):
            if 1 <= away <= n:
                assert own[away - 1] < 0.6 * own[focus - 1]
                assert _contrast(with_mass, away, inner, ring) < _contrast(with_mass, focus, inner, ring)
        neighbours = [
            _contrast(with_mass, k, inner, ring) for k in range(max(focus - 2, 1), min(focus + 2, n) + 1)
        ]
        assert _contrast(with_mass, focus, inner, ring) >= 0.9 * max(neighbours)


def test_calcifications_sharp_on_their_own_frames(study: PhantomStudy, plain: PhantomStudy) -> None:
    views = _views(study, "calcification_cluster", "dbt")
    assert views
    for _, view in views:
        index = [ds.SOPInstanceUID for ds in study.datasets].index(view["sop_instance_uid"])
        lesion_only = study.datasets[index].pixel_array.astype(float) - plain.datasets[index].pixel_array
        peaks = [
            int(np.argmax(lesion_only[:, int(row), int(col)])) + 1
            for (col, row), frame in zip(view["calcifications"], view["calcification_frames"], strict=True)
        ]
        assert peaks == view["calcification_frames"]
        assert view["frames"] == [min(peaks), max(peaks)]


def test_iter_frames_matches_pixel_array(study: PhantomStudy, tmp_path: Path) -> None:
    ds = study.datasets[2]
    path = tmp_path / "R_MLO_DBT.dcm"
    ds.save_as(path, enforce_file_format=True)
    info = frame_info(path)
    assert (info.number_of_frames, info.rows, info.columns) == (int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    assert info.spacing_mm == (PIXEL, PIXEL) and info.slice_thickness_mm == 1.0
    assert (info.laterality, info.view, info.sop_class_uid) == ("R", "MLO", BTO)
    expected = pydicom.dcmread(path).pixel_array
    numbers = []
    for number, frame in iter_frames(path):
        assert frame.dtype == np.float32 and frame.shape == (ds.Rows, ds.Columns)
        assert np.array_equal(frame, expected[number - 1].astype(np.float32))
        numbers.append(number)
    assert numbers == list(range(1, info.number_of_frames + 1))
    flat = tmp_path / "R_MLO_S2D.dcm"
    study.datasets[6].save_as(flat, enforce_file_format=True)
    assert [n for n, _ in iter_frames(flat)] == [1]
    assert frame_info(flat).spacing_mm == (PIXEL, PIXEL)


def test_iter_frames_memory_stays_far_below_the_volume(study: PhantomStudy, tmp_path: Path) -> None:
    ds = study.datasets[0]
    path = tmp_path / "R_CC_DBT.dcm"
    ds.save_as(path, enforce_file_format=True)
    volume_bytes = int(ds.NumberOfFrames) * ds.Rows * ds.Columns * 4  # as float32
    tracemalloc.start()
    try:
        total = 0.0
        for _, frame in iter_frames(path):
            total += float(frame.mean())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 0
    assert peak < volume_bytes / 8, (peak, volume_bytes)


def _multiframe(path: Path, photometric: str, slope: float, intercept: float) -> np.ndarray:
    frames = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 10
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = BTO
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = BTO
    ds.Modality = "MG"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.Rows, ds.Columns, ds.NumberOfFrames = 4, 5, 3
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = slope, intercept, "US"
    anatomy = Dataset()
    anatomy.FrameLaterality = "L"
    shared = Dataset()
    shared.PixelValueTransformationSequence = Sequence([transform])
    shared.FrameAnatomySequence = Sequence([anatomy])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return frames


def test_iter_frames_rescales_and_inverts_monochrome1(tmp_path: Path) -> None:
    path = tmp_path / "mono1.dcm"
    raw = _multiframe(path, "MONOCHROME1", 2.0, -5.0)
    frames = [frame for _, frame in iter_frames(path)]
    top = 4095 * 2.0 - 5.0
    for got, stored in zip(frames, raw, strict=True):
        assert np.allclose(got, top - (stored * 2.0 - 5.0))
    assert frame_info(path).laterality == "L"
    mono2 = tmp_path / "mono2.dcm"
    raw = _multiframe(mono2, "MONOCHROME2", 1.0, 0.0)
    assert all(np.array_equal(f, r) for (_, f), r in zip(iter_frames(mono2), raw, strict=True))


@pytest.mark.filterwarnings("ignore:Expected implicit VR:UserWarning")  # pydicom, forced read of text
def test_iter_frames_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM at all")
    with pytest.raises(ImagingError):
        frame_info(text)
    with pytest.raises(ImagingError):
        list(iter_frames(text))
    path = tmp_path / "short.dcm"
    _multiframe(path, "MONOCHROME2", 1.0, 0.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 45])  # the last frame is cut short
    with pytest.raises(ImagingError):
        list(iter_frames(path))


def test_large_volumes_are_spooled_not_held_in_memory(
    study: PhantomStudy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbt_module, "IN_MEMORY_BYTES", 0)
    spooled = generate_dbt_study(SEED, category=CATEGORY, vendor=VENDOR, pixel_mm=PIXEL, lesions=LESIONS)
    element = spooled.datasets[1]["PixelData"]
    assert element.is_buffered
    path = tmp_path / "L_CC_DBT.dcm"
    spooled.datasets[1].save_as(path, enforce_file_format=True)
    assert pydicom.dcmread(path).PixelData == study.datasets[1].PixelData


def test_write_phantoms_dbt_layout(tmp_path: Path) -> None:
    folders = write_phantoms(tmp_path, 1, seed=3, kind="dbt", pixel_mm=1.0)
    assert len(folders) == 1
    names = sorted(p.name for p in folders[0].iterdir())
    views = ["L_CC", "L_MLO", "R_CC", "R_MLO"]
    assert names == sorted([f"{v}_DBT.dcm" for v in views] + [f"{v}_S2D.dcm" for v in views] + ["truth.json"])
    truth = json.loads((folders[0] / "truth.json").read_text())
    assert truth["kind"] == "dbt" and truth["study_instance_uid"] == folders[0].name
    info = frame_info(folders[0] / "L_MLO_DBT.dcm")
    assert (info.laterality, info.view) == ("L", "MLO")
    assert info.number_of_frames == next(
        v["frames"] for v in truth["volumes"] if (v["laterality"], v["view"]) == ("L", "MLO")
    )
    with pytest.raises(PhantomError):
        write_phantoms(tmp_path, 1, seed=3, pixel_mm=1.0)


def test_bad_pixel_size_raises() -> None:
    with pytest.raises(PhantomError, match="pixel_mm"):
        generate_dbt_study(1, pixel_mm=0.0)
