"""A stand-in commercial CAD engine that is a DICOM node (a real, separate process in tests).

    python tests/support/vendor_engine.py --ae VENDORCAD --port P \
        --return-ae BGRETURN --return-host 127.0.0.1 --return-port Q --record FILE [--never-answer]

It receives images by C-STORE; when the association is released it finds, for each study received,
the brightest blob of each image (difference of Gaussians on an 8x down-sampled copy, inside the
eroded breast) and writes its OWN Mammography CAD SR by hand with pydicom — not breastgate's
encoder, and shaped differently: one TID 4003 per image, Center POINT plus Outline CIRCLE, the
score as Certainty of Finding 0-100 % — then C-STOREs it to the return address. Every attribute it
received is appended to ``--record`` (JSON lines) so a test can prove nothing identifying arrived.
``--never-answer`` receives but never sends a result (a hung engine); ``--answer broken`` sends a
CAD SR whose root is not TID 4000, ``--answer sc-only`` the same object as a Secondary Capture.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, AllStoragePresentationContexts, evt
from scipy import ndimage

CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
VERIFICATION = "1.2.840.10008.1.1"
ALGORITHM = ("VendorCAD BlobFinder", "2.3.1")
DOWNSAMPLE = 8
LOGGER = logging.getLogger("vendor_engine")


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = value, scheme, meaning
    return ds


def _item(rel: str, vt: str, concept: tuple[str, str, str] | None = None, **values: Any) -> Dataset:
    ds = Dataset()
    ds.RelationshipType = rel
    ds.ValueType = vt
    if concept is not None:
        ds.ConceptNameCodeSequence = DicomSequence([_code(*concept)])
    for key, value in values.items():
        setattr(ds, key, value)
    if vt == "CONTAINER":
        ds.ContinuityOfContent = "SEPARATE"
    return ds


def _ref(rel: str, position: Sequence[int]) -> Dataset:
    ds = Dataset()
    ds.RelationshipType = rel
    ds.ReferencedContentItemIdentifier = list(position)
    return ds


def _children(ds: Dataset, *items: Dataset) -> Dataset:
    ds.ContentSequence = DicomSequence(list(items))
    return ds


def brightest_blob(pixels: np.ndarray, spacing_mm: float) -> tuple[tuple[float, float], float, float]:
    """((col, row) centre, radius in pixels, 0-100 certainty) of the most prominent bright blob."""
    f = DOWNSAMPLE
    h, w = pixels.shape[0] // f * f, pixels.shape[1] // f * f
    small = pixels[:h, :w].astype(np.float32).reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    mask = ndimage.binary_erosion(small > 0.1 * float(small.max()), iterations=12)
    dog = ndimage.gaussian_filter(small, 3) - ndimage.gaussian_filter(small, 12)
    if not mask.any():
        mask = np.ones_like(small, dtype=bool)
    dog[~mask] = -np.inf
    row, col = np.unravel_index(int(np.argmax(dog)), dog.shape)
    strength = float(dog[row, col])
    certainty = round(100.0 * (1.0 - math.exp(-max(strength, 0.0) / 1500.0)), 1)
    radius = 6.0 / spacing_mm  # a 12 mm circle
    return ((col + 0.5) * f, (row + 0.5) * f), radius, certainty


def _spacing(ds: Dataset) -> float:
    for kw in ("ImagerPixelSpacing", "PixelSpacing"):
        value = ds.get(kw)
        if value:
            return float(value[0])
    return 0.1


def build_cad_sr(
    images: Sequence[Dataset], blobs: Sequence[tuple[tuple[float, float], float, float]]
) -> Dataset:
    """The vendor's Mammography CAD SR (TID 4000) for one study: one finding per image."""
    first = images[0]
    now = datetime.now()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CAD_SR
    ds.SOPInstanceUID = generate_uid(
        entropy_srcs=["vendorcad", *sorted(str(i.SOPInstanceUID) for i in images)]
    )
    ds.InstanceCreationDate, ds.InstanceCreationTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
               "AccessionNumber", "ReferringPhysicianName", "StudyID"):  # fmt: skip
        setattr(ds, kw, first.get(kw, ""))
    ds.StudyInstanceUID = first.StudyInstanceUID
    ds.Modality = "SR"
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["vendorcad-series", str(first.StudyInstanceUID)])
    ds.SeriesNumber = 7001
    ds.ReferencedPerformedProcedureStepSequence = DicomSequence([])
    ds.Manufacturer = "VendorCAD Inc."
    ds.ManufacturerModelName = ALGORITHM[0]
    ds.SoftwareVersions = ALGORITHM[1]
    ds.InstanceNumber = 1
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ContentDate, ds.ContentTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.PerformedProcedureCodeSequence = DicomSequence([])
    by_series: dict[str, list[Dataset]] = {}
    for img in images:
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = img.SOPClassUID, img.SOPInstanceUID
        by_series.setdefault(str(img.SeriesInstanceUID), []).append(ref)
    study = Dataset()
    study.StudyInstanceUID = first.StudyInstanceUID
    series_items = []
    for uid, refs in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = uid
        item.ReferencedSOPSequence = DicomSequence(refs)
        series_items.append(item)
    study.ReferencedSeriesSequence = DicomSequence(series_items)
    ds.CurrentRequestedProcedureEvidenceSequence = DicomSequence([study])

    # Content: root [1]; Image Library is the 2nd child [1, 2]; image i is [1, 2, i].
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = DicomSequence([_code("111036", "DCM", "Mammography CAD Report")])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "4000"
    ds.ContentTemplateSequence = DicomSequence([template])
    language = _item("HAS CONCEPT MOD", "CODE", ("121049", "DCM", "Language of Content Item and Descendants"))
    language.ConceptCodeSequence = DicomSequence([_code("en-US", "RFC5646", "English (United States)")])
    library = _item("CONTAINS", "CONTAINER", ("111028", "DCM", "Image Library"))
    entries = []
    for img in images:
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = img.SOPClassUID, img.SOPInstanceUID
        entry = _item("CONTAINS", "IMAGE", ReferencedSOPSequence=DicomSequence([ref]))
        side = {"L": ("80248007", "SCT", "Left breast"), "R": ("73056007", "SCT", "Right breast")}
        context = []
        if str(img.get("ImageLaterality", "")) in side:
            lat = _item("HAS ACQ CONTEXT", "CODE", ("111027", "DCM", "Image Laterality"))
            lat.ConceptCodeSequence = DicomSequence([_code(*side[str(img.ImageLaterality)])])
            context.append(lat)
        if img.get("ViewCodeSequence"):
            view = _item("HAS ACQ CONTEXT", "CODE", ("111031", "DCM", "Image View"))
            v = img.ViewCodeSequence[0]
            view.ConceptCodeSequence = DicomSequence(
                [_code(v.CodeValue, v.CodingSchemeDesignator, v.CodeMeaning)]
            )
            context.append(view)
        entries.append(_children(entry, *context) if context else entry)
    _children(library, *entries)

    required = ("111150", "DCM", "Presentation Required: Rendering device is expected to present")
    density = ("129793001", "SCT", "Mammography breast density")
    impressions = []
    for index, ((col, row), radius, certainty) in enumerate(blobs, start=1):
        position = [1, 2, index]
        intent = _item("HAS CONCEPT MOD", "CODE", ("111056", "DCM", "Rendering Intent"))
        intent.ConceptCodeSequence = DicomSequence([_code(*required)])
        finding = _item("CONTAINS", "CODE", ("111059", "DCM", "Single Image Finding"))
        finding.ConceptCodeSequence = DicomSequence([_code(*density)])
        score = _item("HAS PROPERTIES", "NUM", ("111012", "DCM", "Certainty of Finding"))
        mv = Dataset()
        mv.NumericValue = f"{certainty:g}"
        mv.MeasurementUnitsCodeSequence = DicomSequence([_code("%", "UCUM", "Percent")])
        score.MeasuredValueSequence = DicomSequence([mv])
        center = _item("HAS PROPERTIES", "SCOORD", ("111010", "DCM", "Center"), GraphicType="POINT",
                       GraphicData=[float(col), float(row)])  # fmt: skip
        outline = _item("HAS PROPERTIES", "SCOORD", ("111041", "DCM", "Outline"), GraphicType="CIRCLE",
                        GraphicData=[float(col), float(row), float(col + radius), float(row)])  # fmt: skip
        _children(
            finding,
            copy_of(intent),
            _item("HAS PROPERTIES", "TEXT", ("111001", "DCM", "Algorithm Name"), TextValue=ALGORITHM[0]),
            _item("HAS PROPERTIES", "TEXT", ("111003", "DCM", "Algorithm Version"), TextValue=ALGORITHM[1]),
            score,
            _children(center, _ref("SELECTED FROM", position)),
            _children(outline, _ref("SELECTED FROM", position)),
        )
        box = _item("INFERRED FROM", "CONTAINER", ("111034", "DCM", "Individual Impression/Recommendation"))
        impressions.append(_children(box, intent, finding))
    summary = _item("CONTAINS", "CODE", ("111017", "DCM", "CAD Processing and Findings Summary"))
    summary.ConceptCodeSequence = DicomSequence(
        [_code("111242", "DCM", "All algorithms succeeded; with findings")]
    )
    _children(summary, *impressions)

    detections = _item("CONTAINS", "CODE", ("111064", "DCM", "Summary of Detections"))
    detections.ConceptCodeSequence = DicomSequence([_code("111222", "DCM", "Succeeded")])
    performed = _item("CONTAINS", "CODE", ("111022", "DCM", "Detection Performed"))
    performed.ConceptCodeSequence = DicomSequence([_code(*density)])
    _children(
        performed,
        _item("HAS PROPERTIES", "TEXT", ("111001", "DCM", "Algorithm Name"), TextValue=ALGORITHM[0]),
        _item("HAS PROPERTIES", "TEXT", ("111003", "DCM", "Algorithm Version"), TextValue=ALGORITHM[1]),
        *(_ref("HAS PROPERTIES", [1, 2, i]) for i in range(1, len(images) + 1)),
    )
    successful = _item("INFERRED FROM", "CONTAINER", ("111063", "DCM", "Successful Detections"))
    _children(detections, _children(successful, performed))
    analyses = _item("CONTAINS", "CODE", ("111065", "DCM", "Summary of Analyses"))
    analyses.ConceptCodeSequence = DicomSequence([_code("111225", "DCM", "Not Attempted")])
    _children(ds, language, library, summary, detections, analyses)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CAD_SR, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def copy_of(ds: Dataset) -> Dataset:
    out = Dataset()
    for elem in ds:
        out.add(elem)
    return out


