"""The enhanced form of a DCE-MRI phantom: one Enhanced MR Image instance (PS3.3 A.36.2).

Frames are stored phase by phase, slices ascending within a phase (frame = phase · slices + k + 1).
The Multi-frame Dimension module (C.7.6.17) indexes them by Temporal Position Index, then Stack ID
and In-Stack Position Number, all three in each frame's Frame Content Sequence (C.7.6.16.2.2).
Per frame: Frame Content (acquisition and reference date-times, duration, temporal position),
Plane Position (Patient) and MR Image Frame Type; shared: Pixel Measures, Plane Orientation,
MR Timing and Related Parameters, MR FOV/Geometry, MR Echo, MR Modifier, MR Imaging Modifier,
MR Receive/Transmit Coil, MR Averages, Frame Anatomy and Pixel Value Transformation (C.8.13.5).
"""

from __future__ import annotations

import datetime as dt
from typing import BinaryIO

import pydicom
from pydicom.sequence import Sequence as DicomSequence

from breastgate.phantoms.headers import code_item, file_meta
from breastgate.phantoms.mri_headers import ORIENTATION, DceHeaderContext, ds_str, patient_and_study

__all__ = ["ENHANCED_MR", "enhanced_dataset"]

#: Enhanced MR Image Storage (PS3.4 B.5).
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
_FRAME_CONTENT = 0x00209111
_DIMENSIONS = (
    (0x00209128, "Temporal Position Index"),
    (0x00209056, "Stack ID"),
    (0x00209057, "In-Stack Position Number"),
)
#: Image Flavor (Value 3, PS3.3 C.8.16.1.3): frames are PRE_ or POST_CONTRAST, the image MIXED.
_IMAGE_TYPE = ["ORIGINAL", "PRIMARY", "MIXED", "NONE"]


def _item(**attributes: object) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def _shared(ctx: DceHeaderContext) -> pydicom.Dataset:
    geo, seq = ctx.geometry, ctx.sequence
    shared = pydicom.Dataset()
    shared.PixelMeasuresSequence = DicomSequence(
        [
            _item(
                PixelSpacing=[ds_str(geo.pixel_mm), ds_str(geo.pixel_mm)],
                SliceThickness=ds_str(geo.slice_mm),
                SpacingBetweenSlices=ds_str(geo.slice_mm),
            )
        ]
    )
    shared.PlaneOrientationSequence = DicomSequence(
        [_item(ImageOrientationPatient=[ds_str(v) for v in ORIENTATION])]
    )
    shared.MRTimingAndRelatedParametersSequence = DicomSequence(
        [
            _item(
                RepetitionTime=seq.tr_ms,
                FlipAngle=seq.flip_deg,
                EchoTrainLength=1,
                RFEchoTrainLength=1,
                GradientEchoTrainLength=1,
                SpecificAbsorptionRateSequence=DicomSequence(
                    [
                        _item(
                            SpecificAbsorptionRateDefinition="IEC_WHOLE_BODY", SpecificAbsorptionRateValue=0.5
                        )
                    ]
                ),
                GradientOutputType="DB_DT",
                GradientOutput=10.0,
                OperatingModeSequence=DicomSequence(
                    [
                        _item(OperatingModeType="STATIC FIELD", OperatingMode="IEC_NORMAL"),
                        _item(OperatingModeType="RF", OperatingMode="IEC_NORMAL"),
                        _item(OperatingModeType="GRADIENT", OperatingMode="IEC_NORMAL"),
                    ]
                ),
            )
        ]
    )
    shared.MRFOVGeometrySequence = DicomSequence(
        [
            _item(
                InPlanePhaseEncodingDirection="ROW",
                MRAcquisitionFrequencyEncodingSteps=geo.cols,
                MRAcquisitionPhaseEncodingStepsInPlane=geo.rows,
                MRAcquisitionPhaseEncodingStepsOutOfPlane=geo.slices,
                PercentSampling=100.0,
                PercentPhaseFieldOfView=100.0 * geo.rows / geo.cols,
            )
        ]
    )
    shared.MREchoSequence = DicomSequence([_item(EffectiveEchoTime=seq.te_ms)])
    shared.MRModifierSequence = DicomSequence(
        [
            _item(
                InversionRecovery="NO",
                FlowCompensation="NONE",
                Spoiling="RF_AND_GRADIENT",
                T2Preparation="NO",
                SpectrallySelectedExcitation="NONE",
                SpatialPresaturation="NONE",
                PartialFourier="NO",
                ParallelAcquisition="NO",
            )
        ]
    )
    shared.MRImagingModifierSequence = DicomSequence(
        [
            _item(
                MagnetizationTransfer="NONE",
                BloodSignalNulling="NO",
                Tagging="NONE",
                TransmitterFrequency=42.577478 * seq.field_t,
                PixelBandwidth=400.0,
            )
        ]
    )
    shared.MRReceiveCoilSequence = DicomSequence(
        [
            _item(
                ReceiveCoilName="BreastCoil16",
                ReceiveCoilManufacturerName=ctx.manufacturer,
                ReceiveCoilType="MULTICOIL",
                QuadratureReceiveCoil="NO",
                MultiCoilDefinitionSequence=DicomSequence(
                    [_item(MultiCoilElementName="BR1", MultiCoilElementUsed="YES")]
                ),
            )
        ]
    )
    shared.MRTransmitCoilSequence = DicomSequence(
        [
            _item(
                TransmitCoilName="Body",
                TransmitCoilManufacturerName=ctx.manufacturer,
                TransmitCoilType="BODY",
            )
        ]
    )
    shared.MRAveragesSequence = DicomSequence([_item(NumberOfAverages=1.0)])
    anatomy = _item(FrameLaterality="B")
    anatomy.AnatomicRegionSequence = DicomSequence([code_item("76752008", "SCT", "Breast")])
    shared.FrameAnatomySequence = DicomSequence([anatomy])
    shared.PixelValueTransformationSequence = DicomSequence(
        [_item(RescaleIntercept="0", RescaleSlope="1", RescaleType="US")]
    )
    return shared


