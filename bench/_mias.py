"""Real-mammogram benchmarks' shared bits: mini-MIAS labels, folds by woman, film as DICOM.

mini-MIAS (Suckling et al. 1994) is digitised film: 1024 × 1024, 8 bits, 200 µm pixels, MLO views,
one breast per image, reference numbers in left/right pairs of one woman (mdb001 right and mdb002
left are the same woman: odd numbers are right breasts, even numbers left). The images are under
MIAS's research licence: never copied into this repository and never needed by ``make test``; the
benchmarks read them from the path they are given.

Cross-validation is **by woman**: both breasts of a woman fall in the same fold, and the folds are
stratified by what the woman's images hold (mass, calcification, other finding, normal) so that
each fold sees every kind. Every fitted or chosen parameter is fitted on the other folds and
measured on the held-out one.
"""

from __future__ import annotations

import csv
import hashlib
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pydicom

    from breastgate.domain.model import StudyRef

SPACING_MM = 0.2
MASS_CLASSES = ("CIRC", "SPIC", "MISC")
CALC_CLASSES = ("CALC",)
#: The film digitiser's header: 8-bit MONOCHROME2, 200 µm, MLO, labels and markers left in the pixels.
MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"


@dataclass(frozen=True)
class Lesion:
    """One labelled finding: MIAS class (CALC, CIRC, SPIC, MISC, ARCH, ASYM), centre (col, row), radius px."""

    cls: str
    severity: str
    centre: tuple[float, float] | None
    radius: float | None

    def contains(self, point: tuple[float, float]) -> bool:
        """A mark hits the lesion when its centre lies inside the labelled circle."""
        if self.centre is None or self.radius is None:
            return False
        return math.dist(point, self.centre) <= self.radius


@dataclass(frozen=True)
class Case:
    """One image of the set (one breast of one woman)."""

    refnum: str
    side: str  # "L" or "R"
    tissue: str  # MIAS background tissue: F fatty, G fatty-glandular, D dense-glandular
    lesions: tuple[Lesion, ...] = field(default=())

    @property
    def woman(self) -> int:
        """mdb001/mdb002 → 1, mdb003/mdb004 → 2, …"""
        return (int(self.refnum[3:]) + 1) // 2

    @property
    def normal(self) -> bool:
        return not self.lesions

    def of(self, classes: Sequence[str]) -> list[Lesion]:
        return [les for les in self.lesions if les.cls in classes]

    @property
    def content(self) -> str:
        """mass, calcification, other (architectural distortion, asymmetry) or normal."""
        classes = {les.cls for les in self.lesions}
        if classes & set(MASS_CLASSES):
            return "mass"
        if "CALC" in classes:
            return "calcification"
        return "other" if classes else "normal"


def read_cases(folder: Path) -> list[Case]:
    """The labelled images of a mini-MIAS folder (``labels.csv`` and ``images/<refnum>.png``)."""
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise SystemExit(f"{labels}: not found; --mias must name a folder holding labels.csv and images/")
    rows: dict[str, dict[str, Any]] = {}
    with labels.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            entry = rows.setdefault(
                row["refnum"], {"side": row["side"], "tissue": row["background_tissue"], "lesions": []}
            )
            if row["abn_class"] == "NORM":
                continue
            centre = (float(row["x"]), float(row["y_from_top"])) if row["x"] else None
            radius = float(row["radius"]) if row["radius"] else None
            entry["lesions"].append(Lesion(row["abn_class"], row["severity"], centre, radius))
    return [Case(refnum, e["side"], e["tissue"], tuple(e["lesions"])) for refnum, e in sorted(rows.items())]


def image_path(folder: Path, refnum: str) -> Path:
    for suffix in (".png", ".pgm"):
        path = folder / "images" / f"{refnum}{suffix}"
        if path.is_file():
            return path
    raise SystemExit(f"{folder / 'images' / refnum}.png: not found")


def folds_by_woman(cases: Sequence[Case], k: int = 5) -> dict[str, int]:
    """refnum → fold (0 … k−1): a woman's images share a fold; stratified by content, deterministic."""
    women: dict[int, list[Case]] = {}
    for case in cases:
        women.setdefault(case.woman, []).append(case)
    order = ("mass", "calcification", "other", "normal")

    def stratum(images: list[Case]) -> int:
        return min(order.index(c.content) for c in images)

    def key(woman: int) -> tuple[int, str]:
        return stratum(women[woman]), hashlib.sha256(str(woman).encode()).hexdigest()

    out: dict[str, int] = {}
    for i, woman in enumerate(sorted(women, key=key)):
        for case in women[woman]:
            out[case.refnum] = i % k
    return out


