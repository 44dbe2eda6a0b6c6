"""Secondary Capture summary montage (PS3.3 A.8.1): layout, burned-in marks, header, round trip."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import CaseAssessment, Finding, FindingKind, Mark, Priority, Triage
from breastgate.phantoms.mg import generate_mg_study
from breastgate.results.gsps import KIND_STYLES
from breastgate.results.summary_sc import (
    SECONDARY_CAPTURE_IMAGE_STORAGE,
    SIZE,
    SecondaryCaptureSummary,
    Tile,
    header_text,
    window,
)
from tests.support.mg_headers import four_view_study

ALGO, VERSION = "breastgate.cad", "1.0.0"
ASSESSMENT = CaseAssessment(87.4, "4", "biopsy")
TRIAGE = Triage(Priority.URGENT, 80.0, ("suspicious_mass", "new_calcifications"), "policy@1")
Images = list[tuple[Dataset, Any]]


def _round_trip(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def _synthetic(rows: int = 400, cols: int = 320) -> Images:
    """Four small views: a bright half-disc of 'tissue' against the chest wall, window 0..4000."""
    out = []
    for h in four_view_study():
        h.Rows, h.Columns = rows, cols
        h.PhotometricInterpretation = "MONOCHROME2"
        h.WindowCenter, h.WindowWidth = "2000", "4000"
        rr, cc = np.mgrid[0:rows, 0:cols]
        chest_right = h.PatientOrientation[0] == "P"
        dist = np.hypot(rr - rows / 2, (cols - cc) if chest_right else cc)
        out.append((h, np.where(dist < rows * 0.45, 3000, 200).astype(np.uint16)))
    return out


def _findings(headers: Sequence[Dataset], scale: float = 1.0) -> list[Finding]:
    rcc, lcc, rmlo, _ = (h.SOPInstanceUID for h in headers)

    def s(*v: float) -> tuple[float, ...]:
        return tuple(x * scale for x in v)

    mass = Finding(
        "f1",
        FindingKind.MASS,
        "R",
        0.87,
        (
            Mark(rcc, s(150, 200), s(120, 170, 180, 230), 0.85, "R", "CC"),  # type: ignore[arg-type]
            Mark(rmlo, s(160, 220), s(130, 190, 190, 250), 0.8, "R", "MLO"),  # type: ignore[arg-type]
        ),
    )
    members = (s(140, 150), s(150, 160), s(160, 150))
    calc = Finding(
        "f2",
        FindingKind.CALCIFICATION_CLUSTER,
        "L",
        0.42,
        (Mark(lcc, s(150, 155), s(130, 135, 170, 175), 0.42, "L", "CC", members=members),),  # type: ignore[arg-type]
    )
    return [mass, calc]


def _build(images: Images, findings: Sequence[Finding] = (), **kwargs: Any) -> SecondaryCaptureSummary:
    return SecondaryCaptureSummary(images, findings, ASSESSMENT, TRIAGE, ALGO, VERSION, **kwargs)


def _edge_hits(pixels: np.ndarray, tile: Tile, mark: Mark, rgb: tuple[int, int, int]) -> float:
    """Fraction of points along the mark's box edges (on the montage) drawn in the kind's colour."""
    c0, r0, c1, r1 = mark.bbox
    corners = [tile.to_canvas(p) for p in ((c0, r0), (c1, r0), (c1, r1), (c0, r1))]
    hits = total = 0
    for (xa, ya), (xb, yb) in zip(corners, [*corners[1:], corners[0]], strict=True):
        for t in np.linspace(0.1, 0.9, 9):
            x, y = round(xa + (xb - xa) * t), round(ya + (yb - ya) * t)
            patch = pixels[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3)
            hits += any(tuple(int(v) for v in p) == rgb for p in patch)
            total += 1
    return hits / total


@pytest.fixture(scope="module")
def phantom() -> Images:
    study = generate_mg_study(5)
    return [(ds, ds.pixel_array) for ds in study.datasets]


def test_phantom_summary_round_trips_with_marks_in_colour(phantom: Images) -> None:
    headers = [ds for ds, _ in phantom]
    findings = _findings(headers, scale=8.0)
    sc = _build(phantom, findings)
    ds = _round_trip(sc.dataset)
    assert ds.SOPClassUID == SECONDARY_CAPTURE_IMAGE_STORAGE
    assert (ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation) == (SIZE, SIZE, 3, "RGB")
    assert (ds.BitsAllocated, ds.BitsStored, ds.PlanarConfiguration) == (8, 8, 0)
    assert ds.BurnedInAnnotation == "YES"
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
    assert ds.ConversionType == "WSD"
    src = headers[0]
    for kw in ("PatientName", "PatientID", "StudyDate", "AccessionNumber", "StudyInstanceUID"):
        assert ds.get(kw) == src.get(kw), kw
    assert ds.SeriesInstanceUID != src.SeriesInstanceUID and ds.SeriesNumber == 9903
    decoded = SecondaryCaptureSummary.from_dataset(ds)
    assert decoded.header == sc.header
    assert set(decoded.source_sop_instance_uids) == {h.SOPInstanceUID for h in headers}
    assert np.array_equal(decoded.pixels, sc.pixels)
    for finding in findings:
        rgb = KIND_STYLES[finding.kind].rgb
        for mark in finding.marks:
            assert _edge_hits(decoded.pixels, sc.tiles[mark.sop_instance_uid], mark, rgb) > 0.9


def test_a_missing_mark_is_detected() -> None:
    """The colour check is not vacuous: without the finding the edges are not in the mark colour."""
    images = _synthetic()
    findings = _findings([h for h, _ in images])
    with_marks, without = _build(images, findings), _build(images, [])
    mass = findings[0]
    rgb = KIND_STYLES[mass.kind].rgb
    for mark in mass.marks:
        assert _edge_hits(with_marks.pixels, with_marks.tiles[mark.sop_instance_uid], mark, rgb) > 0.9
        assert _edge_hits(without.pixels, without.tiles[mark.sop_instance_uid], mark, rgb) == 0.0
    # drawn on its own image only: the same box on the L MLO tile is untouched
    l_mlo = without.tiles[images[3][0].SOPInstanceUID]
    assert _edge_hits(with_marks.pixels, l_mlo, mass.marks[0], rgb) == 0.0


def test_layout_hangs_right_views_left_and_chest_walls_meet() -> None:
    images = _synthetic()
    sc = _build(images)
    rcc, lcc, rmlo, lmlo = (sc.tiles[h.SOPInstanceUID] for h, _ in images)
    assert rcc.x0 < lcc.x0 and rmlo.x0 < lmlo.x0
    assert rcc.y0 == lcc.y0 < rmlo.y0 == lmlo.y0
    middle = SIZE / 2
    assert middle - 16 <= rcc.x0 + rcc.width <= middle and middle <= lcc.x0 <= middle + 16
    assert max(t.y0 + t.height for t in sc.tiles.values()) <= SIZE - 40
    # the tissue (bright) touches the middle of the screen on both sides: chest walls back to back
    row = rcc.y0 + rcc.height // 2
    assert sc.pixels[row, rcc.x0 + rcc.width - 2].mean() > 150
    assert sc.pixels[row, lcc.x0 + 1].mean() > 150
    assert sc.pixels[row, rcc.x0 + 1].mean() < 60


def test_flipped_source_is_hung_the_same_way() -> None:
    images = _synthetic()
    header, pixels = images[0]  # R CC with the chest wall on the right of the image
    header.PatientOrientation = ["A", "R"]
    images[0] = (header, pixels[:, ::-1].copy())
    sc = _build(images)
    tile = sc.tiles[header.SOPInstanceUID]
    assert tile.flip_h
    assert tile.to_canvas((0, 0)) == (tile.x0 + tile.cols * tile.scale, tile.y0)
    row = tile.y0 + tile.height // 2
    assert sc.pixels[row, tile.x0 + tile.width - 2].mean() > 150


def test_header_line() -> None:
    text = header_text(ASSESSMENT, TRIAGE)
    assert text == (
        "AI OUTPUT - NOT FOR DIAGNOSTIC USE - suspicion 87/100, priority URGENT, "
        "flags: suspicious_mass, new_calcifications"
    )
    assert header_text(None, None) == "AI OUTPUT - NOT FOR DIAGNOSTIC USE - suspicion n/a"
    quiet = Triage(Priority.ROUTINE, 3.0, (), "policy@1")
    assert header_text(CaseAssessment(3.0, "1", "routine"), quiet).endswith("priority ROUTINE, no flags")
    sc = _build(_synthetic())
    assert sc.dataset.ImageComments == text
    # the header band is drawn (dark red, with white text)
    band = sc.pixels[:56]
    assert (band == (110, 0, 0)).all(axis=2).mean() > 0.5
    assert (band == 255).all(axis=2).any()


def test_output_is_deterministic_and_uids_follow_inputs() -> None:
    images = _synthetic()
    findings = _findings([h for h, _ in images])
    a, b = _build(images, findings), _build(images, findings)
    assert np.array_equal(a.pixels, b.pixels)
    assert (a.sop_instance_uid, a.series_instance_uid) == (b.sop_instance_uid, b.series_instance_uid)
    assert a.dataset.ContentDate == images[0][0].StudyDate
    first, second = BytesIO(), BytesIO()
    dcmwrite(first, a.dataset, enforce_file_format=True)
    dcmwrite(second, b.dataset, enforce_file_format=True)
    assert first.getvalue() == second.getvalue()
    ds = _round_trip(a.dataset)  # highdicom's wall-clock stamps pinned to the study, its choices ours
    study = images[0][0].StudyDate + images[0][0].StudyTime
    assert ds.InstanceCreationDate + ds.InstanceCreationTime == study
    assert ds.DateOfSecondaryCapture + ds.TimeOfSecondaryCapture == study
    assert [e.ContributionDateTime for e in ds.ContributingEquipmentSequence] == [study]
    assert (ds.PatientOrientation, ds.ConversionType, ds.Laterality) == ("", "WSD", "")
    other = SecondaryCaptureSummary(images, findings, None, None, ALGO, "2.0.0")
    assert other.sop_instance_uid != a.sop_instance_uid
    fewer = _build(images[:3], findings)
    assert fewer.sop_instance_uid != a.sop_instance_uid
    assert len(fewer.tiles) == 3


def test_window() -> None:
    ds = Dataset()
    ds.WindowCenter, ds.WindowWidth = ["100", "50"], ["101", "20"]
    ds.PhotometricInterpretation = "MONOCHROME2"
    out = window(np.array([[0, 49, 100, 150, 1000]], dtype=np.uint16), ds)
    assert out[0, 0] == 0 and out[0, -1] == 255
    assert out[0, 2] == pytest.approx(127.5, abs=2)
    ds.PhotometricInterpretation = "MONOCHROME1"
    assert window(np.array([[0, 1000]], dtype=np.uint16), ds).tolist() == [[255.0, 0.0]]
    bare = Dataset()
    ramp = window(np.arange(1000, dtype=np.uint16).reshape(10, 100), bare)  # no window: percentiles
    assert ramp.min() == 0 and ramp.max() == 255
    ds.PhotometricInterpretation, ds.RescaleSlope, ds.RescaleIntercept = "MONOCHROME2", "2", "-100"
    assert window(np.array([[100]], dtype=np.uint16), ds)[0, 0] == pytest.approx(127.5, abs=2)


def test_bad_inputs_are_rejected() -> None:
    images = _synthetic()
    with pytest.raises(EncodingError):
        _build([])
    with pytest.raises(EncodingError):
        _build([*images, *_synthetic()])  # two studies
    h, p = images[0]
    with pytest.raises(EncodingError):
        _build([(h, np.stack([p, p]))])  # 3-D
    with pytest.raises(EncodingError):
        _build([(h, p[:10])])  # does not match Rows/Columns
    del h.ImageLaterality
    with pytest.raises(EncodingError):
        _build([(h, p)])  # no usable view