def _per_frame(ctx: DceHeaderContext) -> DicomSequence:
    geo = ctx.geometry
    items = []
    for phase in range(len(ctx.times_s)):
        acquired = ctx.acquired(phase).strftime("%Y%m%d%H%M%S.%f")
        reference = (ctx.injection + dt.timedelta(seconds=ctx.times_s[phase])).strftime("%Y%m%d%H%M%S.%f")
        frame_type = _item(
            FrameType=["ORIGINAL", "PRIMARY", "PRE_CONTRAST" if phase == 0 else "POST_CONTRAST", "NONE"],
            PixelPresentation="MONOCHROME",
            VolumetricProperties="VOLUME",
            VolumeBasedCalculationTechnique="NONE",
            ComplexImageComponent="MAGNITUDE",
            AcquisitionContrast="T1",
        )
        contrast = _item(
            ContrastBolusAgentNumber=1, ContrastBolusAgentAdministered="NO" if phase == 0 else "YES"
        )
        contrast.ContrastBolusAgentDetected = "NO" if phase == 0 else "YES"
        for k in range(geo.slices):
            content = _item(
                FrameAcquisitionDateTime=acquired,
                FrameReferenceDateTime=reference,
                FrameAcquisitionDuration=1000.0 * ctx.temporal_resolution_s,
                TemporalPositionIndex=phase + 1,
                StackID="1",
                InStackPositionNumber=k + 1,
                DimensionIndexValues=[phase + 1, 1, k + 1],
                FrameAcquisitionNumber=phase + 1,
            )
            item = pydicom.Dataset()
            item.FrameContentSequence = DicomSequence([content])
            item.PlanePositionSequence = DicomSequence(
                [_item(ImagePositionPatient=[ds_str(v) for v in geo.slice_position(k)])]
            )
            item.MRImageFrameTypeSequence = DicomSequence([frame_type])
            item.ContrastBolusUsageSequence = DicomSequence([contrast])
            items.append(item)
    return DicomSequence(items)


def _dimensions(ds: pydicom.Dataset, organization_uid: str) -> None:
    ds.DimensionOrganizationSequence = DicomSequence([_item(DimensionOrganizationUID=organization_uid)])
    ds.DimensionOrganizationType = "3D_TEMPORAL"
    ds.DimensionIndexSequence = DicomSequence(
        [
            _item(
                DimensionOrganizationUID=organization_uid,
                DimensionIndexPointer=pointer,
                FunctionalGroupPointer=_FRAME_CONTENT,
                DimensionDescriptionLabel=label,
            )
            for pointer, label in _DIMENSIONS
        ]
    )


