"""Grayscale Softcopy Presentation State encoder/decoder (PS3.3 A.33.1), round-tripped through bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from io import BytesIO

import highdicom as hd
import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import (
    ChangeKind,
    DelayedPhase,
    Finding,
    FindingComparison,
    FindingKind,
    FindingKinetics,
    InitialPhase,
    Mark,
)
from breastgate.results.gsps import (
    CONTENT_LABEL,
    GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
    KIND_STYLES,
    NOTICE,
    NOTICE_LAYER,
    SCROLL_LAYER,
    SLICE_LAYER,
    DecodedGraphic,
    GrayscaleSoftcopyPresentationState,
    cielab,
    decode_gsps,
)
from breastgate.results.gsps_graphics import MEMBER_RADIUS_PX, mark_label
from tests.support.mg_headers import four_view_study

ALGO, VERSION = "breastgate.cad", "1.0.0"
BTO = "1.2.840.10008.5.1.4.1.1.13.1.3"


def _round_trip(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def _headers() -> list[Dataset]:
    headers = four_view_study()
    for h in headers:
        h.WindowCenter, h.WindowWidth = ["2100", "2300"], ["3000", "2500"]
        h.WindowCenterWidthExplanation = ["NORMAL", "HARDER"]
        h.PhotometricInterpretation = "MONOCHROME2"
    return headers


def _findings(headers: Sequence[Dataset]) -> list[Finding]:
    rcc, lcc, rmlo, _ = (h.SOPInstanceUID for h in headers)
    outline = ((700.0, 1200.0), (800.0, 1100.0), (900.0, 1200.0), (800.0, 1300.0))
    mass = Finding(
        "f1",
        FindingKind.MASS,
        "R",
        0.87,
        (
            Mark(rcc, (800, 1200), (700, 1100, 900, 1300), 0.85, "R", "CC", outline=outline),
            Mark(rmlo, (820, 1500), (720, 1400, 920, 1600), 0.8, "R", "MLO"),
        ),
    )
    members = ((1470.0, 1570.0), (1500.0, 1600.0), (1530.0, 1620.0))
    calc = Finding(
        "f2",
        FindingKind.CALCIFICATION_CLUSTER,
        "L",
        0.42,
        (Mark(lcc, (1500, 1600), (1450, 1550, 1550, 1650), 0.42, "L", "CC", members=members),),
    )
    return [mass, calc]


def _bto_header(study_uid: str, frames: int = 60) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = BTO
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1001"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1002"
    ds.PatientName, ds.PatientID, ds.StudyDate, ds.StudyTime = "Phantom^Alice", "BG-0001", "20260110", "0930"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 2000, 1500, frames
    ds.ImageLaterality = "L"
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = 500, 1000
    group = Dataset()
    group.FrameVOILUTSequence = DicomSequence([voi])
    ds.SharedFunctionalGroupsSequence = DicomSequence([group])
    return ds


def _ring(mark: Mark) -> list[tuple[float, float]]:
    """The closed polyline a mark must appear as: its outline, else its bounding box."""
    if mark.outline:
        pts = [(float(c), float(r)) for c, r in mark.outline]
    else:
        c0, r0, c1, r1 = (float(v) for v in mark.bbox)
        pts = [(c0, r0), (c1, r0), (c1, r1), (c0, r1)]
    return [*pts, pts[0]]


def _missing_marks(graphics: Sequence[DecodedGraphic], findings: Sequence[Finding]) -> list[str]:
    """Marks (finding id, image, frame) whose polyline is not on the right image, frame and layer."""
    missing = []
    for finding in findings:
        layer = KIND_STYLES[finding.kind].layer
        for mark in finding.marks:
            wanted = DecodedGraphic(mark.sop_instance_uid, mark.frame, layer, _ring(mark))
            if wanted not in graphics:
                missing.append(f"{finding.id}@{mark.sop_instance_uid}#{mark.frame}")
    return missing


def test_every_mark_is_a_closed_polyline_on_its_image() -> None:
    headers = _headers()
    findings = _findings(headers)
    back = _round_trip(GrayscaleSoftcopyPresentationState(findings, headers, ALGO, VERSION).dataset)
    graphics = decode_gsps(back)
    assert _missing_marks(graphics, findings) == []
    # calcification members: one small circle each, on the same image and layer
    lcc = headers[1].SOPInstanceUID
    circles = [g for g in graphics if g.sop_instance_uid == lcc and len(g.points) == 2]
    assert [g.points[0] for g in circles] == list(findings[1].marks[0].members)
    assert all(g.points[1][0] - g.points[0][0] == MEMBER_RADIUS_PX for g in circles)
    assert {g.layer for g in circles} == {"CALC"}
    # nothing drawn on the unmarked L MLO, and it is not referenced
    decoded = GrayscaleSoftcopyPresentationState.from_dataset(back)
    assert headers[3].SOPInstanceUID not in {g.sop_instance_uid for g in graphics}
    assert {uid for uid, _ in decoded.referenced} == {h.SOPInstanceUID for h in headers[:3]}
    assert decoded.graphic_types.count("CIRCLE") == 3
    assert decoded.graphic_types.count("POLYLINE") == 3


def test_a_dropped_mark_is_detected() -> None:
    """The check above is not vacuous: remove one graphic object and it reports the mark."""
    headers = _headers()
    findings = _findings(headers)
    ds = _round_trip(GrayscaleSoftcopyPresentationState(findings, headers, ALGO, VERSION).dataset)
    rmlo = headers[2].SOPInstanceUID
    item = next(
        a
        for a in ds.GraphicAnnotationSequence
        if a.ReferencedImageSequence[0].ReferencedSOPInstanceUID == rmlo
    )
    del item.GraphicObjectSequence
    assert _missing_marks(decode_gsps(ds), findings) == [f"f1@{rmlo}#None"]
    # a mark moved to another image is caught as well
    moved = Finding("f9", FindingKind.MASS, "R", 0.5, (Mark(rmlo, (5, 5), (1, 1, 9, 9), 0.5),))
    wrong = _round_trip(GrayscaleSoftcopyPresentationState([moved], headers, ALGO, VERSION).dataset)
    elsewhere = Finding(
        "f9", FindingKind.MASS, "R", 0.5, (Mark(headers[0].SOPInstanceUID, (5, 5), (1, 1, 9, 9), 0.5),)
    )
    assert _missing_marks(decode_gsps(wrong), [elsewhere]) != []


def test_multi_frame_marks_reference_their_frames() -> None:
    headers = _headers()
    bto = _bto_header(headers[0].StudyInstanceUID)
    uid = bto.SOPInstanceUID
    findings = [
        Finding(
            "d1",
            FindingKind.ARCHITECTURAL_DISTORTION,
            "L",
            0.66,
            (Mark(uid, (800, 1200), (700, 1100, 900, 1300), 0.6, frame=12),),
        ),
        Finding(
            "d2", FindingKind.MASS, "L", 0.96, (Mark(uid, (500, 600), (400, 500, 600, 700), 0.9, frame=30),)
        ),
    ]
    ds = _round_trip(GrayscaleSoftcopyPresentationState(findings, [*headers, bto], ALGO, VERSION).dataset)
    graphics = decode_gsps(ds)
    assert _missing_marks(graphics, findings) == []
    marks = {(g.frame, g.layer) for g in graphics if g.layer not in (SCROLL_LAYER, SLICE_LAYER)}
    assert marks == {(12, "DISTORTION"), (30, "MASS")}
    # marks without an extent: the per-slice outline on the mark's own frame only; the scroll bar
    # on every frame of the volume, so the image is referenced whole (no frame numbers)
    assert {g.frame for g in graphics if g.layer == SLICE_LAYER} == {12, 30}
    assert {g.frame for g in graphics if g.layer == SCROLL_LAYER} == set(range(1, 61))
    ref = ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0]
    assert ref.ReferencedSOPClassUID == BTO and "ReferencedFrameNumber" not in ref
    for item in ds.GraphicAnnotationSequence:
        image = item.ReferencedImageSequence[0]
        if item.GraphicLayer == NOTICE_LAYER:
            assert "ReferencedFrameNumber" not in image  # the notice on every frame
        elif item.GraphicLayer != SCROLL_LAYER:
            assert int(image.ReferencedFrameNumber) in (12, 30)
    decoded = GrayscaleSoftcopyPresentationState.from_dataset(ds)
    assert decoded.windows[uid] == (500.0, 1000.0)  # from the shared functional groups


def test_slice_layer_marks_every_frame_of_the_extent_and_no_other_scrollbar_every_frame() -> None:
    headers = _headers()
    bto = _bto_header(headers[0].StudyInstanceUID)
    uid = bto.SOPInstanceUID
    mark = Mark(uid, (800, 1200), (700, 1100, 900, 1300), 0.6, frame=14, frames=(10, 18))
    finding = Finding("m1", FindingKind.MASS, "L", 0.7, (mark,))
    ds = _round_trip(GrayscaleSoftcopyPresentationState([finding], [*headers, bto], ALGO, VERSION).dataset)
    decoded = GrayscaleSoftcopyPresentationState.from_dataset(ds)
    slices = [g for g in decoded.graphics if g.layer == SLICE_LAYER]
    assert {(g.sop_instance_uid, g.frame) for g in slices} == {(uid, f) for f in range(10, 19)}
    assert len(slices) == 9 and len({str(g.points) for g in slices}) == 1  # the same outline on each
    assert {g.frame for g in decoded.graphics if g.layer == "MASS"} == {14}  # the outline: its frame
    scroll = [g for g in decoded.graphics if g.layer == SCROLL_LAYER]
    assert {g.frame for g in scroll} == set(range(1, 61))  # Sectra's convention: every slice
    assert len(scroll) == 3 * 60  # track, the finding's range box and the current-slice tick
    assert set(decoded.graphic_types) == {"POLYLINE"}
    assert decoded.layers[SLICE_LAYER][1] == cielab((255, 160, 0))
    assert decoded.layers[SCROLL_LAYER][1] == cielab((255, 255, 255))
    assert {t.frame for t in decoded.texts if t.layer == NOTICE_LAYER} == {None}  # every frame
    ticks = [g.points for g in scroll if len(g.points) == 2 and g.points[0][1] == g.points[1][1]]
    assert len({p[0][1] for p in ticks}) == 60  # the tick moves with the slice
    boxes = {str(g.points) for g in scroll if len(g.points) == 5}
    assert len(boxes) == 1  # the finding's range, the same on every slice
    for g in scroll:
        assert all(0 <= c <= 1500 and 0 <= r <= 2000 for c, r in g.points)
    outside = replace(mark, frames=(55, 70))  # beyond the 60 frames: clipped
    ds = GrayscaleSoftcopyPresentationState(
        [replace(finding, marks=(replace(outside, frame=58),))], [*headers, bto], ALGO, VERSION
    ).dataset
    frames = {g.frame for g in decode_gsps(ds) if g.layer == SLICE_LAYER}
    assert frames == set(range(55, 61))
    mg = Mark(headers[0].SOPInstanceUID, (800, 1200), (700, 1100, 900, 1300), 0.6)
    ds = GrayscaleSoftcopyPresentationState(
        [Finding("m2", FindingKind.MASS, "R", 0.7, (mg,))], headers, ALGO, VERSION
    )
    layers = GrayscaleSoftcopyPresentationState.from_dataset(ds.dataset).layers
    assert SCROLL_LAYER not in layers and SLICE_LAYER not in layers


def test_layers_texts_and_identification() -> None:
    headers = _headers()
    ds = _round_trip(GrayscaleSoftcopyPresentationState(_findings(headers), headers, ALGO, VERSION).dataset)
    decoded = GrayscaleSoftcopyPresentationState.from_dataset(ds)
    assert ds.SOPClassUID == GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE
    assert ds.Modality == "PR"
    assert decoded.content_label == CONTENT_LABEL
    assert ALGO in decoded.content_description and VERSION in decoded.content_description
    assert ds.ContentCreatorName == "breastgate^AI"
    assert set(decoded.layers) == {"MASS", "CALC", NOTICE_LAYER}
    orders = [order for order, _ in decoded.layers.values()]
    assert len(set(orders)) == len(orders)
    assert decoded.layers["MASS"][1] == cielab(KIND_STYLES[FindingKind.MASS].rgb)
    texts = {(t.sop_instance_uid, t.layer, t.text) for t in decoded.texts}
    rcc, lcc, rmlo, _ = (h.SOPInstanceUID for h in headers)
    assert {(rcc, "MASS", "Mass 0.87"), (rmlo, "MASS", "Mass 0.87"), (lcc, "CALC", "Calc 0.42")} <= texts
    notices = [t for t in decoded.texts if t.text == NOTICE]
    assert sorted(t.sop_instance_uid for t in notices) == sorted([rcc, lcc, rmlo])
    for item in ds.GraphicAnnotationSequence:
        for text in item.get("TextObjectSequence", []):
            assert text.BoundingBoxAnnotationUnits == "PIXEL"
            (c0, r0), (c1, r1) = text.BoundingBoxTopLeftHandCorner, text.BoundingBoxBottomRightHandCorner
            assert 0 <= c0 < c1 <= 2560 and 0 <= r0 < r1 <= 3328
        for obj in item.get("GraphicObjectSequence", []):
            assert obj.GraphicAnnotationUnits == "PIXEL"


def test_presentation_modules_follow_the_images() -> None:
    headers = _headers()
    ds = _round_trip(GrayscaleSoftcopyPresentationState(_findings(headers), headers, ALGO, VERSION).dataset)
    assert ds.PresentationLUTShape == "IDENTITY"
    areas = ds.DisplayedAreaSelectionSequence
    assert len(areas) == 3
    for area in areas:
        assert area.PresentationSizeMode == "SCALE TO FIT"
        assert list(area.DisplayedAreaTopLeftHandCorner) == [1, 1]
        assert list(area.DisplayedAreaBottomRightHandCorner) == [2560, 3328]
        assert list(area.PresentationPixelAspectRatio) == [1, 1]
    decoded = GrayscaleSoftcopyPresentationState.from_dataset(ds)
    assert set(decoded.windows.values()) == {(2100.0, 3000.0)}  # the first window of each image
    assert {item.WindowCenterWidthExplanation for item in ds.SoftcopyVOILUTSequence} == {"NORMAL"}
    for h in headers:
        h.PhotometricInterpretation = "MONOCHROME1"
    inverse = GrayscaleSoftcopyPresentationState(_findings(headers), headers, ALGO, VERSION).dataset
    assert inverse.PresentationLUTShape == "INVERSE"
    headers[0].PhotometricInterpretation = "MONOCHROME2"
    with pytest.raises(EncodingError):
        GrayscaleSoftcopyPresentationState(_findings(headers), headers, ALGO, VERSION)


def test_study_copied_new_series_and_deterministic_output() -> None:
    headers = _headers()
    first = GrayscaleSoftcopyPresentationState(_findings(headers), headers, ALGO, VERSION)
    again = GrayscaleSoftcopyPresentationState(_findings(headers), headers, ALGO, VERSION)
    a, b = BytesIO(), BytesIO()
    dcmwrite(a, first.dataset, enforce_file_format=True)
    dcmwrite(b, again.dataset, enforce_file_format=True)
    assert a.getvalue() == b.getvalue()
    ds = _round_trip(first.dataset)
    src = headers[0]
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
               "AccessionNumber", "StudyID", "StudyInstanceUID"):  # fmt: skip
        assert ds.get(kw) == src.get(kw), kw
    assert (ds.PresentationCreationDate, ds.PresentationCreationTime) == (src.StudyDate, src.StudyTime)
    assert ds.SeriesInstanceUID != src.SeriesInstanceUID
    assert ds.SeriesNumber == 9902
    newer = GrayscaleSoftcopyPresentationState(_findings(headers), headers, ALGO, "1.1.0")
    assert newer.sop_instance_uid != first.sop_instance_uid
    assert newer.series_instance_uid != first.series_instance_uid
    assert len({first.sop_instance_uid, first.series_instance_uid}) == 2


def test_marks_without_a_usable_image_are_left_out_and_bad_inputs_rejected() -> None:
    headers = _headers()
    findings = _findings(headers)
    stray = Finding("f3", FindingKind.MASS, "R", 0.3, (Mark("1.2.3.999", (5, 5), (1, 1, 9, 9), 0.3),))
    gsps = GrayscaleSoftcopyPresentationState([*findings, stray], headers, ALGO, VERSION)
    assert "1.2.3.999" not in {g.sop_instance_uid for g in decode_gsps(gsps.dataset)}
    with pytest.raises(EncodingError):
        GrayscaleSoftcopyPresentationState([stray], headers, ALGO, VERSION)  # nothing to present
    with pytest.raises(EncodingError):
        GrayscaleSoftcopyPresentationState(findings, [], ALGO, VERSION)
    with pytest.raises(EncodingError):
        GrayscaleSoftcopyPresentationState(findings, [*headers, *four_view_study()], ALGO, VERSION)
    processing = _headers()
    for h in processing:
        h.PresentationIntentType = "FOR PROCESSING"
    with pytest.raises(EncodingError):
        GrayscaleSoftcopyPresentationState(_findings(processing), processing, ALGO, VERSION)
    bto = _bto_header(headers[0].StudyInstanceUID, frames=10)
    late = Finding(
        "d", FindingKind.MASS, "L", 0.5, (Mark(bto.SOPInstanceUID, (5, 5), (1, 1, 9, 9), 0.5, frame=11),)
    )
    with pytest.raises(EncodingError):
        GrayscaleSoftcopyPresentationState([late], [bto], ALGO, VERSION)


def test_points_outside_the_image_are_clamped() -> None:
    headers = _headers()
    edge = Finding(
        "e",
        FindingKind.ASYMMETRY,
        "R",
        0.5,
        (Mark(headers[0].SOPInstanceUID, (0, 0), (-20, -10, 50, 60), 0.5),),
    )
    graphics = decode_gsps(GrayscaleSoftcopyPresentationState([edge], headers, ALGO, VERSION).dataset)
    assert graphics[0].points == [(0.0, 0.0), (50.0, 0.0), (50.0, 60.0), (0.0, 60.0), (0.0, 0.0)]


def test_cielab_encoding() -> None:
    white = cielab((255, 255, 255))
    assert white[0] == 65535 and abs(white[1] - 32896) < 8 and abs(white[2] - 32896) < 8
    assert cielab((0, 0, 0)) == [0, 32896, 32896]
    red = cielab((255, 0, 0))
    assert red[1] > 50000  # strongly positive a*


def test_each_finding_is_one_graphic_group() -> None:
    """Graphic Group module (C.10.5.1.1): a finding's outline, circles, label and per-slice outlines
    share its group; the scroll bar and the notice belong to no finding."""
    headers = _headers()
    bto = _bto_header(headers[0].StudyInstanceUID)
    findings = _findings(headers)
    volume = Mark(bto.SOPInstanceUID, (800, 1200), (700, 1100, 900, 1300), 0.6, frame=14, frames=(12, 16))
    findings.append(Finding("d1", FindingKind.MASS, "L", 0.7, (volume,)))
    ds = _round_trip(GrayscaleSoftcopyPresentationState(findings, [*headers, bto], ALGO, VERSION).dataset)
    groups = {
        g.GraphicGroupID: (g.GraphicGroupLabel, g.GraphicGroupDescription) for g in ds.GraphicGroupSequence
    }
    assert groups == {1: ("f1", "Mass 0.87"), 2: ("f2", "Calc 0.42"), 3: ("d1", "Mass 0.70")}
    members: dict[int, set[str]] = {}
    for item in ds.GraphicAnnotationSequence:
        uid = item.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        objects = [*item.get("GraphicObjectSequence", []), *item.get("TextObjectSequence", [])]
        for obj in objects:
            if item.GraphicLayer in (SCROLL_LAYER, NOTICE_LAYER):
                assert "GraphicGroupID" not in obj
            else:
                members.setdefault(obj.GraphicGroupID, set()).add(f"{uid}/{item.GraphicLayer}")
    rcc, lcc, rmlo, _ = (h.SOPInstanceUID for h in headers)
    assert members == {
        1: {f"{rcc}/MASS", f"{rmlo}/MASS"},
        2: {f"{lcc}/CALC"},
        3: {f"{bto.SOPInstanceUID}/MASS", f"{bto.SOPInstanceUID}/{SLICE_LAYER}"},
    }


def test_images_of_different_sizes_share_one_gsps() -> None:
    """A mammogram and a tomosynthesis volume of another size in one GSPS, each with its own
    Displayed Area; highdicom's GrayscaleSoftcopyPresentationState refuses that (the reason the
    SOP instance is ours, see the gsps module docstring): if it stops refusing, reconsider."""
    headers = _headers()
    bto = _bto_header(headers[0].StudyInstanceUID)
    mg = Mark(headers[0].SOPInstanceUID, (800, 1200), (700, 1100, 900, 1300), 0.8)
    dbt = Mark(bto.SOPInstanceUID, (500, 600), (400, 500, 600, 700), 0.9, frame=30)
    findings = [
        Finding("m", FindingKind.MASS, "R", 0.8, (mg,)),
        Finding("d", FindingKind.MASS, "L", 0.9, (dbt,)),
    ]
    ds = _round_trip(GrayscaleSoftcopyPresentationState(findings, [*headers, bto], ALGO, VERSION).dataset)
    areas = {
        a.ReferencedImageSequence[0].ReferencedSOPInstanceUID: list(a.DisplayedAreaBottomRightHandCorner)
        for a in ds.DisplayedAreaSelectionSequence
    }
    assert areas == {headers[0].SOPInstanceUID: [2560, 3328], bto.SOPInstanceUID: [1500, 2000]}
    assert _missing_marks(decode_gsps(ds), findings) == []
    for h in (headers[0], bto):
        h.SamplesPerPixel, h.PatientBirthDate, h.PatientSex = 1, "", ""
        h.AccessionNumber, h.StudyID = "", ""
    with pytest.raises(ValueError, match="same dimensions"):
        hd.pr.GrayscaleSoftcopyPresentationState(
            [headers[0], bto], "1.2.3.4", 1, "1.2.3.5", 1, "breastgate", ALGO, VERSION, "1", "BG_AI_MARKS"
        )


def test_labels_stay_inside_the_image() -> None:
    """A mark whose box reaches past the image still gets a label inside it (PIXEL units,
    PS3.3 C.10.5.1.2; highdicom refuses anything outside)."""
    headers = _headers()
    low = Mark(headers[0].SOPInstanceUID, (1000, 3300), (900, 3390, 1100, 3500), 0.7)
    ds = GrayscaleSoftcopyPresentationState(
        [Finding("low", FindingKind.MASS, "R", 0.7, (low,))], headers, ALGO, VERSION
    ).dataset
    boxes = [
        (*t.BoundingBoxTopLeftHandCorner, *t.BoundingBoxBottomRightHandCorner)
        for item in ds.GraphicAnnotationSequence
        for t in item.get("TextObjectSequence", [])
    ]
    assert len(boxes) == 2  # the label and the notice
    assert all(0 <= c0 < c1 <= 2560 and 0 <= r0 < r1 <= 3328 for c0, r0, c1, r1 in boxes)


def test_mark_labels_carry_the_change_since_the_prior_and_the_curve_type() -> None:
    mark = Mark("1.2.3", (10.0, 10.0), (5.0, 5.0, 15.0, 15.0), 0.87)
    mass = Finding("m", FindingKind.MASS, "L", 0.87, (mark,))
    assert mark_label(mass) == "Mass 0.87"
    assert mark_label(replace(mass, comparison=FindingComparison("9", ChangeKind.NEW))) == "Mass 0.87 new"
    grown = FindingComparison("9", ChangeKind.INCREASED, 2.04, 5.0)
    assert mark_label(replace(mass, comparison=grown)) == "Mass 0.87 larger +2.0 mm"
    assert mark_label(replace(mass, comparison=FindingComparison("9", ChangeKind.STABLE, 0.1))) == (
        "Mass 0.87 stable"
    )
    lesion = Finding(
        "e", FindingKind.ENHANCING_LESION, "R", 0.5, (mark,),
        kinetics=FindingKinetics(InitialPhase.FAST, DelayedPhase.WASHOUT),
    )  # fmt: skip
    assert mark_label(lesion) == "Enhancement 0.50 type III"
