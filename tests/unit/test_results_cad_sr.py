"""Mammography CAD SR encoder/decoder (PS3.3 A.35.5, PS3.16 TID 4000), round-tripped through bytes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from io import BytesIO

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from breastgate.domain.errors import EncodingError
from breastgate.domain.model import (
    AlgorithmResult,
    AlgorithmStatus,
    ChangeKind,
    DensityChange,
    Finding,
    FindingComparison,
    FindingKind,
    Mark,
    PriorStatus,
    PriorUse,
    QualityCheck,
)
from breastgate.results import codes as c
from breastgate.results.mammo_cad_sr import (
    MAMMOGRAPHY_CAD_SR_STORAGE,
    DecodedCADSR,
    MammographyCADSR,
    decode_cad_sr,
)
from breastgate.results.sr_content import Code, Node, decode_content
from tests.support.mg_headers import density_manifest, density_result, four_view_study, mg_header

CREATED = datetime(2026, 1, 10, 10, 0, 0)


def _bytes_round_trip(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def _encode(headers: list[Dataset], **kwargs: object) -> tuple[MammographyCADSR, Dataset, DecodedCADSR]:
    result = density_result(headers, **kwargs)  # type: ignore[arg-type]
    sr = MammographyCADSR(headers, result, density_manifest(result.algorithm_version), CREATED)
    back = _bytes_round_trip(sr.to_dataset())
    return sr, back, MammographyCADSR.from_dataset(back)


def test_round_trip_gives_back_density_per_breast_and_per_image() -> None:
    headers = four_view_study()
    uids = [h.SOPInstanceUID for h in headers]
    percents = {uids[0]: 31.5, uids[1]: 36.0, uids[2]: 30.5, uids[3]: 38.0}
    sr, back, decoded = _encode(headers, percents=percents)
    result = sr.result
    assert back.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert back.SOPClassUID == MAMMOGRAPHY_CAD_SR_STORAGE
    assert decoded.density == result.density
    assert decoded.density is not None and decoded.density.per_breast["R"].percent_dense == 31.0
    assert decoded.image_density == {u: ("c", p) for u, p in percents.items()}
    assert (decoded.algorithm_name, decoded.algorithm_version) == ("breastgate.density", "1.0.0")
    assert set(decoded.referenced_sop_instance_uids) == set(uids)
    assert set(decoded.succeeded_sop_instance_uids) == set(uids)
    assert decoded.failed_sop_instance_uids == ()
    assert decoded.impression.startswith("AI result (breastgate.density 1.0.0) — not for diagnostic use")
    assert decode_cad_sr(back) == decoded


def test_template_and_document_flags() -> None:
    _, back, _ = _encode(four_view_study())
    assert back.ContentTemplateSequence[0].TemplateIdentifier == "4000"
    assert back.ContentTemplateSequence[0].MappingResource == "DCMR"
    assert back.ConceptNameCodeSequence[0].CodeValue == "111036"
    assert (back.CompletionFlag, back.VerificationFlag) == ("COMPLETE", "UNVERIFIED")
    assert back.Manufacturer == "breastgate"
    assert back.SoftwareVersions == "1.0.0"
    assert "not for diagnostic use" in back.SeriesDescription


def test_study_and_patient_copied_into_a_new_series() -> None:
    headers = four_view_study()
    _, back, decoded = _encode(headers)
    src = headers[0]
    for kw in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyID",
        "StudyDescription",
        "StudyInstanceUID",
    ):
        assert back.get(kw) == src.get(kw), kw
    assert back.Modality == "SR"
    assert back.SeriesInstanceUID != src.SeriesInstanceUID
    assert back.SeriesNumber == 9901
    assert decoded.study_instance_uid == src.StudyInstanceUID
    evidence = back.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == src.StudyInstanceUID
    assert evidence.ReferencedSeriesSequence[0].SeriesInstanceUID == src.SeriesInstanceUID
    classes = {r.ReferencedSOPClassUID for r in evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence}
    assert classes == {src.SOPClassUID}


def test_uids_are_deterministic_and_change_with_version_and_inputs() -> None:
    headers = four_view_study()
    first, _, _ = _encode(headers)
    again, _, _ = _encode(headers)
    assert (first.sop_instance_uid, first.series_instance_uid) == (
        again.sop_instance_uid,
        again.series_instance_uid,
    )
    assert first.to_dataset().SOPInstanceUID == again.to_dataset().SOPInstanceUID
    newer, _, _ = _encode(headers, version="1.1.0")
    assert newer.sop_instance_uid != first.sop_instance_uid
    fewer, _, _ = _encode(headers[:2])
    assert fewer.sop_instance_uid != first.sop_instance_uid
    assert len({first.sop_instance_uid, first.series_instance_uid}) == 2


def test_skipped_images_are_listed_as_failed_analyses() -> None:
    headers = four_view_study()
    bad = headers[3].SOPInstanceUID
    _, back, decoded = _encode(headers, failed={bad: "motion blur"})
    assert decoded.failed_sop_instance_uids == (bad,)
    assert bad not in decoded.succeeded_sop_instance_uids
    assert decoded.density is not None
    assert decoded.density.per_breast["L"].sop_instance_uids == (headers[1].SOPInstanceUID,)
    analyses = next(i for i in back.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111065")
    assert analyses.ConceptCodeSequence[0].CodeValue == "111223"  # Partially Succeeded
    summary = next(i for i in back.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111017")
    assert summary.ConceptCodeSequence[0].CodeValue == "111244"  # not all succeeded; with findings


def test_failed_result_without_density_still_encodes() -> None:
    headers = four_view_study()
    _, back, decoded = _encode(headers, failed={h.SOPInstanceUID: "unsupported" for h in headers})
    assert decoded.density is None
    assert set(decoded.failed_sop_instance_uids) == {h.SOPInstanceUID for h in headers}
    summary = next(i for i in back.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111017")
    assert summary.ConceptCodeSequence[0].CodeValue == "111245"


def test_unilateral_study() -> None:
    headers = [h for h in four_view_study() if h.ImageLaterality == "L"]
    sr, _, decoded = _encode(headers)
    assert decoded.density == sr.result.density
    assert decoded.density is not None and set(decoded.density.per_breast) == {"L"}
    assert "Left breast" in decoded.impression


def test_library_rows_only_when_source_has_the_attribute() -> None:
    headers = four_view_study(pixel_spacing=None, view_modifier=("399161006", "SCT", "Cleavage"))
    del headers[0].PatientOrientation
    _, back, _ = _encode(headers)
    library = back.ContentSequence[1]
    assert library.ConceptNameCodeSequence[0].CodeValue == "111028"
    first = {i.ConceptNameCodeSequence[0].CodeValue for i in library.ContentSequence[0].ContentSequence}
    assert "111044" not in first and "111026" not in first
    second = library.ContentSequence[1].ContentSequence
    names = {i.ConceptNameCodeSequence[0].CodeValue for i in second}
    assert {"111027", "111031", "111044", "111043", "111060", "111061", "111018", "111019"} <= names
    view = next(i for i in second if i.ConceptNameCodeSequence[0].CodeValue == "111031")
    assert view.ContentSequence[0].ConceptCodeSequence[0].CodeMeaning == "Cleavage"


def test_bad_inputs_are_rejected() -> None:
    headers = four_view_study()
    result = density_result(headers)
    manifest = density_manifest()
    with pytest.raises(EncodingError):
        MammographyCADSR([], result, manifest, CREATED)
    with pytest.raises(EncodingError):
        MammographyCADSR(headers, result, density_manifest("2.0.0"), CREATED)
    with pytest.raises(EncodingError):
        MammographyCADSR(four_view_study(), result, manifest, CREATED)  # another study
    with pytest.raises(EncodingError):
        MammographyCADSR(headers, replace(result, density=None), manifest, CREATED)
    assert result.density is not None
    wrong = replace(result.density, category="e")
    with pytest.raises(EncodingError):
        MammographyCADSR(headers, replace(result, density=wrong), manifest, CREATED)
    assert result.status == AlgorithmStatus.OK


def test_measured_percentages_survive_with_full_precision() -> None:
    headers = four_view_study()
    percents = {h.SOPInstanceUID: 100.0 / (3 + i) for i, h in enumerate(headers)}
    _, _, decoded = _encode(headers, percents=percents)
    for uid, percent in percents.items():
        assert decoded.image_density[uid][1] == pytest.approx(percent, rel=1e-12)


# ------------------------------------------------------------------ findings (TID 4003-4023)

BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
#: Tolerances of the round trip: SCOORD Graphic Data is FL (float32); scores travel as percent.
PIXEL_TOL = 1e-3
SCORE_TOL = 0.005


def _mark(header: Dataset, point: tuple[float, float], score: float, **kwargs: object) -> Mark:
    col, row = point
    view = {"cranio-caudal": "CC", "medio-lateral oblique": "MLO"}[header.ViewCodeSequence[0].CodeMeaning]
    fields: dict[str, object] = {
        "bbox": (col - 20.0, row - 15.0, col + 20.0, row + 15.0),
        "laterality": str(header.ImageLaterality),
        "view": view,
        "sop_class_uid": str(header.SOPClassUID),
        **kwargs,
    }
    return Mark(header.SOPInstanceUID, point, score=score, **fields)  # type: ignore[arg-type]


def _members(col: float, row: float) -> tuple[tuple[float, float], ...]:
    return tuple((col + 3.25 * i, row + 2.5 * (i % 2)) for i in range(5))


def findings_study() -> tuple[list[Dataset], AlgorithmResult]:
    """Four MG views + one DBT (L CC) of one study, and a result with density, findings and quality.

    Findings: a calcification cluster marked on R CC and R MLO (5 members each, composite), a
    single-view mass on L MLO with an outline and a score below the 0.5 threshold, and a DBT mass
    marked on frame 17 of the Breast Tomosynthesis image. Quality: one failed, one passed check.
    """
    headers = four_view_study()
    rcc, _, rmlo, lmlo = headers
    dbt = mg_header("L", "CC", study_uid=rcc.StudyInstanceUID, series_uid=generate_uid(), instance_number=5)
    dbt.SOPClassUID = BREAST_TOMOSYNTHESIS
    dbt.NumberOfFrames = 48
    headers.append(dbt)
    outline = ((800.0, 900.0), (840.5, 905.25), (850.0, 950.0), (805.0, 960.0), (790.0, 930.0))
    findings = (
        Finding(
            "calc-1",
            FindingKind.CALCIFICATION_CLUSTER,
            "R",
            0.82,
            (
                _mark(rcc, (1200.5, 1500.25), 0.71, members=_members(1195.0, 1495.0)),
                _mark(rmlo, (1100.0, 1300.0), 0.64, members=_members(1095.5, 1295.0)),
            ),
            size_mm=7.0,
        ),
        Finding(
            "mass-1",
            FindingKind.MASS,
            "L",
            0.35,
            (
                _mark(
                    lmlo,
                    (820.0, 930.0),
                    0.35,
                    outline=outline,
                    bbox=(790.0, 900.0, 850.0, 960.0),
                    size_mm=12.0,
                ),
            ),
            size_mm=12.0,
        ),
        Finding(
            "mass-2",
            FindingKind.MASS,
            "L",
            0.9,
            (_mark(dbt, (640.0, 720.0), 0.9, frame=17, size_mm=9.5),),
            size_mm=9.5,
        ),
    )
    quality = (
        QualityCheck(
            "pectoral_muscle_to_pnl",
            False,
            "pectoral muscle ends above the PNL",
            rmlo.SOPInstanceUID,
            "R",
            "MLO",
        ),
        QualityCheck("nipple_in_profile", True, "", rcc.SOPInstanceUID, "R", "CC"),
    )
    result = replace(density_result(headers), findings=findings, quality=quality, operating_threshold=0.5)
    return headers, result


def assert_same_findings(got: Sequence[Finding], want: Sequence[Finding]) -> None:
    """Equal up to float tolerances: pixels within PIXEL_TOL, scores within SCORE_TOL (2 decimals)."""
    assert [f.id for f in got] == [f.id for f in want]
    for g, w in zip(got, want, strict=True):
        assert (g.kind, g.laterality, g.size_mm) == (w.kind, w.laterality, w.size_mm), w.id
        assert g.score == pytest.approx(w.score, abs=SCORE_TOL), w.id
        assert len(g.marks) == len(w.marks), w.id
        for gm, wm in zip(g.marks, w.marks, strict=True):
            same = ("sop_instance_uid", "frame", "laterality", "view", "sop_class_uid", "size_mm")
            assert {k: getattr(gm, k) for k in same} == {k: getattr(wm, k) for k in same}, w.id
            assert gm.score == pytest.approx(wm.score, abs=SCORE_TOL)
            assert gm.point == pytest.approx(wm.point, abs=PIXEL_TOL)
            assert gm.bbox == pytest.approx(wm.bbox, abs=PIXEL_TOL)
            assert len(gm.outline) == len(wm.outline) and len(gm.members) == len(wm.members)
            for gp, wp in zip((*gm.outline, *gm.members), (*wm.outline, *wm.members), strict=True):
                assert gp == pytest.approx(wp, abs=PIXEL_TOL)


def _encode_findings(result: AlgorithmResult, headers: list[Dataset]) -> tuple[Dataset, DecodedCADSR]:
    sr = MammographyCADSR(headers, result, density_manifest(result.algorithm_version), CREATED)
    back = _bytes_round_trip(sr.to_dataset())
    return back, decode_cad_sr(back)


def _items(root: Node, concept: Code, value: Code | None = None) -> list[Node]:
    return [n for n in root.walk() if concept.same(n.concept) and (value is None or value.same(n.code))]


def test_findings_round_trip_through_bytes() -> None:
    headers, result = findings_study()
    _, decoded = _encode_findings(result, headers)
    assert_same_findings(decoded.findings, result.findings)
    assert decoded.operating_threshold == 0.5
    assert decoded.detection_kinds == (FindingKind.MASS, FindingKind.CALCIFICATION_CLUSTER)
    assert decoded.density == result.density  # density unchanged beside the findings
    assert set(decoded.succeeded_sop_instance_uids) == {h.SOPInstanceUID for h in headers}


def test_findings_tree_shape() -> None:
    headers, result = findings_study()
    back, _ = _encode_findings(result, headers)
    root = decode_content(back)
    # Image Library: the five images, then the DBT frame entry the DBT mark points at.
    library = root.first(c.IMAGE_LIBRARY, "CONTAINER")
    assert library is not None
    assert [n.frames for n in library.children] == [(), (), (), (), (), (17,)]
    assert library.children[5].sop == (BREAST_TOMOSYNTHESIS, headers[4].SOPInstanceUID)
    # The cluster is a Composite Feature over two Single Image Findings with 5 members each.
    (composite,) = _items(root, c.COMPOSITE_FEATURE, c.CALCIFICATION_CLUSTER)
    assert composite.first(c.COMPOSITE_TYPE) is not None and composite.first(c.SCOPE_OF_FEATURE) is not None
    assert composite.first(c.CERTAINTY_OF_FEATURE).num == pytest.approx(82.0)  # type: ignore[union-attr]
    singles = composite.find(c.SINGLE_IMAGE_FINDING)
    assert len(singles) == 2
    for single in singles:
        assert single.first(c.NUMBER_OF_CALCIFICATIONS).num == 5  # type: ignore[union-attr]
        members = [m for m in single.find(c.SINGLE_IMAGE_FINDING) if c.INDIVIDUAL_CALCIFICATION.same(m.code)]
        assert len(members) == 5
        assert all(m.first(c.CENTER).graphic[0] == "POINT" for m in members)  # type: ignore[union-attr]
        outline = single.first(c.OUTLINE)
        assert outline is not None and outline.graphic is not None
        assert outline.graphic[0] == "POLYLINE" and outline.graphic[1][:2] == outline.graphic[1][-2:]
    # Scores against the 0.5 threshold: the 0.35 mass is Presentation Optional at operating point 1.
    (mass,) = [
        n
        for n in _items(root, c.SINGLE_IMAGE_FINDING, c.MAMMO_DENSITY)
        if n.first(c.CERTAINTY_OF_FINDING).num == 35
    ]  # type: ignore[union-attr]
    intent = mass.first(c.RENDERING_INTENT)
    assert intent is not None and c.PRESENTATION_OPTIONAL.same(intent.code)
    assert intent.first(c.CAD_OPERATING_POINT).num == 1  # type: ignore[union-attr]
    required = [n for n in _items(root, c.RENDERING_INTENT) if c.PRESENTATION_REQUIRED.same(n.code)]
    assert len(required) == 6  # cluster: impression, composite, 2 views; DBT mass: impression, finding
    # Detections performed with the operating points; analyses: composition, collocation, quality.
    performed = _items(root, c.DETECTION_PERFORMED)
    assert [n.code.meaning for n in performed] == ["Mammography breast density", "Calcification Cluster"]  # type: ignore[union-attr]
    assert all(n.first(c.MAXIMUM_CAD_OPERATING_POINT).num == 1 for n in performed)  # type: ignore[union-attr]
    analyses = {n.code.value: n for n in _items(root, c.ANALYSIS_PERFORMED)}  # type: ignore[union-attr]
    assert set(analyses) == {"133890006", "133884007", "133887000"}
    collocated = {ch.ref.sop[1] for ch in analyses["133884007"].children if ch.ref and ch.ref.sop}
    assert collocated == {headers[0].SOPInstanceUID, headers[2].SOPInstanceUID}
    impression = root.first(c.CAD_SUMMARY).first(c.IMPRESSION_DESCRIPTION).text  # type: ignore[union-attr]
    assert "Image quality: pectoral_muscle_to_pnl not met (pectoral muscle ends above the PNL)" in impression  # type: ignore[operator]


def test_by_reference_links_point_at_image_library_entries() -> None:
    """The by-reference items (ours: highdicom has none) carry only Relationship Type and the
    position of an Image Library IMAGE (PS3.3 C.17.3.2.5); library IMAGEs have no concept name."""
    headers, result = findings_study()
    back, _ = _encode_findings(result, headers)
    library = next(i for i in back.ContentSequence if i.get("ValueType") == "CONTAINER")
    assert all("ConceptNameCodeSequence" not in entry for entry in library.ContentSequence)
    positions = {(2, n) for n in range(1, len(library.ContentSequence) + 1)}

    def references(item: Dataset) -> list[Dataset]:
        found = [item] if "ReferencedContentItemIdentifier" in item else []
        return found + [r for child in item.get("ContentSequence", []) for r in references(child)]

    links = references(back)
    assert len(links) > 20
    for link in links:
        assert set(link.keys()) == {0x0040A010, 0x0040DB73}  # Relationship Type, the identifier
        target = list(link.ReferencedContentItemIdentifier)
        assert target[0] == 1 and tuple(target[1:]) in positions
        assert link.RelationshipType in ("SELECTED FROM", "HAS PROPERTIES", "INFERRED FROM")


def test_without_threshold_every_mark_is_required() -> None:
    headers, result = findings_study()
    back, decoded = _encode_findings(replace(result, operating_threshold=None), headers)
    root = decode_content(back)
    intents = _items(root, c.RENDERING_INTENT)
    lesion = [n for n in intents if not n.children]  # members are Optional, without operating points
    assert all(c.PRESENTATION_REQUIRED.same(n.code) or c.PRESENTATION_OPTIONAL.same(n.code) for n in intents)
    assert not _items(root, c.CAD_OPERATING_POINT) and not _items(root, c.MAXIMUM_CAD_OPERATING_POINT)
    assert sum(c.PRESENTATION_REQUIRED.same(n.code) for n in lesion) == 8
    assert decoded.operating_threshold is None
    assert_same_findings(decoded.findings, result.findings)


def test_detector_without_findings_reports_detection_performed() -> None:
    headers = four_view_study()
    base = density_result(headers)
    result = replace(base, density=None, findings=())
    sr = MammographyCADSR(headers, result, density_manifest(), CREATED, detection_kinds=[FindingKind.MASS])
    back = _bytes_round_trip(sr.to_dataset())
    decoded = decode_cad_sr(back)
    assert decoded.findings == () and decoded.detection_kinds == (FindingKind.MASS,)
    codes = {
        i.ConceptNameCodeSequence[0].CodeValue: i.ConceptCodeSequence[0].CodeValue
        for i in back.ContentSequence[2:]
    }
    assert codes == {"111017": "111241", "111064": "111222", "111065": "111225"}


def test_marks_on_unknown_images_and_kinds_without_a_code(caplog: pytest.LogCaptureFixture) -> None:
    headers, result = findings_study()
    stray = replace(
        result.findings[1], marks=(replace(result.findings[1].marks[0], sop_instance_uid="1.2.3.4"),)
    )
    with pytest.raises(EncodingError):
        MammographyCADSR(headers, replace(result, findings=(stray,)), density_manifest(), CREATED)
    asymmetry = replace(result.findings[1], id="asym-1", kind=FindingKind.ASYMMETRY)
    with caplog.at_level(logging.WARNING):
        _, decoded = _encode_findings(replace(result, findings=(*result.findings, asymmetry)), headers)
    assert [f.id for f in decoded.findings] == ["calc-1", "mass-1", "mass-2"]
    assert "left out" in caplog.text


PRIOR_STUDY = "1.2.826.0.1.3680043.8.498.77"


def compared_study() -> tuple[list[Dataset], AlgorithmResult, list[Dataset]]:
    """:func:`findings_study` compared with a prior 4-view study of 2025-12-01: the calcification
    cluster increased (5 to 7 mm; marked on the prior's R CC and R MLO), the L MLO mass is stable
    (marked on the prior's L MLO), the DBT mass is new; density c before, now the result's; and the
    prior's headers (Study Date 20251201)."""
    headers, result = findings_study()
    prior = four_view_study(PRIOR_STUDY)
    for h in prior:
        h.StudyDate = "20251201"
    prcc, _, prmlo, plmlo = prior
    calc, mass, dbt_mass = result.findings
    findings = (
        replace(calc, comparison=FindingComparison(
            PRIOR_STUDY, ChangeKind.INCREASED, 2.0, 5.0, "20251201",
            (_mark(prcc, (1190.0, 1490.0), 0.4), _mark(prmlo, (1090.0, 1290.0), 0.38)),
        )),
        replace(mass, comparison=FindingComparison(
            PRIOR_STUDY, ChangeKind.STABLE, 0.0, 12.0, "20251201",
            (_mark(plmlo, (818.0, 925.0), 0.33, size_mm=12.0),),
        )),
        replace(dbt_mass, comparison=FindingComparison(PRIOR_STUDY, ChangeKind.NEW, None, None, "20251201")),
    )  # fmt: skip
    result = replace(
        result,
        findings=findings,
        priors=PriorUse(PriorStatus.HELD, (PRIOR_STUDY,)),
        density_change=DensityChange(PRIOR_STUDY, "c", 52.0, -14.5, "20251201"),
    )
    return headers, result, prior


def _compared_sr(with_priors: bool = True) -> tuple[AlgorithmResult, list[Dataset], Dataset]:
    headers, result, prior = compared_study()
    sr = MammographyCADSR(
        headers, result, density_manifest(), CREATED, prior_sources=prior if with_priors else ()
    )
    return result, prior, _bytes_round_trip(sr.to_dataset())


def test_comparison_with_the_prior_round_trips_through_bytes() -> None:
    result, _, ds = _compared_sr()
    decoded = MammographyCADSR.from_dataset(ds)
    calc, mass, new = decoded.findings
    want_calc = result.findings[0]
    assert_same_findings(decoded.findings, [replace(f, comparison=None) for f in result.findings])
    assert calc.comparison is not None and want_calc.comparison is not None
    assert (calc.comparison.change, calc.comparison.size_change_mm, calc.comparison.prior_size_mm) == (
        ChangeKind.INCREASED, 2.0, 5.0,
    )  # fmt: skip
    assert calc.comparison.prior_study_instance_uid == PRIOR_STUDY
    assert calc.comparison.prior_study_date == "20251201"
    assert [m.sop_instance_uid for m in calc.comparison.prior_marks] == [
        m.sop_instance_uid for m in want_calc.comparison.prior_marks
    ]
    assert mass.comparison is not None and mass.comparison.change == ChangeKind.STABLE
    assert mass.comparison.prior_marks[0].size_mm == 12.0 and mass.comparison.prior_marks[0].laterality == "L"
    assert new.comparison is not None and new.comparison.change == ChangeKind.NEW
    assert new.comparison.prior_marks == ()
    # The prior's images are in the library with their Study Date, and in Pertinent Other Evidence.
    (evidence,) = ds.PertinentOtherEvidenceSequence
    assert evidence.StudyInstanceUID == PRIOR_STUDY
    listed = {
        r.ReferencedSOPInstanceUID for s in evidence.ReferencedSeriesSequence for r in s.ReferencedSOPSequence
    }
    assert listed == {m.sop_instance_uid for f in result.findings[:2] for m in f.comparison.prior_marks}  # type: ignore[union-attr]
    assert set(decoded.referenced_sop_instance_uids).isdisjoint(listed)  # current evidence unchanged
    assert "Finding calc-1: increased in size by 2.0 mm (5.0 to 7.0 mm) since the prior of 2025-12-01" in (
        decoded.impression
    )
    assert "Breast density against the prior of 2025-12-01: category c (52.0 % dense)" in decoded.impression


def test_comparison_tree_shape() -> None:
    _, _, ds = _compared_sr()
    root = decode_content(ds)
    cad = root.first(c.CAD_SUMMARY, "CODE")
    assert cad is not None
    overall = cad.first(c.DIFFERENTIAL_DIAGNOSIS, "CODE")  # TID 4002 row 3: the most telling change
    assert overall is not None and c.CHANGES["new"].same(overall.code)
    side = overall.first(c.LATERALITY, "CODE")
    assert side is not None and c.SIDE_BY_LATERALITY["L"].same(side.code)
    calc_impression = cad.find(c.INDIVIDUAL_IMPRESSION, "CONTAINER")[0]
    (temporal,) = calc_impression.find(c.COMPOSITE_FEATURE, "CODE")
    kind = temporal.first(c.COMPOSITE_TYPE, "CODE")
    assert kind is not None and c.RELATED_TEMPORALLY.same(kind.code)
    difference = temporal.first(c.DIFFERENCE_IN_SIZE, "NUM")
    assert difference is not None and difference.num == 2.0 and difference.units == c.MILLIMETER
    change = temporal.first(c.CHANGE_SINCE_LAST_MAMMOGRAM, "CODE")
    assert change is not None and c.CHANGES["increased"].same(change.code)
    (spatial,) = temporal.find(c.COMPOSITE_FEATURE, "CODE")  # the current CC+MLO feature, nested
    prior_singles = temporal.find(c.SINGLE_IMAGE_FINDING, "CODE")
    assert len(spatial.find(c.SINGLE_IMAGE_FINDING, "CODE")) == 2 and len(prior_singles) == 2
    library = root.first(c.IMAGE_LIBRARY, "CONTAINER")
    assert library is not None
    dates = {n.sop[1]: n.first(c.STUDY_DATE, "DATE") for n in library.children if n.sop}
    for single in prior_singles:
        center = single.first(c.CENTER, "SCOORD")
        assert center is not None
        target = next(ch.ref for ch in center.children if ch.ref is not None)
        assert target is not None and target.sop is not None
        assert dates[target.sop[1]] is not None and dates[target.sop[1]].text == "20251201"  # type: ignore[union-attr]
    analyses = root.first(c.SUMMARY_OF_ANALYSES, "CODE")
    assert analyses is not None
    performed = [n.code for box in analyses.children for n in box.find(c.ANALYSIS_PERFORMED, "CODE")]
    assert any(c.TEMPORAL_CORRELATION.same(code) for code in performed)


def test_without_the_prior_headers_the_change_is_still_stated() -> None:
    _, _, ds = _compared_sr(with_priors=False)
    assert "PertinentOtherEvidenceSequence" not in ds
    decoded = MammographyCADSR.from_dataset(ds)
    assert [f.comparison.change for f in decoded.findings if f.comparison] == [
        ChangeKind.INCREASED, ChangeKind.STABLE, ChangeKind.NEW,
    ]  # fmt: skip
    assert all(f.comparison.prior_marks == () for f in decoded.findings if f.comparison)
    root = decode_content(ds)
    cad = root.first(c.CAD_SUMMARY, "CODE")
    assert cad is not None
    kinds = [
        comp.first(c.COMPOSITE_TYPE, "CODE")
        for imp in cad.find(c.INDIVIDUAL_IMPRESSION, "CONTAINER")
        for comp in imp.find(c.COMPOSITE_FEATURE, "CODE")
    ]
    assert all(k is not None and c.RELATED_SPATIALLY.same(k.code) for k in kinds)


def test_no_prior_is_said_and_changes_nothing_else() -> None:
    headers, result = findings_study()
    plain = MammographyCADSR(headers, result, density_manifest(), CREATED).to_dataset()
    status = replace(result, priors=PriorUse(PriorStatus.NOT_IN_TIME))
    noted = MammographyCADSR(headers, status, density_manifest(), CREATED).to_dataset()
    decoded = MammographyCADSR.from_dataset(_bytes_round_trip(noted))
    assert decoded.impression.endswith("Comparison with prior: prior not fetched in time")
    assert decoded.findings == MammographyCADSR.from_dataset(_bytes_round_trip(plain)).findings
    assert noted.SOPInstanceUID == plain.SOPInstanceUID
