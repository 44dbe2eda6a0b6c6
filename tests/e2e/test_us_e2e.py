"""Breast ultrasound end to end: a US study (single-frame screen captures with burned-in location
text, one with calipers and a colour-Doppler box) arrives over DICOM; ``breastgate serve`` reads it
with ``breastgate.ultrasound`` and the PACS (a real Orthanc) receives the GSPS (lesion outline and
caliper lines) and the TID 1500 measurement report, each dciodvfy-clean; the lesion's location,
read from the burned-in text by OCR, equals the phantom's, and its size is within a millimetre or two.
A second study holds one lesion on two separate captures in orthogonal planes plus a colour
capture (calipers, colour Doppler): the lesion is one finding with a mark on each capture and three
diameters, and the colour capture's marks reach Orthanc as a Color Softcopy Presentation State.

Real processes: ``breastgate serve``, Orthanc, dcmtk ``storescu``, dciodvfy, Tesseract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import generate_uid

from breastgate.phantoms.us import UsLesionRequest, generate_us_study
from tests.support.e2e import gateway_with_pacs, outputs_by_series, write_study
from tests.support.gateway import GatewayProcess, storescu, wait_for
from tests.support.validators import dciodvfy

pytestmark = [pytest.mark.peers, pytest.mark.slow]

LESION = UsLesionRequest(
    width_mm=14.0, depth_mm=9.0, shape="oval", margin_detail="circumscribed", posterior="enhancement"
)
#: Series numbers of the US objects (DESIGN §4 "DICOM out"): GSPS and TID 1500.
SERIES = {9902: "GSPS", 9906: "TID 1500"}
#: ... and, with a colour capture, its Color Softcopy Presentation State, and the KOS.
COLOUR_SERIES = {**SERIES, 9905: "KOS", 9910: "CSPS"}


def _results(gateway: GatewayProcess, study_uid: str) -> dict[str, Any] | None:
    document: dict[str, Any] = gateway.get(f"/api/studies/{study_uid}/results")
    done = [a for a in document.get("algorithms", []) if a["id"] == "breastgate.ultrasound"]
    return document if done else None


def _through_the_gateway(
    tmp_path: Path, files: list[Path], study_uid: str, series: dict[int, str]
) -> dict[str, Any]:
    """Send ``files`` to ``breastgate serve``; wait for the objects of ``series`` in Orthanc, save
    each as ``tmp_path/<series>.dcm`` and check it with dciodvfy; return the results document."""
    with gateway_with_pacs(tmp_path, BG_ALGORITHMS="breastgate.ultrasound") as (gateway, pacs):
        gateway.env["BG_PACS_OBJECTS"] = f"{pacs.dicom_node}=all"
        pacs.start()
        gateway.start()
        storescu(gateway.dicom_port, files)
        objects = wait_for(
            lambda: outputs_by_series(pacs, study_uid, series), timeout=240, what="the US objects in the PACS"
        )
        for number, instance in objects.items():
            path = tmp_path / f"{number}.dcm"
            path.write_bytes(pacs.download(instance))
            assert dciodvfy(path).errors == [], series[number]
        document: dict[str, Any] = wait_for(
            lambda: _results(gateway, study_uid), timeout=60, what="the results"
        )
    return document


def test_a_us_study_gets_its_gsps_and_measurement_report_in_the_pacs(tmp_path: Path) -> None:
    study = generate_us_study(
        41, images=1, lesions=[LESION], style="caps_clock", location="text", overlays=False, dual=False
    )
    files = write_study(study, tmp_path / "us")
    truth = study.truth
    study_uid = truth["study_instance_uid"]
    document = _through_the_gateway(tmp_path, files, study_uid, SERIES)
    for number in SERIES:
        path = tmp_path / f"{number}.dcm"
        assert pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID == study_uid
    (algorithm,) = [a for a in document["algorithms"] if a["id"] == "breastgate.ultrasound"]
    assert algorithm["status"] == "ok", algorithm
    (image,) = truth["images"]
    (lesion,) = image["lesions"]
    shown = [f for f in document["findings"] if f["kind"] == "us_lesion" and f.get("shown")]
    assert shown, document["findings"]
    found = shown[0]
    assert found["laterality"] == image["laterality"]
    assert found["location"]["clock"] == image["location"]["clock"]
    assert found["location"]["distance_from_nipple_mm"] == image["location"]["distance_from_nipple_mm"]
    assert found["attributes"]["location_source"] == "ocr"
    assert found["attributes"]["width_mm"] == pytest.approx(lesion["width_mm"], abs=2.0)
    assert found["attributes"]["depth_mm"] == pytest.approx(lesion["depth_mm"], abs=2.0)


def test_orthogonal_captures_pair_and_a_colour_capture_gets_a_csps_in_the_pacs(tmp_path: Path) -> None:
    study = generate_us_study(
        41, images=2, orthogonal=True, lesions=[LESION], style="hours_plane", location="text", overlays=False
    )
    colour = generate_us_study(
        41, images=1, lesions=[LESION], style="hours_plane", location="text", overlays=True, dual=False
    ).datasets[0]
    colour.SOPInstanceUID = generate_uid(entropy_srcs=[str(colour.SOPInstanceUID), "colour"])
    colour.InstanceNumber = 3
    study.datasets.append(colour)
    files = write_study(study, tmp_path / "us")
    study_uid = study.truth["study_instance_uid"]
    (pair,) = study.truth["orthogonal_pairs"]
    document = _through_the_gateway(tmp_path, files, study_uid, COLOUR_SERIES)
    csps = pydicom.dcmread(tmp_path / "9910.dcm")
    referenced = {
        r.ReferencedSOPInstanceUID for s in csps.ReferencedSeriesSequence for r in s.ReferencedImageSequence
    }
    assert referenced == {str(colour.SOPInstanceUID)}
    shown = [f for f in document["findings"] if f["kind"] == "us_lesion" and f.get("shown")]
    paired = [f for f in shown if {m["sop_instance_uid"] for m in f["marks"]} == set(pair["images"])]
    assert paired, document["findings"]
    diameters = pair["diameters_mm"]
    expected = sorted((diameters["width"], diameters["elevation"], diameters["depth"]), reverse=True)
    assert paired[0]["diameters_mm"] == pytest.approx(expected, abs=2.0)
