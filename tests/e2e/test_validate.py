"""``breastgate validate`` as an operator runs it: phantom studies + outcomes CSV → HTML/PDF/JSON report."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

import breastgate
from tests.support.gateway import BREASTGATE
from tests.support.validation_data import outcomes_csv, write_cancer_studies

pytestmark = pytest.mark.slow

# The CLI subprocess imports the breastgate these tests import (a worktree's src/ on PYTHONPATH).
SRC = str(Path(breastgate.__file__).resolve().parents[1])


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "BG_HOME": str(cwd / "var"),
        "BG_CONFIG": str(cwd / "none.toml"),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH", "")) if p),
    }
    return subprocess.run([BREASTGATE, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def test_validate_writes_a_deterministic_report(tmp_path: Path) -> None:
    made = run("phantom", "--out", "studies", "--count", "3", "--seed", "21", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    normals = [tmp_path / line for line in made.stdout.split()]
    cancers = write_cancer_studies(tmp_path / "studies", 3, seed=900)
    text = outcomes_csv(normals + cancers)
    # One outcome whose study is not there, and one study without an outcome: both listed.
    missing_uid = "1.2.826.0.1.3680043.8.498.1"
    text += f"{missing_uid},normal,1,b,,,,,,,\n"
    left_out = sorted(normals, key=lambda p: p.name)[0].name
    text = "\n".join(line for line in text.splitlines() if not line.startswith(left_out)) + "\n"
    (tmp_path / "outcomes.csv").write_text(text)

    args = ["--outcomes", "outcomes.csv", "--workers", "2", "--seed", "4", "--bootstrap", "500"]
    first = run("validate", "studies", *args, "--out", "report1", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "case-level AUC" in first.stdout
    assert "validate: 6/6 studies" in first.stdout  # plain progress lines: stdout is not a terminal
    out = tmp_path / "report1"
    for name in ("report.html", "report.pdf", "metrics.json"):
        assert (out / name).stat().st_size > 0, name

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["schema"] == "breastgate.validation/1"
    counts = metrics["counts"]
    assert counts["studies"] == 6 and counts["matched"] == 5 and counts["cancer"] == 3
    assert counts["studies_without_outcome"] == [left_out]
    assert counts["outcomes_without_study"] == [missing_uid]
    assert counts["failed_studies"] == []

    # The AUC from the listed per-study scores, computed independently.
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    studies = metrics["studies"]
    labels = [s["outcome"] == "cancer" for s in studies]
    scores = [s["score"] for s in studies]
    assert metrics["auc"]["value"] == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores), abs=1e-6)
    assert metrics["auc"]["ci_low"] <= metrics["auc"]["value"] <= metrics["auc"]["ci_high"]
    assert metrics["auc"]["n_resamples"] == 500 and metrics["auc"]["seed"] == 4

    assert {g["group"] for g in metrics["subgroups"]["density"]} <= set("abcd")
    assert metrics["subgroups"]["age_band"] and metrics["subgroups"]["device"]
    assert all(" / " in g["group"] for g in metrics["subgroups"]["device"])
    assert metrics["froc"]["n_lesions"] == 3 and metrics["froc"]["n_images"] == 20
    assert metrics["density_agreement"]["n"] == 5
    labels_op = [p["label"] for p in metrics["operating_points"]]
    assert "breastgate.calcifications operating point" in labels_op
    assert {m["id"] for m in metrics["models"]} >= {"breastgate.calcifications", "breastgate.density"}
    prov = metrics["provenance"]
    assert prov["input_files"] == 6 * 5 and len(prov["files_sha256"]) == 64 and prov["seed"] == 4

    html = (out / "report.html").read_text()
    assert "not for diagnostic use unless validated by the site" in html
    assert html.count("<svg") == 3 and "Subgroups" in html and left_out in html
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO((out / "report.pdf").read_bytes()))
    assert "not for diagnostic use" in " ".join(pdf.pages[0].extract_text().split())

    # Same inputs, another folder: byte-identical report, metrics and PDF.
    second = run("validate", "studies", *args, "--out", "report2", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    for name in ("report.html", "metrics.json", "report.pdf"):
        assert (tmp_path / "report2" / name).read_bytes() == (out / name).read_bytes(), name


def test_validate_fails_clearly_on_a_bad_outcomes_file(tmp_path: Path) -> None:
    made = run("phantom", "--out", "studies", "--count", "1", "--seed", "3", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    (tmp_path / "bad.csv").write_text("study_instance_uid,outcome\n1.2.3,cancer\n1.2.4,perhaps\n")
    done = run("validate", "studies", "--outcomes", "bad.csv", "--out", "r", cwd=tmp_path)
    assert done.returncode != 0
    assert "bad.csv line 3: outcome 'perhaps'" in done.stderr
    assert not (tmp_path / "r").exists()

    (tmp_path / "other.csv").write_text("study_instance_uid,outcome\n1.2.3,cancer\n")
    done = run("validate", "studies", "--outcomes", "other.csv", "--out", "r", "--workers", "1", cwd=tmp_path)
    assert done.returncode != 0 and "none of the 1 studies in other.csv" in done.stderr
