"""Coded concepts of the SR encoders: Mammography CAD SR and Breast Imaging Report SR (PS3.16 CIDs named
per constant)."""

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

SUCCESSFUL_DETECTIONS = Code("111063", "DCM", "Successful Detections")
FAILED_DETECTIONS = Code("111025", "DCM", "Failed Detections")
DETECTION_PERFORMED = Code("111022", "DCM", "Detection Performed")
COMPOSITE_FEATURE = Code("111015", "DCM", "Composite Feature")
COMPOSITE_TYPE = Code("111016", "DCM", "Composite type")
SCOPE_OF_FEATURE = Code("111057", "DCM", "Scope of Feature")
CERTAINTY_OF_FEATURE = Code("111011", "DCM", "Certainty of Feature")
CERTAINTY_OF_FINDING = Code("111012", "DCM", "Certainty of Finding")
CENTER = Code("111010", "DCM", "Center")
OUTLINE = Code("111041", "DCM", "Outline")
TRACKING_IDENTIFIER = Code("112039", "DCM", "Tracking Identifier")
NUMBER_OF_CALCIFICATIONS = Code("111038", "DCM", "Number of calcifications")
CALCIFICATION_TYPE = Code("111009", "DCM", "Calcification Type")
CALCIFICATION_DISTRIBUTION = Code("111008", "DCM", "Calcification Distribution")
SHAPE = Code("107644003", "SCT", "Shape")
MARGINS = Code("111037", "DCM", "Margins")
DIAMETER = Code("81827009", "SCT", "Diameter")  # CID 7470 (TID 1400 row 1)
PATH = Code("121055", "DCM", "Path")
CAD_OPERATING_POINT = Code("111071", "DCM", "CAD Operating Point")
MAXIMUM_CAD_OPERATING_POINT = Code("111072", "DCM", "Maximum CAD Operating Point")
RECOMMENDED_CAD_OPERATING_POINT = Code("111092", "DCM", "Recommended CAD Operating Point")

# CID 6043 Mammography CAD Analysis Type
BREAST_COMPOSITION_ANALYSIS = Code("133890006", "SCT", "Breast composition analysis")
SPATIAL_COLLOCATION_ANALYSIS = Code("133884007", "SCT", "Spatial collocation analysis")
IMAGE_QUALITY_ANALYSIS = Code("133887000", "SCT", "Image quality analysis")
TEMPORAL_CORRELATION = Code("133886009", "SCT", "Temporal correlation")

# CID 6034 Rendering Intent
PRESENTATION_REQUIRED = Code(
    "111150", "DCM", "Presentation Required: Rendering device is expected to present"
)
PRESENTATION_OPTIONAL = Code("111151", "DCM", "Presentation Optional: Rendering device may present")

# CID 6014 Mammography Single Image Finding / CID 6016 Composite Feature
MAMMO_DENSITY = Code("129793001", "SCT", "Mammography breast density")  # the CAD "mass candidate" code
INDIVIDUAL_CALCIFICATION = Code("129770007", "SCT", "Individual Calcification")
CALCIFICATION_CLUSTER = Code("129769006", "SCT", "Calcification Cluster")
ARCHITECTURAL_DISTORTION = Code("129792006", "SCT", "Architectural distortion of breast")
BREAST_MASS = Code("129788004", "SCT", "Mammographic breast mass")  # CID 6016 only

# CID 6035 Composite Feature Relation / CID 6036 Feature Scope
RELATED_SPATIALLY = Code("111154", "DCM", "Target content items are related spatially")
RELATED_TEMPORALLY = Code("111153", "DCM", "Target content items are related temporally")
MULTIPLE_IMAGES = Code("111158", "DCM", "Feature detected on multiple images")
# TID 4002 row 3 (value set CID 6002, :data:`CHANGES`) and CID 6037 (TID 4005 row 11, temporal only)
DIFFERENTIAL_DIAGNOSIS = Code("111023", "DCM", "Differential Diagnosis/Impression")
DIFFERENCE_IN_SIZE = Code("129806009", "SCT", "Difference in size")