def _contrast(ds: pydicom.Dataset, ctx: DceHeaderContext) -> None:
    """Enhanced Contrast/Bolus module (PS3.3 C.7.6.4b)."""
    agent = code_item("C-17800", "SRT", "Gadolinium")
    agent.ContrastBolusAgentNumber = 1
    agent.ContrastBolusAdministrationRouteSequence = DicomSequence(
        [code_item("47625008", "SCT", "Intravenous route")]
    )
    agent.ContrastBolusIngredientCodeSequence = DicomSequence([code_item("C-17800", "SRT", "Gadolinium")])
    agent.ContrastBolusVolume = 7.0
    agent.ContrastBolusIngredientConcentration = 1000.0
    agent.ContrastBolusIngredientOpaque = "NO"
    ds.ContrastBolusAgentSequence = DicomSequence([agent])
    del ctx


def enhanced_dataset(
    ctx: DceHeaderContext, uids: dict[str, str], pixel_data: bytes | BinaryIO
) -> pydicom.Dataset:
    """The whole study as one Enhanced MR Image (PS3.3 A.36.2): every phase and slice a frame."""
    geo, seq = ctx.geometry, ctx.sequence
    sop = uids["enhanced"]
    ds = pydicom.Dataset()
    ds.file_meta = file_meta(ENHANCED_MR, sop)
    patient_and_study(ds, ctx)
    ds.ImageType = _IMAGE_TYPE
    ds.SOPClassUID = ENHANCED_MR
    ds.SOPInstanceUID = sop
    start = ctx.acquired(0)
    ds.InstanceCreationDate = ds.ContentDate = start.strftime("%Y%m%d")
    ds.InstanceCreationTime = ds.ContentTime = start.strftime("%H%M%S")
    ds.AcquisitionDateTime = start.strftime("%Y%m%d%H%M%S")
    ds.AcquisitionDuration = float(ctx.times_s[-1] - ctx.times_s[0] + ctx.temporal_resolution_s)
    ds.SeriesDate = start.strftime("%Y%m%d")
    ds.SeriesTime = start.strftime("%H%M%S")
    ds.Modality = "MR"
    ds.SeriesInstanceUID = uids["series"]
    ds.SeriesNumber = "10"
    ds.SeriesDescription = "DYN_T1_FL3D_ENHANCED"
    ds.ProtocolName = "DYN_T1_FL3D_TRA"
    ds.OperatorsName = "OPERATOR^PHANTOM"
    ds.InstanceNumber = "1"
    ds.AcquisitionNumber = "1"
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    ds.ComplexImageComponent = "MAGNITUDE"
    ds.AcquisitionContrast = "T1"
    ds.ContentQualification = "PRODUCT"
    ds.ResonantNucleus = "1H"
    ds.KSpaceFiltering = "NONE"
    ds.MagneticFieldStrength = ds_str(seq.field_t)
    ds.ApplicableSafetyStandardAgency = "IEC"
    ds.ImageComments = "breastgate DCE-MRI phantom"
    ds.PulseSequenceName = "fl3d_dyn"
    ds.MRAcquisitionType = "3D"
    ds.EchoPulseSequence = "GRADIENT"
    ds.MultiPlanarExcitation = "NO"
    ds.PhaseContrast = "NO"
    ds.TimeOfFlightContrast = "NO"
    ds.SteadyStatePulseSequence = "NONE"
    ds.EchoPlanarPulseSequence = "NO"
    ds.SaturationRecovery = "NO"
    ds.SpectrallySelectedSuppression = "NONE"
    ds.OversamplingPhase = "NONE"
    ds.GeometryOfKSpaceTraversal = "RECTILINEAR"
    ds.SegmentedKSpaceTraversal = "SINGLE"
    ds.RectilinearPhaseEncodeReordering = "CENTRIC"
    ds.NumberOfKSpaceTrajectories = 1
    ds.CoverageOfKSpace = "FULL"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = geo.rows, geo.cols
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = geo.slices * len(ctx.times_s)
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionContextSequence = DicomSequence()
    ds.SharedFunctionalGroupsSequence = DicomSequence([_shared(ctx)])
    ds.PerFrameFunctionalGroupsSequence = _per_frame(ctx)
    _dimensions(ds, uids["dimension"])
    _contrast(ds, ctx)
    ds.add_new(0x7FE00010, "OW", pixel_data)
    return ds
