"""Coded concepts used by the Mammography CAD SR encoder (PS3.16 CIDs named per constant)."""

from __future__ import annotations

from breastgate.results.sr_content import Code

# Concept names (DCM unless stated; PS3.16 Annex D)
MAMMO_CAD_REPORT = Code("111036", "DCM", "Mammography CAD Report")
LANGUAGE = Code("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH = Code("en-US", "RFC5646", "English (United States)")
IMAGE_LIBRARY = Code("111028", "DCM", "Image Library")
IMAGE_LATERALITY = Code("111027", "DCM", "Image Laterality")
IMAGE_VIEW = Code("111031", "DCM", "Image View")
IMAGE_VIEW_MODIFIER = Code("111032", "DCM", "Image View Modifier")
PATIENT_ORIENTATION_ROW = Code("111044", "DCM", "Patient Orientation Row")
PATIENT_ORIENTATION_COLUMN = Code("111043", "DCM", "Patient Orientation Column")
STUDY_DATE = Code("111060", "DCM", "Study Date")
STUDY_TIME = Code("111061", "DCM", "Study Time")
CONTENT_DATE = Code("111018", "DCM", "Content Date")
CONTENT_TIME = Code("111019", "DCM", "Content Time")
HORIZONTAL_PIXEL_SPACING = Code("111026", "DCM", "Horizontal Pixel Spacing")
VERTICAL_PIXEL_SPACING = Code("111066", "DCM", "Vertical Pixel Spacing")
POSITIONER_PRIMARY_ANGLE = Code("112011", "DCM", "Positioner Primary Angle")
CAD_SUMMARY = Code("111017", "DCM", "CAD Processing and Findings Summary")
IMPRESSION_DESCRIPTION = Code("111033", "DCM", "Impression Description")
INDIVIDUAL_IMPRESSION = Code("111034", "DCM", "Individual Impression/Recommendation")
RENDERING_INTENT = Code("111056", "DCM", "Rendering Intent")
SINGLE_IMAGE_FINDING = Code("111059", "DCM", "Single Image Finding")
BREAST_COMPOSITION = Code("129715009", "SCT", "Breast composition")
PERCENT_FIBROGLANDULAR = Code("111046", "DCM", "Percent Fibroglandular Tissue")
BREAST_TISSUE_DENSITY = Code("112191", "DCM", "Breast tissue density")
LATERALITY = Code("272741003", "SCT", "Laterality")
ALGORITHM_NAME = Code("111001", "DCM", "Algorithm Name")
ALGORITHM_VERSION = Code("111003", "DCM", "Algorithm Version")
ALGORITHM_PARAMETERS = Code("111002", "DCM", "Algorithm Parameters")
SUMMARY_OF_DETECTIONS = Code("111064", "DCM", "Summary of Detections")
SUMMARY_OF_ANALYSES = Code("111065", "DCM", "Summary of Analyses")
SUCCESSFUL_ANALYSES = Code("111062", "DCM", "Successful Analyses")
FAILED_ANALYSES = Code("111024", "DCM", "Failed Analyses")
ANALYSIS_PERFORMED = Code("111004", "DCM", "Analysis Performed")

# CID 6043 Mammography CAD Analysis Type
BREAST_COMPOSITION_ANALYSIS = Code("133890006", "SCT", "Breast composition analysis")

# CID 6034 Rendering Intent
PRESENTATION_REQUIRED = Code(
    "111150", "DCM", "Presentation Required: Rendering device is expected to present"
)

# CID 6042 Status of Results
SUCCEEDED = Code("111222", "DCM", "Succeeded")
PARTIALLY_SUCCEEDED = Code("111223", "DCM", "Partially Succeeded")
FAILED = Code("111224", "DCM", "Failed")
NOT_ATTEMPTED = Code("111225", "DCM", "Not Attempted")

# CID 6047 CAD Processing and Findings Summary
ALL_SUCCEEDED_NO_FINDINGS = Code("111241", "DCM", "All algorithms succeeded; without findings")
ALL_SUCCEEDED_WITH_FINDINGS = Code("111242", "DCM", "All algorithms succeeded; with findings")
NOT_ALL_SUCCEEDED_NO_FINDINGS = Code("111243", "DCM", "Not all algorithms succeeded; without findings")
NOT_ALL_SUCCEEDED_WITH_FINDINGS = Code("111244", "DCM", "Not all algorithms succeeded; with findings")
NONE_SUCCEEDED = Code("111245", "DCM", "No algorithms succeeded; without findings")

# CID 6000 Overall Breast Composition, mapped to BI-RADS 5th edition letters (reference dicom-sr.md §2.2)
COMPOSITION_BY_CATEGORY: dict[str, Code] = {
    "a": Code("129716005", "SCT", "Almost entirely fat"),
    "b": Code("129717001", "SCT", "Scattered fibroglandular densities"),
    "c": Code("129718006", "SCT", "Heterogeneously dense"),
    "d": Code("129719003", "SCT", "Extremely dense"),
}
#: Legacy SNOMED-RT codes accepted when decoding.
_LEGACY_COMPOSITION = {"F-01711": "a", "F-01712": "b", "F-01713": "c", "F-01714": "d"}


def category_of(code: Code) -> str | None:
    """BI-RADS letter of a CID 6000 code (SCT or legacy SRT), or None."""
    for letter, known in COMPOSITION_BY_CATEGORY.items():
        if known.same(code):
            return letter
    return _LEGACY_COMPOSITION.get(code.value) if code.scheme == "SRT" else None


# CID 6022 Side
SIDE_BY_LATERALITY: dict[str, Code] = {
    "L": Code("80248007", "SCT", "Left breast"),
    "R": Code("73056007", "SCT", "Right breast"),
    "B": Code("63762007", "SCT", "Both breasts"),
}
_LEGACY_SIDE = {"T-04030": "L", "T-04020": "R", "T-04080": "B"}


def laterality_of(code: Code) -> str | None:
    """L, R or B for a CID 6022 code (SCT or legacy SRT), or None."""
    for side, known in SIDE_BY_LATERALITY.items():
        if known.same(code):
            return side
    return _LEGACY_SIDE.get(code.value) if code.scheme == "SRT" else None


# UCUM units
PERCENT = Code("%", "UCUM", "Percent")
MILLIMETER = Code("mm", "UCUM", "millimeter")
DEGREE = Code("deg", "UCUM", "degree")
