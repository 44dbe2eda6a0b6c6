"""The built-in algorithms on real mammograms: a labelled mini-MIAS sample (digitised film).

Usage: ``python bench/real_sample.py --images ../shared/data/minimias-dev [--out FILE.json]``.
The folder holds ``labels.csv`` (refnum, side, background_tissue F/G/D, abn_class, severity, x,
y_from_top, radius in pixels) and ``images/<refnum>.png`` (1024 × 1024, 8 bits, 200 µm pixels,
medio-lateral oblique views, one breast each). The data is under MIAS's research licence: it is
never copied into this repository and no test needs it; this script reads it from where it lies.

Each image is wrapped as what a film digitiser would send: a Digital Mammography X-Ray Image For
Presentation (MONOCHROME2, 200 µm Imager Pixel Spacing, the label's laterality, view MLO, no
Patient Orientation, so the chest-wall side comes from the pixels). Each image is its own study
(one view: no CC/MLO correlation). breastgate.calcifications, .masses, .density and .positioning
run on it as the gateway would run them.

A lesion is hit when a shown mark (score at or above the algorithm's operating point) has its
centre inside the labelled circle. Prints per image what each algorithm said (status, shown marks,
best score, hit or miss; density category against MIAS's background tissue; the MLO positioning
checks), then per detector the lesions hit, the false marks per image, and how the lesion images'
best score ranks among the normal images' best scores (an AUC over a very small sample).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SPACING_MM = 0.2
#: MIAS abnormality classes per breastgate finding kind (ARCH and ASYM have no detector yet).
KINDS = {"calcification_cluster": ("CALC",), "mass": ("CIRC", "SPIC", "MISC")}


def read_labels(folder: Path) -> dict[str, dict[str, Any]]:
    """refnum → side, tissue and the labelled lesions (kind, centre (col, row), radius px)."""
    out: dict[str, dict[str, Any]] = {}
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            entry = out.setdefault(
                row["refnum"], {"side": row["side"], "tissue": row["background_tissue"], "lesions": []}
            )
            if row["abn_class"] != "NORM" and row["x"]:
                entry["lesions"].append(
                    {
                        "class": row["abn_class"],
                        "severity": row["severity"],
                        "centre": (float(row["x"]), float(row["y_from_top"])),
                        "radius": float(row["radius"]),
                    }
                )
    return out


def dicom_from_png(png: Path, refnum: str, side: str) -> Any:
    """The digitised film as a Digital Mammography For Presentation dataset (values × 16, 12 bits)."""
    import pydicom
    from PIL import Image
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.uint16) * 16
    sop_class = "1.2.840.10008.5.1.4.1.1.1.2"
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[refnum, "sop"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[refnum, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[refnum, "series"])
    ds.PatientID, ds.PatientName = refnum, "MIAS^" + refnum
    ds.Modality = "MG"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ImageLaterality = side
    ds.ViewPosition = "MLO"
    ds.ImagerPixelSpacing = [f"{SPACING_MM:g}", f"{SPACING_MM:g}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    return ds


def one_image(args: tuple[Path, str, dict[str, Any]]) -> dict[str, Any]:
    """Run the four algorithms on one labelled image; marks, scores, density and checks."""
    from breastgate.algorithms.calcifications import CalcificationAlgorithm
    from breastgate.algorithms.density import DensityAlgorithm
    from breastgate.algorithms.masses import MassAlgorithm
    from breastgate.algorithms.positioning import PositioningAlgorithm
    from breastgate.domain.model import InstanceRef, PresentationIntent, StudyRef

    folder, refnum, label = args
    ds = dicom_from_png(folder / "images" / f"{refnum}.png", refnum, label["side"])
    out: dict[str, Any] = {"refnum": refnum, **label}
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
            label["side"],
            "MLO",
            PresentationIntent.FOR_PRESENTATION,
        )
        study = StudyRef(ref.study_instance_uid, (ref,))
        algorithms = {
            "calcification_cluster": CalcificationAlgorithm(),
            "mass": MassAlgorithm(),
            "density": DensityAlgorithm(),
            "positioning": PositioningAlgorithm(),
        }
        for name, algorithm in algorithms.items():
            started = time.perf_counter()
            try:
                result = algorithm.run(algorithm.select(study))
            except Exception as exc:  # a crash is what this bench must report
                out[name] = {"status": "crashed", "message": f"{type(exc).__name__}: {exc}"}
                continue
            entry: dict[str, Any] = {
                "status": str(result.status),
                "message": result.message or "; ".join(i.message for i in result.images if i.message),
                "seconds": round(time.perf_counter() - started, 2),
            }
            if name in KINDS:
                entry["threshold"] = result.operating_threshold
                entry["marks"] = [
                    {"point": m.point, "score": f.score, "size_mm": f.size_mm}
                    for f in result.findings
                    for m in f.marks
                ]
            elif result.density is not None:
                entry["category"] = result.density.category
                entry["percent_dense"] = round(result.density.percent_dense, 1)
            if result.quality:
                entry["checks"] = {
                    q.name: {"passed": q.passed, "reason": q.reason, "value": q.value} for q in result.quality
                }
            out[name] = entry
    return out


def _hit(point: tuple[float, float], lesion: dict[str, Any]) -> bool:
    return math.dist(point, lesion["centre"]) <= lesion["radius"]


def _auc(positives: list[float], negatives: list[float]) -> float:
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def summarise(rows: list[dict[str, Any]]) -> list[str]:
    """Per-detector hits, false marks per image and the lesion-vs-normal ranking."""
    lines = []
    for kind, classes in KINDS.items():
        lesions = hits = false_marks = images = 0
        positives, negatives, crashed = [], [], []
        for row in rows:
            entry = row[kind]
            if entry["status"] not in ("ok", "AlgorithmStatus.OK"):
                crashed.append(f"{row['refnum']} {entry['status']}: {entry['message']}")
                continue
            images += 1
            shown = [m for m in entry["marks"] if m["score"] >= (entry["threshold"] or 0.0)]
            own = [les for les in row["lesions"] if les["class"] in classes]
            others = [les for les in row["lesions"] if les["class"] not in classes]
            for les in own:
                lesions += 1
                hits += any(_hit(m["point"], les) for m in shown)
            false_marks += sum(1 for m in shown if not any(_hit(m["point"], les) for les in own + others))
            best = max((m["score"] for m in entry["marks"]), default=0.0)
            if own:
                positives.append(best)
            elif not row["lesions"]:
                negatives.append(best)
        lines.append(
            f"{kind}: lesions hit {hits}/{lesions}, false marks {false_marks / max(images, 1):.2f} per image "
            f"({images} images), lesion-image vs normal-image AUC {_auc(positives, negatives):.2f} "
            f"({len(positives)} vs {len(negatives)})"
        )
        lines.extend(f"  not run: {c}" for c in crashed)
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        category = row["density"].get("category", row["density"]["status"])
        table.setdefault(row["tissue"], {}).setdefault(category, 0)
        table[row["tissue"]][category] += 1
    lines.append(
        "density (MIAS background tissue F fatty / G glandular / D dense → BI-RADS category): "
        + "; ".join(f"{t}: {dict(sorted(c.items()))}" for t, c in sorted(table.items()))
    )
    verdicts: dict[str, int] = {}
    for row in rows:
        for name, check in row["positioning"].get("checks", {}).items():
            key = f"{name} {'pass' if check['passed'] else 'fail'}"
            verdicts[key] = verdicts.get(key, 0) + 1
    lines.append("positioning checks: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    return lines


def _describe(row: dict[str, Any]) -> str:
    parts = [f"{row['refnum']} {row['side']} {row['tissue']}"]
    parts.append(",".join(les["class"] for les in row["lesions"]) or "NORM")
    for kind in KINDS:
        entry = row[kind]
        if "marks" not in entry:
            parts.append(f"{kind}={entry['status']}")
            continue
        shown = [m for m in entry["marks"] if m["score"] >= (entry["threshold"] or 0.0)]
        best = max((m["score"] for m in entry["marks"]), default=0.0)
        hit = any(_hit(m["point"], les) for m in shown for les in row["lesions"])
        parts.append(f"{kind}: {len(shown)} shown, best {best:.2f}{' HIT' if hit else ''}")
    density = row["density"]
    parts.append(f"density {density.get('category', density['status'])} {density.get('percent_dense', '')}%")
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="folder with labels.csv and images/")
    parser.add_argument("--out", type=Path, help="write the per-image results as JSON here")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    labels = read_labels(args.images)
    jobs = [(args.images, refnum, label) for refnum, label in sorted(labels.items())]
    if args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(one_image, jobs))
    else:
        rows = [one_image(job) for job in jobs]
    for row in rows:
        print(_describe(row))
    for line in summarise(rows):
        print(line)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