def record(ds: Dataset, path: Path, calling_ae: str, lock: threading.Lock) -> None:
    """Append every element received (nested ones with their path) to ``path`` as one JSON line."""
    rows: list[list[str]] = []

    def walk(item: Dataset, prefix: str) -> None:
        for elem in item:
            where = f"{prefix}{elem.tag}"
            if elem.VR == "SQ":
                rows.append([where, elem.keyword, "SQ", ""])
                for i, child in enumerate(elem.value):
                    walk(child, f"{where}[{i}]")
            elif elem.tag == 0x7FE00010:
                rows.append([where, elem.keyword, elem.VR, "<pixels>"])
            else:
                rows.append([where, elem.keyword, elem.VR, str(elem.value)])

    walk(ds, "")
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        walk(meta, "meta")
    with lock, path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"calling_ae": calling_ae, "elements": rows}) + "\n")


class VendorEngine:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.record_path = Path(args.record)
        self.lock = threading.Lock()
        self.received: dict[int, list[Dataset]] = {}

    def handle_store(self, event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        record(ds, self.record_path, str(event.assoc.requestor.ae_title), self.lock)
        with self.lock:
            self.received.setdefault(id(event.assoc), []).append(ds)
        return 0x0000

    def handle_released(self, event: Any) -> None:
        with self.lock:
            images = self.received.pop(id(event.assoc), [])
        if images and not self.args.never_answer:
            threading.Thread(target=self.answer, args=(images,), daemon=True).start()

    def answer(self, images: list[Dataset]) -> None:
        by_study: dict[str, list[Dataset]] = {}
        for img in images:
            by_study.setdefault(str(img.StudyInstanceUID), []).append(img)
        for study_images in by_study.values():
            blobs = [brightest_blob(img.pixel_array, _spacing(img)) for img in study_images]
            sr = build_cad_sr(study_images, blobs)
            if self.args.answer == "broken":  # a CAD SR whose root is not TID 4000
                sr.ConceptNameCodeSequence[0].CodeValue = "126000"
            elif self.args.answer == "sc-only":  # a Secondary Capture and no CAD SR
                sr.SOPClassUID = sr.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
            ae = AE(ae_title=self.args.ae)
            ae.add_requested_context(str(sr.SOPClassUID), ExplicitVRLittleEndian)
            assoc = ae.associate(self.args.return_host, self.args.return_port, ae_title=self.args.return_ae)
            if not assoc.is_established:
                LOGGER.error("return address refused the association")
                continue
            status = assoc.send_c_store(sr)
            LOGGER.info("sent CAD SR, status %s", getattr(status, "Status", None))
            assoc.release()

    def serve(self) -> None:
        ae = AE(ae_title=self.args.ae)
        ae.supported_contexts = AllStoragePresentationContexts
        ae.add_supported_context(VERIFICATION)
        ae.maximum_pdu_size = 0
        handlers = [(evt.EVT_C_STORE, self.handle_store), (evt.EVT_RELEASED, self.handle_released)]
        server = ae.start_server(("127.0.0.1", self.args.port), block=False, evt_handlers=handlers)
        print("READY", flush=True)  # listening: the test may start sending
        try:
            threading.Event().wait()
        finally:
            server.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ae", default="VENDORCAD")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--return-ae", required=True)
    parser.add_argument("--return-host", default="127.0.0.1")
    parser.add_argument("--return-port", type=int, required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--never-answer", action="store_true")
    parser.add_argument("--answer", choices=("cad-sr", "broken", "sc-only"), default="cad-sr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    VendorEngine(args).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