# CID 6010 Calcification Type (keys: words an algorithm may put in Finding.attributes)
CALCIFICATION_TYPES: dict[str, Code] = {
    "fine_pleomorphic": Code("111344", "DCM", "Fine pleomorphic calcification"),
    "amorphous": Code("129760005", "SCT", "Amorphous calcification"),
    "punctate": Code("129755006", "SCT", "Punctate calcification"),
    "coarse_heterogeneous": Code("129763007", "SCT", "Heterogeneous calcification"),
    "fine_linear": Code("129761009", "SCT", "Fine, linear (casting) calcification"),
    "fine_linear_branching": Code("129762002", "SCT", "Fine linear, branching (casting) calcification"),
    "round": Code("129756007", "SCT", "Round shaped calcification"),
    "vascular": Code("129759000", "SCT", "Vascular calcification"),
}
#: CID 6010 value used when the algorithm reports no morphology: what a CAD detector finds.
MICROCALCIFICATION = Code("44771000", "SCT", "Microcalcifications of the breast")
# CID 6012 Calcification Distribution
CALCIFICATION_DISTRIBUTIONS: dict[str, Code] = {
    "diffuse": Code("129764001", "SCT", "Diffuse calcification distribution"),
    "linear": Code("129765000", "SCT", "Linear calcification distribution"),
    "grouped": Code("129766004", "SCT", "Grouped calcification distribution"),
    "regional": Code("129767008", "SCT", "Regional calcification distribution"),
    "segmental": Code("129768003", "SCT", "Segmental calcification distribution"),
}
# CID 6004 Shape / CID 6006 Margin
SHAPES: dict[str, Code] = {
    "round": Code("42700002", "SCT", "Round shape"),
    "oval": Code("84360004", "SCT", "Ovoid shape (Oval)"),
    "lobular": Code("40266001", "SCT", "Lobular"),
    "irregular": Code("49608001", "SCT", "Irregular"),
}
MARGIN_TYPES: dict[str, Code] = {
    "circumscribed": Code("129738007", "SCT", "Circumscribed lesion"),
    "microlobulated": Code("129739004", "SCT", "Microlobulated lesion"),
    "obscured": Code("129740002", "SCT", "Obscured lesion"),
    "indistinct": Code("129741003", "SCT", "Indistinct lesion"),
    "spiculated": Code("129742005", "SCT", "Spiculated lesion"),
}


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
NO_UNITS = Code("1", "UCUM", "no units")
ARBITRARY_UNIT = Code("[arb'U]", "UCUM", "arbitrary unit")  # TID 4023 row 1 (PixelMed PMP_4023ROW1)
RANGE_0_N = Code("{0:n}", "UCUM", "range: 0:n")  # TID 4023 rows 2 and 6
RANGE_1_N = Code("{1:n}", "UCUM", "range: 1:n")  # TID 4006 row 3

# CID 4014 View for Mammography, by ACR MQCM abbreviation
VIEW_BY_ABBREVIATION: dict[str, Code] = {
    "CC": Code("399162004", "SCT", "cranio-caudal"),
    "MLO": Code("399368009", "SCT", "medio-lateral oblique"),
    "ML": Code("399260004", "SCT", "medio-lateral"),
    "LM": Code("399352003", "SCT", "latero-medial"),
    "LMO": Code("399099002", "SCT", "latero-medial oblique"),
    "FB": Code("399196006", "SCT", "caudo-cranial (from below)"),
    "SIO": Code("399188001", "SCT", "superolateral to inferomedial oblique"),
    "ISO": Code("441555000", "SCT", "inferomedial to superolateral oblique"),
    "XCCL": Code("399192008", "SCT", "cranio-caudal exaggerated laterally"),
    "XCCM": Code("399101009", "SCT", "cranio-caudal exaggerated medially"),
}


def view_of(code: Code | None) -> str | None:
    """ACR abbreviation (CC, MLO, ...) of a CID 4014 code, or None."""
    for abbrev, known in VIEW_BY_ABBREVIATION.items():
        if known.same(code):
            return abbrev
    return None


# --- Breast Imaging Report, PS3.16 TID 4200-4208 (reference dicom-sr.md §2; meanings as pydicom) ---
BREAST_IMAGING_REPORT = Code("111400", "DCM", "Breast Imaging Report")
NARRATIVE_SUMMARY = Code("111412", "DCM", "Narrative Summary")
SUPPLEMENTARY_DATA = Code("111414", "DCM", "Supplementary Data")
OVERALL_ASSESSMENT = Code("111413", "DCM", "Overall Assessment")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
FINDINGS = Code("121070", "DCM", "Findings")  # TID 4206 row 1
FINDING = Code("121071", "DCM", "Finding")  # TID 4206 row 4; CID 6053 element
ASSESSMENT_CATEGORY = Code("111005", "DCM", "Assessment Category")
RECOMMENDED_FOLLOW_UP = Code("111053", "DCM", "Recommended Follow-up")
CHANGE_SINCE_LAST_MAMMOGRAM = Code("129720009", "SCT", "Change since last mammogram")

# CID 6052 section headings (current PS3.16 LOINC codes) and CID 6053 elements
SECTION_FINDINGS = Code("59776-5", "LN", "Findings")
SECTION_IMPRESSIONS = Code("19005-8", "LN", "Impressions")
SECTION_RECOMMENDATIONS = Code("18783-1", "LN", "Recommendations")
COMPARISON_TO_PREVIOUS = Code("111424", "DCM", "Comparison to previous studies")
IMPRESSION = Code("121073", "DCM", "Impression")
RECOMMENDATION = Code("121075", "DCM", "Recommendation")