def dicom_from_film(png: Path, case: Case) -> pydicom.Dataset:
    """The digitised film as a site's digitiser sends it: Digital Mammography For Presentation, 8 bits.

    MONOCHROME2, 200 µm Imager Pixel Spacing, the label's laterality, view MLO, no Patient
    Orientation (the chest-wall side comes from the pixels); film labels and markers stay in.
    """
    import pydicom
    from PIL import Image
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.uint8)
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[case.refnum, "sop"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[case.refnum, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[case.refnum, "series"])
    ds.PatientID, ds.PatientName = case.refnum, "MIAS^" + case.refnum
    ds.Modality = "MG"
    ds.Manufacturer = "Film digitiser"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ImageLaterality = case.side
    ds.ViewPosition = "MLO"
    ds.ImagerPixelSpacing = [f"{SPACING_MM:g}", f"{SPACING_MM:g}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    return ds


@contextmanager
def film_study(folder: Path, case: Case) -> Iterator[StudyRef]:
    """The case saved as a one-image study, indexed as the gateway indexes what it receives."""
    from breastgate.domain.model import InstanceRef, PresentationIntent, StudyRef

    ds = dicom_from_film(image_path(folder, case.refnum), case)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "0.dcm")
        ds.save_as(path, enforce_file_format=True)
        ref = InstanceRef(
            str(ds.StudyInstanceUID),
            str(ds.SeriesInstanceUID),
            str(ds.SOPInstanceUID),
            str(ds.SOPClassUID),
            "MG",
            path,
            case.side,
            "MLO",
            PresentationIntent.FOR_PRESENTATION,
        )
        yield StudyRef(ref.study_instance_uid, (ref,))


def run_shipped(algorithm: Any, study: StudyRef, case: Case) -> dict[str, Any]:
    """A detector run as the gateway runs it (``select`` → ``run``): the record's common part.

    refnum, status, the marks it shows and keeps (``[[col, row], score]``), its operating threshold
    and the seconds the run took.
    """
    started = time.perf_counter()
    result = algorithm.run(algorithm.select(study))
    seconds = time.perf_counter() - started
    return {
        "refnum": case.refnum,
        "status": str(result.status),
        "marks": [[list(m.point), f.score] for f in result.findings for m in f.marks],
        "operating_threshold": result.operating_threshold,
        "seconds": round(seconds, 3),
    }


# --- figures ---------------------------------------------------------------------------------------


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Mann-Whitney AUC (ties count one half); NaN without both classes."""
    if not positives or not negatives:
        return float("nan")
    p = np.asarray(positives, float)[:, None]
    n = np.asarray(negatives, float)[None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def auc_ci(
    positives: Sequence[float], negatives: Sequence[float], z: float = 1.96
) -> tuple[float, float, float]:
    """AUC and its 95 % interval (Hanley & McNeil 1982 standard error), clipped to 0-1."""
    a = auc(positives, negatives)
    n1, n2 = len(positives), len(negatives)
    if math.isnan(a):
        return a, a, a
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt(max(a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a), 0.0) / (n1 * n2))
    return a, max(0.0, a - z * se), min(1.0, a + z * se)


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float, float]:
    """A proportion and its 95 % Wilson score interval."""
    if total == 0:
        return float("nan"), float("nan"), float("nan")
    p = successes / total
    den = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / den
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / den
    return p, max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Marked:
    """One image's scored marks for one detector: (col, row) point and score."""

    case: Case
    marks: tuple[tuple[tuple[float, float], float], ...]


def froc(
    images: Sequence[Marked], classes: Sequence[str], fp_rates: Sequence[float] = (0.25, 0.5, 1.0, 2.0)
) -> dict[float, tuple[int, int, float]]:
    """Lesion sensitivity at each false-marks-per-image rate: rate → (hits, lesions, threshold).

    A mark is a hit when its centre lies inside a lesion of ``classes``; a mark inside a labelled
    finding of another class (an asymmetry, a distortion) is neither a hit nor a false mark. The
    threshold for a rate is the lowest score at which the false marks per image stay at or below it.
    """
    lesions = [(i, les) for i, im in enumerate(images) for les in im.case.of(classes) if les.centre]
    false_scores: list[float] = []
    hit_scores: dict[int, float] = {}
    for i, im in enumerate(images):
        own = im.case.of(classes)
        for point, score in im.marks:
            hit = [j for j, (k, les) in enumerate(lesions) if k == i and les.contains(point)]
            if hit:
                for j in hit:
                    hit_scores[j] = max(hit_scores.get(j, -math.inf), score)
            elif not any(les.contains(point) for les in im.case.lesions if les not in own):
                false_scores.append(score)
    false_scores.sort(reverse=True)
    out: dict[float, tuple[int, int, float]] = {}
    for rate in fp_rates:
        allowed = math.floor(rate * len(images) + 1e-9)
        # threshold: just above the (allowed+1)-th highest false score
        threshold = false_scores[allowed] if allowed < len(false_scores) else -math.inf
        hits = sum(1 for s in hit_scores.values() if s > threshold)
        out[rate] = (hits, len(lesions), threshold)
    return out


def sensitivity_at(
    images: Sequence[Marked], classes: Sequence[str], threshold: float
) -> tuple[int, int, float]:
    """(hits, lesions, false marks per image) with marks shown at or above ``threshold``."""
    lesions = hits = false = 0
    for im in images:
        own = [les for les in im.case.of(classes) if les.centre]
        shown = [p for p, s in im.marks if s >= threshold]
        lesions += len(own)
        hits += sum(1 for les in own if any(les.contains(p) for p in shown))
        false += sum(1 for p in shown if not any(les.contains(p) for les in im.case.lesions))
    return hits, lesions, false / max(len(images), 1)
