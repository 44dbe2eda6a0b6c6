"""Studies and an outcomes CSV for ``breastgate validate`` tests and bench/validate_bench.py.

``breastgate phantom`` writes lesion-free studies (the normals and benign outcomes); the cancers
come from the same generator with a calcification cluster or a mass inserted
(:func:`breastgate.phantoms.generate_mg_study`), written in the same layout with truth.json. The
outcomes CSV is derived from the truth files: one row per lesion view for cancers (the lesion's
centre, radius = half its bounding box diagonal), one row per study otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

HEADER = [
    "study_instance_uid",
    "outcome",
    "final_birads",
    "radiologist_density",
    "pathology",
    "lesion_id",
    "lesion_laterality",
    "lesion_sop_instance_uid",
    "lesion_col",
    "lesion_row",
    "lesion_radius_px",
]


def write_cancer_studies(out: Path, count: int, seed: int) -> list[Path]:
    """``count`` 4-view studies with one lesion each (calcification cluster, then mass, alternating)."""
    from breastgate.phantoms import VENDOR_PROFILES, generate_mg_study
    from breastgate.phantoms.lesions import LesionRequest

    vendors = sorted(VENDOR_PROFILES)
    folders = []
    for i in range(count):
        kind = ("calcification_cluster", "mass")[i % 2]
        study = generate_mg_study(
            seed + i, category="abcd"[i % 4], vendor=vendors[i % len(vendors)], lesions=[LesionRequest(kind)]
        )
        folder = out / study.study_instance_uid
        folder.mkdir(parents=True, exist_ok=True)
        for ds in study.datasets:
            ds.save_as(folder / f"{ds.ImageLaterality}_{ds.ViewPosition}.dcm", enforce_file_format=True)
        (folder / "truth.json").write_text(json.dumps(study.truth, indent=2) + "\n", encoding="utf-8")
        folders.append(folder)
    return folders


def outcomes_csv(folders: list[Path]) -> str:
    """The outcomes CSV of studies with truth.json: lesions → cancer; every third lesion-free
    study benign (BI-RADS 2), the others normal (BI-RADS 1); radiologist density = the truth."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    normals = 0
    for folder in sorted(folders, key=lambda f: f.name):
        truth = json.loads((folder / "truth.json").read_text())
        uid, density = truth["study_instance_uid"], truth["density"]["category"]
        if not truth["lesions"]:
            outcome = "benign" if normals % 3 == 2 else "normal"
            birads = "2" if outcome == "benign" else "1"
            writer.writerow([uid, outcome, birads, density, "", "", "", "", "", "", ""])
            normals += 1
            continue
        for lesion in truth["lesions"]:
            for view in lesion["views"]:
                c0, r0, c1, r1 = view["bbox"]
                radius = math.hypot(c1 - c0, r1 - r0) / 2
                col, row = view["centre"]
                writer.writerow(
                    [uid, "cancer", "5", density, "carcinoma (phantom)", lesion["id"], lesion["laterality"],
                     view["sop_instance_uid"], f"{col:.2f}", f"{row:.2f}", f"{radius:.2f}"]
                )  # fmt: skip
    return buffer.getvalue()
