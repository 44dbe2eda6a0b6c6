"""Decoding any Mammography CAD SR (TID 4000) into findings: breastgate's own and a vendor's."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

import numpy as np
import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.errors import InvalidInputError
from breastgate.domain.model import ChangeKind, FindingKind
from breastgate.results.cad_sr_decode import decode_findings, normalise
from breastgate.results.mammo_cad_sr import MammographyCADSR
from tests.support.mg_headers import density_manifest, four_view_study
from tests.support.vendor_engine import brightest_blob, build_cad_sr
from tests.unit.test_results_cad_sr import (
    CREATED,
    PRIOR_STUDY,
    assert_same_findings,
    compared_study,
    findings_study,
)


def _through_bytes(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def test_breastgate_cad_sr_round_trips_to_the_same_findings() -> None:
    headers, result = findings_study()
    sr = MammographyCADSR.from_result(result, density_manifest(), headers, CREATED)
    decoded = decode_findings(_through_bytes(sr.dataset), scale=(0.0, 100.0))
    assert_same_findings(decoded.findings, result.findings)
    assert decoded.density == result.density
    for got, want in zip(decoded.findings, result.findings, strict=True):
        assert got.attributes["raw_score"] == pytest.approx(want.score * 100.0, abs=1e-3)
        assert (got.attributes["score_scale_low"], got.attributes["score_scale_high"]) == (0.0, 100.0)


def test_vendor_cad_sr_circle_outline_and_its_own_scale() -> None:
    headers = four_view_study()
    blobs = [((400.0 + 10 * i, 500.0), 50.0, 20.0 * (i + 1)) for i in range(4)]
    sr = _through_bytes(build_cad_sr(headers, blobs))
    decoded = decode_findings(sr, scale=(0.0, 80.0))
    assert len(decoded.findings) == 4
    for header, blob, finding in zip(headers, blobs, decoded.findings, strict=True):
        (col, row), radius, raw = blob
        (mark,) = finding.marks
        assert finding.kind == FindingKind.MASS
        assert finding.laterality == header.ImageLaterality
        assert mark.sop_instance_uid == header.SOPInstanceUID
        assert mark.point == (col, row)
        assert mark.bbox == pytest.approx((col - radius, row - radius, col + radius, row + radius))
        assert finding.attributes["raw_score"] == raw
        assert finding.score == pytest.approx(min(raw / 80.0, 1.0))
    assert set(decoded.referenced_sop_instance_uids) == {h.SOPInstanceUID for h in headers}


def test_laterality_falls_back_to_the_image_header() -> None:
    headers = four_view_study()
    for h in headers:
        del h.ImageLaterality  # library entries then carry no Image Laterality
    sr = build_cad_sr(headers, [((10.0, 10.0), 5.0, 50.0)] * 4)
    assert decode_findings(sr).findings == ()
    sides = {h.SOPInstanceUID: "R" for h in headers}
    assert {f.laterality for f in decode_findings(sr, image_laterality=sides).findings} == {"R"}


def test_ellipse_outline_gives_its_extent() -> None:
    headers = four_view_study()[:1]
    sr = build_cad_sr(headers, [((100.0, 200.0), 10.0, 50.0)])
    outline = sr.ContentSequence[2].ContentSequence[0].ContentSequence[1].ContentSequence[5]
    outline.GraphicType = "ELLIPSE"
    outline.GraphicData = [80.0, 200.0, 120.0, 200.0, 100.0, 190.0, 100.0, 210.0]
    (finding,) = decode_findings(sr).findings
    assert finding.marks[0].bbox == pytest.approx((80.0, 190.0, 120.0, 210.0))


def test_not_a_cad_sr_is_refused() -> None:
    header = four_view_study()[0]
    with pytest.raises(InvalidInputError, match="not a Mammography CAD SR"):
        decode_findings(header)
    headers, result = findings_study()
    sr = MammographyCADSR.from_result(result, density_manifest(), headers, CREATED).dataset
    sr.ConceptNameCodeSequence[0].CodeValue = "126000"  # TID 1500 root
    with pytest.raises(InvalidInputError, match="root concept"):
        decode_findings(sr)
    with pytest.raises(InvalidInputError, match="scale"):
        decode_findings(sr, scale=(1.0, 1.0))


def test_normalise_clips() -> None:
    assert normalise(5.0, (0.0, 10.0)) == 0.5
    assert normalise(-1.0, (0.0, 10.0)) == 0.0
    assert normalise(12.0, (0.0, 10.0)) == 1.0


def test_vendor_blob_finder_finds_a_bright_spot() -> None:
    image = np.full((800, 640), 1000, dtype=np.uint16)
    image[400:440, 300:340] += 2000
    (col, row), radius, certainty = brightest_blob(image, 0.1)
    assert abs(col - 320) <= 8 and abs(row - 420) <= 8
    assert radius == pytest.approx(60.0) and 0 < certainty <= 100


def test_kind_from_composite_and_unknown_codes_skipped() -> None:
    headers, result = findings_study()
    unknown = replace(result, findings=result.findings[:1])
    sr = MammographyCADSR.from_result(unknown, density_manifest(), headers, CREATED).dataset
    (finding,) = decode_findings(sr).findings
    assert finding.kind == FindingKind.CALCIFICATION_CLUSTER and len(finding.marks) == 2
    assert all(len(m.members) == 5 for m in finding.marks)


def test_a_temporal_composite_is_one_finding_with_its_prior_marks() -> None:
    headers, result, prior = compared_study()
    ds = MammographyCADSR(headers, result, density_manifest(), CREATED, prior_sources=prior).dataset
    decoded = decode_findings(ds)
    assert [f.id for f in decoded.findings] == ["calc-1", "mass-1", "mass-2"]
    for got, want in zip(decoded.findings, result.findings, strict=True):
        assert [m.sop_instance_uid for m in got.marks] == [m.sop_instance_uid for m in want.marks]
        assert got.comparison is not None and want.comparison is not None
        assert got.comparison.change == want.comparison.change
        assert [m.sop_instance_uid for m in got.comparison.prior_marks] == [
            m.sop_instance_uid
            for m in (() if want.comparison.change == ChangeKind.NEW else want.comparison.prior_marks)
        ]
    calc = decoded.findings[0].comparison
    assert calc is not None and calc.size_change_mm == 2.0 and calc.prior_study_instance_uid == PRIOR_STUDY
    assert decoded.findings[0].size_mm == 7.0
