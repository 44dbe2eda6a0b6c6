"""Colour sources (issue 19): a Color Softcopy Presentation State (PS3.3 A.33.2) carries the marks
on colour ultrasound images (RGB, YBR, PALETTE COLOR), a GSPS those on grayscale ones, never the
other way round; the ultrasound outputs split the marks between them, and the KOS references, for
each key image, the presentation state of the right class. Round-tripped through bytes."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from breastgate.domain.errors import EncodingError
from breastgate.domain.governance import OVERLAY_KINDS
from breastgate.domain.model import Finding, FindingKind
from breastgate.domain.outputs import DEFAULT_PACS_OBJECTS, OutputKind
from breastgate.pipeline.us_outputs import presentation_states
from breastgate.results.csps import (
    COLOR_SOFTCOPY_PRESENTATION_STATE_STORAGE,
    ColorSoftcopyPresentationState,
    srgb_profile,
)
from breastgate.results.gsps import (
    GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE,
    GrayscaleSoftcopyPresentationState,
    is_colour,
)
from breastgate.results.kos import KeyObjectSelectionDocument
from tests.support.us_sources import ALGO, VERSION, us_images


def _round_trip(ds: Dataset) -> Dataset:
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def test_colour_is_three_samples_or_palette() -> None:
    (grey, rgb), _ = us_images()
    assert not is_colour(grey) and is_colour(rgb)
    palette = Dataset()
    palette.SamplesPerPixel, palette.PhotometricInterpretation = 1, "PALETTE COLOR"
    ybr = Dataset()
    ybr.SamplesPerPixel, ybr.PhotometricInterpretation = 3, "YBR_FULL_422"
    assert is_colour(palette) and is_colour(ybr)


def test_a_csps_presents_the_marks_of_a_colour_image() -> None:
    (grey, rgb), (_, on_rgb) = us_images()
    csps = ColorSoftcopyPresentationState([on_rgb], [grey, rgb], ALGO, VERSION)
    ds = _round_trip(csps.dataset)
    assert ds.SOPClassUID == COLOR_SOFTCOPY_PRESENTATION_STATE_STORAGE
    assert ds.Modality == "PR" and int(ds.SeriesNumber) == 9910
    assert ds.StudyInstanceUID == rgb.StudyInstanceUID and ds.PatientID == rgb.PatientID
    # ICC Profile module (C.11.15): sRGB, as the image carries none; no grayscale pipeline
    assert bytes(ds.ICCProfile) == srgb_profile() and bytes(ds.ICCProfile)[36:40] == b"acsp"
    assert ds.ColorSpace == "SRGB"
    for keyword in ("SoftcopyVOILUTSequence", "PresentationLUTShape", "RescaleSlope"):
        assert keyword not in ds, keyword
    decoded = ColorSoftcopyPresentationState.from_dataset(ds)
    assert decoded.referenced == ((str(rgb.SOPInstanceUID), None),)
    drawn = [g for g in decoded.graphics if g.layer != "NOTICE"]
    assert drawn and {g.sop_instance_uid for g in drawn} == {str(rgb.SOPInstanceUID)}
    assert len(drawn) >= 3  # the outline and the two caliper lines
    with pytest.raises(Exception, match="not a"):
        GrayscaleSoftcopyPresentationState.from_dataset(ds)


def test_the_images_own_icc_profile_is_kept() -> None:
    (_, rgb), (_, on_rgb) = us_images()
    own = srgb_profile()[:128] + b"own profile"
    rgb.ICCProfile = own
    ds = ColorSoftcopyPresentationState([on_rgb], [rgb], ALGO, VERSION).dataset
    assert bytes(ds.ICCProfile) == own and "ColorSpace" not in ds


def test_a_gsps_refuses_a_colour_image_and_a_csps_a_grayscale_one() -> None:
    (grey, rgb), (on_grey, on_rgb) = us_images()
    with pytest.raises(EncodingError, match="colour image"):
        GrayscaleSoftcopyPresentationState([on_rgb], [rgb], ALGO, VERSION)
    with pytest.raises(EncodingError, match="grayscale image"):
        ColorSoftcopyPresentationState([on_grey], [grey], ALGO, VERSION)
    gsps = GrayscaleSoftcopyPresentationState([on_grey], [grey], ALGO, VERSION)
    csps = ColorSoftcopyPresentationState([on_rgb], [rgb], ALGO, VERSION)
    assert gsps.sop_instance_uid != csps.sop_instance_uid
    assert gsps.series_instance_uid != csps.series_instance_uid


def test_marks_are_split_between_gsps_and_csps_and_the_kos_references_the_right_class() -> None:
    (grey, rgb), (on_grey, on_rgb) = us_images()
    both = Finding("us-3", FindingKind.US_LESION, "R", 0.9, on_grey.marks + on_rgb.marks, size_mm=14.0)
    states = presentation_states([both], [grey, rgb], ALGO, VERSION)
    assert [s.kind for s in states] == [OutputKind.GSPS, OutputKind.CSPS]
    gsps, csps = (s.dataset for s in states)
    assert gsps.SOPClassUID == GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE
    assert GrayscaleSoftcopyPresentationState.from_dataset(gsps).referenced == (
        (str(grey.SOPInstanceUID), None),
    )
    assert ColorSoftcopyPresentationState.from_dataset(csps).referenced == ((str(rgb.SOPInstanceUID), None),)
    only_grey = presentation_states([on_grey], [grey, rgb], ALGO, VERSION)
    assert [s.kind for s in only_grey] == [OutputKind.GSPS]
    kos = KeyObjectSelectionDocument([both], [grey, rgb], ALGO, VERSION, presentation_states=[gsps, csps])
    decoded = KeyObjectSelectionDocument.from_dataset(_round_trip(kos.dataset))
    assert set(decoded.presentation_states) == {
        (str(grey.SOPInstanceUID), GRAYSCALE_SOFTCOPY_PRESENTATION_STATE_STORAGE, str(gsps.SOPInstanceUID)),
        (str(rgb.SOPInstanceUID), COLOR_SOFTCOPY_PRESENTATION_STATE_STORAGE, str(csps.SOPInstanceUID)),
    }
    assert {str(gsps.SOPInstanceUID), str(csps.SOPInstanceUID)} <= set(decoded.evidence)
    plain = KeyObjectSelectionDocument.from_dataset(
        KeyObjectSelectionDocument([both], [grey, rgb], ALGO, VERSION).dataset
    )
    assert plain.presentation_states == ()


def test_a_csps_is_routed_as_the_gsps_an_overlay_every_pacs_node_gets() -> None:
    assert {OutputKind.GSPS, OutputKind.CSPS} <= OVERLAY_KINDS  # assistive mode reaches the PACS
    assert {OutputKind.GSPS, OutputKind.CSPS} <= DEFAULT_PACS_OBJECTS
