"""Breast ultrasound phantom: valid US objects, Rayleigh speckle, exact lesion truth, drawn text."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from breastgate.cli import app
from breastgate.phantoms import PhantomError, UsLesionRequest, generate_us_study, write_us_phantoms
from breastgate.phantoms.us import UsStudy, plan_us_study, write_study
from breastgate.phantoms.us_frame import FONT_DIR, STYLES
from breastgate.phantoms.us_image import region_envelope
from breastgate.phantoms.us_lesions import label_of
from breastgate.phantoms.us_render import envelope, log_compress, speckle_field
from tests.support.validators import dciodvfy

US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"


@pytest.fixture(scope="module")
def study() -> UsStudy:
    """Three single-frame images (one dual-region) with overlays, and a 6-frame cine."""
    return generate_us_study(
        11, images=2, lesions=1, cine=True, frames=6, overlays=True, location="text", style="caps_clock"
    )


@pytest.fixture(scope="module")
def folder(study: UsStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study(study, tmp_path_factory.mktemp("us"))


def _images(study: UsStudy) -> list[tuple[pydicom.Dataset, dict[str, object]]]:
    return list(zip(study.datasets, study.truth["images"], strict=True))


def test_files_are_valid_us_objects(study: UsStudy, folder: Path) -> None:
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    assert truth["study_instance_uid"] == folder.name
    classes = []
    for image in truth["images"]:
        ds = pydicom.dcmread(folder / image["file"])
        classes.append(str(ds.SOPClassUID))
        assert ds.Modality == "US" and ds.BodyPartExamined == "BREAST"
        assert ds.ImageLaterality == image["laterality"]
        assert ds.PatientID == truth["patient_id"] and ds.StudyInstanceUID == truth["study_instance_uid"]
        regions = ds.SequenceOfUltrasoundRegions
        tissue = [r for r in regions if r.RegionDataType == 1]
        assert len(tissue) == len([r for r in image["regions"] if r["data_type"] == "tissue"])
        for item, expected in zip(regions, image["regions"], strict=True):
            assert item.RegionSpatialFormat == 1 and item.PhysicalUnitsXDirection == 3
            assert item.PhysicalDeltaX * 10 == pytest.approx(expected["mm_per_pixel"][0])
            assert 0.006 <= item.PhysicalDeltaX <= 0.015
            corners = (item.RegionLocationMinX0, item.RegionLocationMinY0)
            assert [*corners, item.RegionLocationMaxX1, item.RegionLocationMaxY1] == expected["box"]
        pixels = ds.pixel_array
        rgb = ds.PhotometricInterpretation == "RGB"
        assert rgb == bool(image["overlays"])  # caps_clock writes white text: RGB only for overlays
        frames = int(ds.get("NumberOfFrames", 1))
        assert pixels.shape[: 3 if frames > 1 else 2] == (
            ((frames,) if frames > 1 else ()) + (image["rows"], image["columns"])
        )
        mask_files = [folder / m for m in image["masks"]]
        assert all(m.is_file() for m in mask_files) and len(mask_files) == frames
    assert classes == [US_IMAGE, US_IMAGE, US_MULTIFRAME]
    single, cine = folder / truth["images"][0]["file"], folder / truth["images"][2]["file"]
    for path in (single, cine):
        report = dciodvfy(path)
        assert report.ok, report.errors
        assert "Warning" not in report.output, report.output
    ds = pydicom.dcmread(cine)
    assert ds.FrameIncrementPointer == 0x00181063 and float(ds.FrameTime) > 0


def test_speckle_envelope_is_rayleigh() -> None:
    rng = np.random.default_rng(3)
    field = speckle_field(rng, (768, 768), (1.6, 2.2))
    env = envelope(np.ones((768, 768), np.float32), np.ones((768, 1), np.float32), field)
    assert env.mean() / env.std() == pytest.approx(1.913, abs=0.05)
    assert np.mean(env**2) == pytest.approx(1.0, abs=0.01)  # unit power: a Rayleigh of sigma 1/sqrt(2)
    # A blurred field is no longer white: neighbours correlate (speckle grain of several pixels).
    assert np.corrcoef(env[:, :-1].ravel(), env[:, 1:].ravel())[0, 1] > 0.5


def test_the_region_is_the_log_compressed_envelope() -> None:
    plan = plan_us_study(5, images=1, lesions=1, dual=False, overlays=False, location="none")
    image = plan.images[0]
    env, rendered = region_envelope(image)
    grey = log_compress(env, image.acoustics.dynamic_range_db, image.acoustics.reference)
    study = generate_us_study(5, images=1, lesions=1, dual=False, overlays=False, location="none")
    c0, r0, c1, r1 = study.truth["images"][0]["regions"][0]["box"]
    pixels = study.datasets[0].pixel_array
    pixels = pixels if pixels.ndim == 2 else pixels[..., 0]
    assert np.array_equal(pixels[r0 : r1 + 1, c0 : c1 + 1], grey)
    lesion = study.truth["images"][0]["lesions"][0]
    inside = rendered[0].mask
    if lesion["echo_pattern"] in ("anechoic", "hypoechoic"):  # darker than the glandular layer
        assert np.median(env[inside]) < 0.5 * np.median(env)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_lesion_truth_size_matches_its_mask(seed: int) -> None:
    study = generate_us_study(seed, images=2, lesions=2, overlays=False)
    checked = 0
    for ds, image in _images(study):
        mask = study.masks[str(ds.SOPInstanceUID)][0]
        for lesion in image["lesions"]:
            box = image["regions"][lesion["region"]]["box"]
            px = image["regions"][lesion["region"]]["mm_per_pixel"][0]
            region = mask[box[1] : box[3] + 1, box[0] : box[2] + 1]
            rows, cols = np.nonzero(region == lesion["mask_value"])
            width = (cols.max() - cols.min() + 1) * px
            depth = (rows.max() - rows.min() + 1) * px
            assert width == pytest.approx(lesion["width_mm"], abs=2 * px)
            assert depth == pytest.approx(lesion["depth_mm"], abs=2 * px)
            c0, r0 = cols.min() + box[0], rows.min() + box[1]
            assert lesion["bbox_px"] == [c0, r0, cols.max() + box[0], rows.max() + box[1]]
            centre = lesion["centre_px"]
            assert (c0 + cols.max() + box[0] + 1) / 2 == pytest.approx(centre[0], abs=1.0)
            assert lesion["contrast_db"] < -6  # darker than its surroundings (noise-free echo)
            ratio = lesion["depth_mm"] / lesion["width_mm"]
            assert (ratio <= 0.8) if lesion["orientation"] == "parallel" else (ratio >= 0.95)
            assert lesion["label"] == label_of(
                lesion["shape"],
                lesion["margin"],
                lesion["orientation"],
                lesion["posterior"],
                lesion["echo_pattern"],
            )
            checked += 1
    assert checked >= 2


def _redraw(
    image: dict[str, object], frame_shape: tuple[int, ...], colour: tuple[int, int, int]
) -> np.ndarray:
    canvas = Image.new("RGB", (frame_shape[1], frame_shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for note in image["annotations"]:
        if note["kind"] == "location":
            font = ImageFont.truetype(str(FONT_DIR / note["font"]), note["size"])
            draw.text(tuple(note["origin"]), note["text"], font=font, fill=colour)
    return np.asarray(canvas)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_truth_text_is_what_was_drawn(style: str) -> None:
    study = generate_us_study(
        40, images=1, lesions=0, style=style, location="text", dual=False, overlays=False
    )
    ds, image = _images(study)[0]
    pixels = ds.pixel_array
    loc = image["location"]
    lines = [n for n in image["annotations"] if n["kind"] == "location"]
    assert "\n".join(n["text"] for n in lines) == loc["text"]
    assert str(loc["clock"]) in loc["text"] and str(int(loc["distance_from_nipple_mm"] // 10)) in loc["text"]
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)
    if pixels.ndim == 2:
        colour = round(
            0.299 * STYLES[style].colour[0]
            + 0.587 * STYLES[style].colour[1]
            + 0.114 * STYLES[style].colour[2]
        )
        redrawn = _redraw(image, pixels.shape, (colour, colour, colour))
    else:
        redrawn = _redraw(image, pixels.shape, STYLES[style].colour)
    for note in lines:
        c0, r0, c1, r1 = note["box"]
        assert np.array_equal(rgb[r0 : r1 + 1, c0 : c1 + 1], redrawn[r0 : r1 + 1, c0 : c1 + 1])
        assert rgb[r0 : r1 + 1, c0 : c1 + 1].any()
    # Everything outside the regions is in a recorded box: the black margin holds nothing else.
    covered = np.zeros(pixels.shape[:2], dtype=bool)
    for box in [r["box"] for r in image["regions"]] + [n["box"] for n in image["annotations"]]:
        covered[box[1] : box[3] + 1, box[0] : box[2] + 1] = True
        if box in [r["box"] for r in image["regions"]]:
            continue
        assert not any(
            not (box[2] < r["box"][0] or r["box"][2] < box[0] or box[3] < r["box"][1] or r["box"][3] < box[1])
            for r in image["regions"]
        )
    assert not rgb[~covered].any()


def test_location_sources() -> None:
    structured = generate_us_study(8, images=1, location="structured", overlays=False)
    ((ds, image),) = _images(structured)
    assert ds.ImageComments == image["location"]["text"]
    assert image["location"]["source"] == "structured" and image["location"]["clock"] is not None
    assert not [n for n in image["annotations"] if n["kind"] in ("location", "body_marker")]
    hidden = generate_us_study(8, images=1, location="none", overlays=False)
    ((ds, image),) = _images(hidden)
    assert "ImageComments" not in ds
    assert image["location"]["clock"] is None and image["location"]["text"] is None
    assert image["location"]["scanned"]["clock"] is not None  # where the probe was, for the record
    assert not [n for n in image["annotations"] if n["kind"] == "location"]


def test_clock_side_depends_on_laterality() -> None:
    from breastgate.phantoms.us_frame import Location

    assert Location("L", 3, 2, "radial").lateral_medial() == "lateral"
    assert Location("R", 3, 2, "radial").lateral_medial() == "medial"
    assert Location("R", 10, 2, "radial").quadrant() == "UOQ"
    assert Location("L", 2, 2, "radial").quadrant() == "UOQ"
    assert Location("L", 12, 2, "radial").quadrant() is None


def test_overlays_have_truth(study: UsStudy) -> None:
    ds, image = _images(study)[0]
    pixels = ds.pixel_array
    assert ds.PhotometricInterpretation == "RGB"
    kinds = [o["kind"] for o in image["overlays"]]
    assert kinds.count("caliper") == 2 and "doppler" in kinds
    coloured = (pixels[..., 0] != pixels[..., 1]) | (pixels[..., 1] != pixels[..., 2])
    allowed = np.zeros(coloured.shape, dtype=bool)
    for item in image["overlays"] + [n for n in image["annotations"] if n["kind"] == "measurement"]:
        c0, r0, c1, r1 = item["box"]
        allowed[r0 : r1 + 1, c0 : c1 + 1] = True
    assert coloured.any() and not (coloured & ~allowed).any()
    doppler = next(o for o in image["overlays"] if o["kind"] == "doppler")
    c0, r0, c1, r1 = doppler["box"]
    assert 0 < doppler["colour_pixels"] <= int(coloured[r0 : r1 + 1, c0 : c1 + 1].sum())
    assert [r["data_type"] for r in image["regions"]][-1] == "color_flow"
    lesion = next(o for o in image["overlays"] if o["kind"] == "caliper" and o["mark"] == "+")
    (x0, _), (x1, _) = lesion["points"]
    px = image["regions"][0]["mm_per_pixel"][0]
    assert abs(x1 - x0) * px == pytest.approx(image["lesions"][0]["width_mm"], abs=2 * px)


def test_dual_region_shows_orthogonal_views() -> None:
    study = generate_us_study(12, images=1, lesions=1, dual=True, overlays=False)
    ((ds, image),) = _images(study)
    assert [r["plane"] for r in image["regions"]] == ["radial", "antiradial"]
    first, second = image["lesions"]
    assert first["id"] == second["id"] and first["mask_value"] == second["mask_value"]
    assert first["width_mm"] == second["elevation_mm"] and first["elevation_mm"] == second["width_mm"]
    assert first["depth_mm"] == second["depth_mm"]
    assert len(ds.SequenceOfUltrasoundRegions) == 2


def test_cine_sweeps_across_the_lesion(study: UsStudy) -> None:
    image = study.truth["images"][2]
    cine = image["cine"]
    masks = study.masks[image["sop_instance_uid"]]
    areas = [int((m > 0).sum()) for m in masks]
    peak = int(np.argmax(areas))
    assert all(a <= b for a, b in pairwise(areas[: peak + 1]))  # grows, then shrinks
    assert all(a >= b for a, b in pairwise(areas[peak:]))
    (lesion,) = cine["lesions"]
    assert lesion["count"] == sum(a > 0 for a in areas)
    elevation = image["lesions"][0]["elevation_mm"]
    assert lesion["elevation_from_frames_mm"] == pytest.approx(elevation, abs=2 * cine["frame_step_mm"])
    assert image["key_frame"] == peak + 1


def test_uncalibrated_region_has_no_units() -> None:
    study = generate_us_study(9, images=1, uncalibrated=True, overlays=False)
    ((ds, image),) = _images(study)
    assert ds.SequenceOfUltrasoundRegions[0].PhysicalUnitsXDirection == 0
    assert image["regions"][0]["calibrated"] is False and image["regions"][0]["mm_per_pixel"] is None


def test_requests_are_honoured_and_bad_ones_refused() -> None:
    request = UsLesionRequest(
        width_mm=14.0,
        shape="irregular",
        margin_detail="spiculated",
        echo_pattern="hypoechoic",
        posterior="shadowing",
        orientation="not_parallel",
    )
    study = generate_us_study(2, images=1, lesions=[request], dual=False, overlays=False)
    (lesion,) = study.truth["images"][0]["lesions"]
    assert lesion["width_mm"] == 14.0 and lesion["depth_mm"] >= 1.15 * 14.0
    assert (lesion["margin"], lesion["posterior"], lesion["label"]) == (
        "not_circumscribed",
        "shadowing",
        "malignant",
    )
    for bad in (
        lambda: UsLesionRequest(shape="round", orientation="parallel"),
        lambda: UsLesionRequest(echo_pattern="glowing"),
        lambda: UsLesionRequest(width_mm=80.0),
        lambda: generate_us_study(1, lesions=3),
        lambda: generate_us_study(1, style="vendor_x"),
        lambda: generate_us_study(
            1, lesions=[UsLesionRequest(width_mm=10, depth_mm=9, orientation="parallel")]
        ),
    ):
        with pytest.raises(PhantomError):
            bad()


def test_a_seed_is_deterministic_and_seeds_differ() -> None:
    a = generate_us_study(31, images=2)
    b = generate_us_study(31, images=2)
    c = generate_us_study(32, images=2)
    assert a.truth == b.truth
    assert [ds.PixelData for ds in a.datasets] == [ds.PixelData for ds in b.datasets]
    assert a.study_instance_uid != c.study_instance_uid
    assert a.datasets[0].PixelData != c.datasets[0].PixelData


def test_cli_writes_us_folders(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["phantom", "--kind", "us", "--out", str(tmp_path), "--count", "2", "--seed", "4"]
    )
    assert result.exit_code == 0, result.output
    folders = [Path(line) for line in result.output.split()]
    assert len(folders) == 2
    for folder in folders:
        truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
        assert truth["kind"] == "us" and folder.name == truth["study_instance_uid"]
        for image in truth["images"]:
            assert (folder / image["file"]).is_file()
            mask = np.asarray(Image.open(folder / image["masks"][0]))
            assert set(np.unique(mask)) <= {0} | {les["mask_value"] for les in image["lesions"]}
    refused = CliRunner().invoke(app, ["phantom", "--kind", "mg", "--out", str(tmp_path), "--cine"])
    assert refused.exit_code == 2


def test_write_us_phantoms_cycles_styles(tmp_path: Path) -> None:
    folders = write_us_phantoms(tmp_path, 2, seed=0, images=1)
    styles = [json.loads((f / "truth.json").read_text(encoding="utf-8"))["style"] for f in folders]
    assert styles == sorted(STYLES)[:2]