# CID 6050 Breast Procedure Reported
MAMMOGRAM_BILATERAL = Code("36626-0", "LN", "breast - bilateral mammogram")
MAMMOGRAM_LEFT = Code("36627-8", "LN", "breast - left mammogram")
MAMMOGRAM_RIGHT = Code("37774-7", "LN", "breast - right mammogram")
MRI_OF_BREAST = Code("241615005", "SCT", "MRI of breast")
ULTRASONOGRAPHY_OF_BREAST = Code("47079000", "SCT", "Ultrasonography of breast")
MAMMOGRAPHY_CAD = Code("111411", "DCM", "Mammography CAD")

# CID 6027 Assessment from BI-RADS: only the categories an AI may draft (breastgate.domain.report)
BIRADS_BY_CATEGORY: dict[str, Code] = {
    "0": Code("397138000", "SCT", "0 - Incomplete - Need additional imaging evaluation +/- priors"),
    "1": Code("397140005", "SCT", "1 - Negative"),
    "2": Code("397141009", "SCT", "2 - Benign"),
}
#: Every CID 6027 category, for decoding (SCT, legacy SRT and BI codes).
_BIRADS_DECODE = {
    "397138000": "0", "397140005": "1", "397141009": "2", "397143007": "3", "397144001": "4",
    "397145000": "5", "F-037BB": "0", "F-037BC": "1", "F-037BD": "2", "F-037BF": "3", "F-037C0": "4",
    "F-037C1": "5", "MA.II.A.5.4A": "4A", "MA.II.A.5.4B": "4B", "MA.II.A.5.4C": "4C", "MA.II.A.5.6": "6",
}  # fmt: skip


def birads_of(code: Code | None) -> str | None:
    """BI-RADS category ("0"-"6", "4A"-"4C") of a CID 6027 code, or None."""
    return None if code is None else _BIRADS_DECODE.get(code.value)


# CID 6028 Mammography Recommended Follow-up
ADDITIONAL_PROJECTIONS = Code("111135", "DCM", "Additional projections")
NORMAL_INTERVAL_FOLLOW_UP = Code("111140", "DCM", "Normal interval follow-up")

# CID 6054 Breast Imaging Finding, by breastgate finding kind (enhancing and US lesions have none)
FINDING_BY_KIND: dict[str, Code] = {
    "mass": BREAST_MASS,
    "calcification_cluster": CALCIFICATION_CLUSTER,
    "architectural_distortion": ARCHITECTURAL_DISTORTION,
    "asymmetry": Code("129790003", "SCT", "Asymmetric breast tissue"),
}
# CID 6002 Change Since Last Mammogram or Prior Surgery, by results JSON comparison.change
CHANGES: dict[str, Code] = {
    "new": Code("129721008", "SCT", "New finding"),
    "stable": Code("129723006", "SCT", "No significant changes in the finding"),
    "increased": Code("15454001", "SCT", "Increase in size"),
    "decreased": Code("19776001", "SCT", "Decrease in size"),
}
#: CID 6010 typically benign morphologies (BI-RADS 5th edition) the report draft may name.
BENIGN_CALCIFICATION_TYPES: dict[str, Code] = {
    "coarse": Code("129749001", "SCT", "Coarse (popcorn-like) calcification"),
    "dystrophic": Code("129750001", "SCT", "Dystrophic calcification"),
    "rim": Code("129751002", "SCT", "Eggshell calcification"),
    "large_rod_like": Code("129752009", "SCT", "Large rod-like calcification"),
    "milk_of_calcium": Code("129753004", "SCT", "Milk of calcium calcification"),
    "skin": Code("129757003", "SCT", "Calcified skin of breast"),
    "suture": Code("129758008", "SCT", "Calcified suture material"),
}


