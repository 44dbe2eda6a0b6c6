"""The command line as an operator uses it: phantom → analyze, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pydicom
import pytest

from tests.support.gateway import BREASTGATE

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        "BG_HOME": str(cwd / "var"),
        "BG_CONFIG": str(cwd / "none.toml"),
        "PATH": "/usr/bin:/bin",
        **settings,
    }
    if "PYTHONPATH" in os.environ:  # the code under test, when it is not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([BREASTGATE, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def test_phantom_then_analyze_writes_results_and_sr_per_study(tmp_path: Path) -> None:
    made = run("phantom", "--out", "phantoms", "--count", "2", "--seed", "5", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folders = [Path(line) for line in made.stdout.split()]
    assert len(folders) == 2
    truths = {json.loads((tmp_path / f / "truth.json").read_text())["study_instance_uid"]: f for f in folders}
    # Nest one study deeper: IN may be a folder of study folders at any depth.
    nested = tmp_path / "phantoms" / "site" / "day1"
    nested.mkdir(parents=True)
    first = tmp_path / folders[0]
    first.rename(nested / first.name)

    done = run("analyze", "phantoms", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for uid in truths:
        results = json.loads((tmp_path / "out" / uid / "results.json").read_text())
        assert results["schema"] == "breastgate.results/1"
        assert results["study_instance_uid"] == uid
        ids = [a["id"] for a in results["algorithms"]]
        assert ids == [
            "breastgate.calcifications",
            "breastgate.comparison",
            "breastgate.density",
            "breastgate.masses",
            "breastgate.positioning",
        ]
        assert all(a["status"] == "ok" for a in results["algorithms"])
        (comparison,) = [a for a in results["algorithms"] if a["id"] == "breastgate.comparison"]
        assert comparison["priors"]["status"] == "not_sought"  # each phantom is its own woman
        assert results["density"]["category"] in {"a", "b", "c", "d"}
        assert isinstance(results["findings"], list)
        assert 0 <= results["assessment"]["suspicion_score"] <= 100
        assert results["triage"]["priority"] in {"stat", "urgent", "routine"}
        srs = sorted((tmp_path / "out" / uid).glob("cad-sr-*.dcm"))
        assert len(srs) == 3  # one Mammography CAD SR per density / lesion algorithm
        for sr_file in srs:
            sr = pydicom.dcmread(sr_file)
            assert sr.StudyInstanceUID == uid and sr.Modality == "SR"
        (sc_file,) = (tmp_path / "out" / uid).glob("sc-*.dcm")
        assert pydicom.dcmread(sc_file).BurnedInAnnotation == "YES"

    again = run("analyze", "phantoms", "--out", "out2", cwd=tmp_path)
    first_sr = sorted(p.name for p in (tmp_path / "out").rglob("*.dcm"))
    assert sorted(p.name for p in (tmp_path / "out2").rglob("*.dcm")) == first_sr  # deterministic UIDs
    assert again.returncode == 0


def test_analyze_reports_skipped_studies_and_fails_on_empty_input(tmp_path: Path) -> None:
    ct = tmp_path / "ct"
    ct.mkdir()
    source = pydicom.data.get_testdata_file("CT_small.dcm")
    assert source is not None
    pydicom.dcmread(source).save_as(ct / "ct.dcm")
    done = run("analyze", "ct", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (results_file,) = (tmp_path / "out").rglob("results.json")
    results = json.loads(results_file.read_text())
    assert results["algorithms"] == []  # no algorithm applies to a CT study
    assert results["density"] is None

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not DICOM")
    failed = run("analyze", "empty", "--out", "out", cwd=tmp_path)
    assert failed.returncode != 0
    assert "no DICOM study" in failed.stderr


def test_phantom_refuses_kinds_that_do_not_exist_yet(tmp_path: Path) -> None:
    done = run("phantom", "--out", "x", "--kind", "ct", cwd=tmp_path)
    assert done.returncode == 2
    assert "ct" in done.stderr


def test_phantom_mri_writes_dce_studies_with_priors(tmp_path: Path) -> None:
    done = run(
        "phantom", "--out", "mr", "--kind", "mr", "--seed", "3", "--form", "multiphase",
        "--size", "48x48x8", "--phases", "4", "--prior", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    current, prior = (Path(line) for line in done.stdout.split())
    truth = json.loads((tmp_path / current / "truth.json").read_text())
    prior_truth = json.loads((tmp_path / prior / "truth.json").read_text())
    assert (truth["kind"], truth["form"], truth["phases"]["count"]) == ("mri", "multiphase", 4)
    assert truth["prior"]["study_instance_uid"] == prior_truth["study_instance_uid"] == prior.name
    files = sorted((tmp_path / current).glob("*.dcm"))
    assert len(files) == 4 * 8
    ds = pydicom.dcmread(files[0])
    assert (ds.Modality, ds.BodyPartExamined, ds.StudyInstanceUID) == ("MR", "BREAST", current.name)
    bad = run("phantom", "--out", "mr2", "--kind", "mri", "--form", "mosaic", cwd=tmp_path)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("error: form must be one of")
    mg_form = run("phantom", "--out", "mg", "--form", "enhanced", cwd=tmp_path)
    assert mg_form.returncode == 2 and "--kind mri only" in mg_form.stderr


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"BG_PACS": "PACS@pacs.example.org"},
            "BG_PACS: not a DICOM node AE@HOST:PORT: 'PACS@pacs.example.org'",
        ),
        (
            {"BG_ENV": "production"},
            "BG_ENV=production requires BG_ALLOWED_CALLING_AES (the open DICOM port is for embedded use)",
        ),
        (
            {"BG_STABLE_SECOND": "3"},
            "BG_STABLE_SECOND: unknown variable, not a setting (did you mean 'BG_STABLE_SECONDS'?)",
        ),
    ],
)
def test_a_bad_setting_stops_a_command_with_one_line(
    tmp_path: Path, settings: dict[str, str], line: str
) -> None:
    done = run("db", "upgrade", cwd=tmp_path, **settings)
    assert (done.returncode, done.stderr, done.stdout) == (2, f"error: {line}\n", "")
    assert not (tmp_path / "var").exists()  # nothing was done


def test_python_dash_m_is_the_same_command_line(tmp_path: Path) -> None:
    """``python -m breastgate`` runs the CLI: same commands, same one-line refusal of a bad setting."""
    python = str(Path(BREASTGATE).with_name("python"))
    env = {
        "BG_HOME": str(tmp_path / "var"),
        "BG_CONFIG": str(tmp_path / "none.toml"),
        "PATH": "/usr/bin:/bin",
    }
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    helped = subprocess.run([python, "-m", "breastgate", "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "analyze" in helped.stdout and "serve" in helped.stdout
    refused = subprocess.run(
        [python, "-m", "breastgate", "algorithms"],
        capture_output=True,
        text=True,
        env={**env, "BG_PACS": "nonsense"},
    )
    assert refused.returncode == 2 and refused.stderr.strip().startswith("error: BG_PACS:"), refused.stderr