# --- Imaging Measurement Report, PS3.16 TID 1500 / 1410 / 1419 (reference dicom-sr.md §3.1;
# codes and meanings checked against pydicom 3.0's PS3.16 dictionaries) ---
IMAGING_MEASUREMENT_REPORT = Code("126000", "DCM", "Imaging Measurement Report")  # CID 7021
IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
QUALITATIVE_EVALUATIONS = Code("C0034375", "UMLS", "Qualitative Evaluations")
TRACKING_UNIQUE_IDENTIFIER = Code("112040", "DCM", "Tracking Unique Identifier")
IMAGE_REGION = Code("111030", "DCM", "Image Region")
IMAGE_LIBRARY_GROUP = Code("126200", "DCM", "Image Library Group")
FINDING_SITE = Code("363698007", "SCT", "Finding Site")
TOPOGRAPHICAL_MODIFIER = Code("106233006", "SCT", "Topographical modifier")
COMMENT = Code("121106", "DCM", "Comment")
# TID 1002 / 1004 observer context (CID 270 Observer Type)
OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
DEVICE = Code("121007", "DCM", "Device")
DEVICE_OBSERVER_UID = Code("121012", "DCM", "Device Observer UID")
DEVICE_OBSERVER_NAME = Code("121013", "DCM", "Device Observer Name")
DEVICE_OBSERVER_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
DEVICE_OBSERVER_MODEL_NAME = Code("121015", "DCM", "Device Observer Model Name")
# CID 4 Anatomic Region / CID 6020 Quadrant Location, by results JSON location.quadrant
BREAST = Code("76752008", "SCT", "Breast")
QUADRANTS: dict[str, Code] = {
    "UOQ": Code("76365002", "SCT", "Upper outer quadrant of breast"),
    "UIQ": Code("77831004", "SCT", "Upper inner quadrant of breast"),
    "LOQ": Code("33564002", "SCT", "Lower outer quadrant of breast"),
    "LIQ": Code("19100000", "SCT", "Lower inner quadrant of breast"),
}
# CID 244 Laterality (TID 1419 row 3), by breast side
LATERALITY_BY_SIDE: dict[str, Code] = {
    "L": Code("7771000", "SCT", "Left"),
    "R": Code("24028007", "SCT", "Right"),
    "B": Code("51440002", "SCT", "Bilateral"),
}
# CID 6018 Clockface Location or Region, by results JSON location.clock (1-12)
CLOCK_POSITIONS: dict[int, Code] = {
    hour: Code(value, "SCT", f"{hour} o'clock position")
    for hour, value in enumerate(
        ("129772004", "129773009", "129774003", "129775002", "129776001", "129777005",
         "129778000", "129779008", "129780006", "129781005", "129782003", "129783008"),
        start=1,
    )
}  # fmt: skip


# --- DCE-MRI lesions: SEG segment properties and TID 1500 volumetric groups (PS3.16; IBSI codes of
# CID 7470 / 7472, checked against pydicom 3.0's PS3.16 dictionaries) ---
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Code("49755003", "SCT", "Morphologically Abnormal Structure")  # CID 7150
LESION = Code("52988006", "SCT", "Lesion")  # CID 7151; mass or non-mass enhancement alike
MAJOR_AXIS_3D = Code("TDIC", "IBSI", "Major Axis in 3D Length")  # CID 7470
MINOR_AXIS_3D = Code("P9VJ", "IBSI", "Minor Axis in 3D Length")
LEAST_AXIS_3D = Code("7J51", "IBSI", "Least Axis in 3D Length")
VOLUME_VOXEL_SUMMATION = Code("YEKZ", "IBSI", "Volume from Voxel Summation")  # CID 7472
SIGNAL_CHANGE = Code("113059", "DCM", "Signal change")  # CID 7180 / 218: percent enhancement
MAXIMUM = Code("56851009", "SCT", "Maximum")  # CID 7464 derivation
CUBIC_MILLIMETER = Code("mm3", "UCUM", "cubic millimeter")
# CID 6345 MRI Enhancement Pattern, by delayed phase (the BI-RADS curve types I / II / III)
ENHANCEMENT_PATTERN = Code("RID6058", "RADLEX", "Enhancement pattern")  # CID 6334 assessment type
DELAYED_PHASES: dict[str, Code] = {
    "persistent": Code("130597", "DCM", "Persistent delayed phase: Type 1 curve"),
    "plateau": Code("130598", "DCM", "Plateau delayed phase: Type 2 curve"),
    "washout": Code("130599", "DCM", "Washout delayed phase: Type 3 curve"),
}
# breastgate's local coding scheme (99BG, as the HL7 and UPS codes) where PS3.16 has no code:
# the BI-RADS MRI initial phase and the kinetic shares of a lesion's enhancing voxels.
LOCAL_SCHEME = "99BG"
INITIAL_PHASE = Code("MRI-INITIAL-PHASE", LOCAL_SCHEME, "Initial phase enhancement")
INITIAL_PHASES: dict[str, Code] = {
    "slow": Code("MRI-INITIAL-SLOW", LOCAL_SCHEME, "Slow initial phase"),
    "medium": Code("MRI-INITIAL-MEDIUM", LOCAL_SCHEME, "Medium initial phase"),
    "fast": Code("MRI-INITIAL-FAST", LOCAL_SCHEME, "Fast initial phase"),
}
KINETIC_SHARES: dict[str, Code] = {
    "washout": Code("MRI-WASHOUT-SHARE", LOCAL_SCHEME, "Washout share of enhancing voxels"),
    "plateau": Code("MRI-PLATEAU-SHARE", LOCAL_SCHEME, "Plateau share of enhancing voxels"),
    "persistent": Code("MRI-PERSISTENT-SHARE", LOCAL_SCHEME, "Persistent share of enhancing voxels"),
}
