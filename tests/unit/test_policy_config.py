"""A site's triage policy from TOML, and its re-application to the open worklist."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from breastgate.domain.errors import ConfigurationError
from breastgate.domain.governance import Mode
from breastgate.domain.model import AlgorithmResult, AlgorithmStatus, Finding, FindingKind, Mark
from breastgate.domain.payload import result_to_payload
from breastgate.pipeline.reprioritise import reapply_policy
from breastgate.store import results as result_store
from breastgate.store import studies
from breastgate.store import worklist as wl
from breastgate.store.db import Database
from breastgate.worklist.policy import DEFAULT_POLICY, load_policy, triage
from tests.support.db import upgrade

SITE = """
id = "site.triage"
version = "2.0.0"
suspicious_threshold = 30
recall_threshold = 40.5
flag_dense = false
triage_algorithms = ["breastgate.calcifications", "breastgate.masses"]
"""
EVIDENCE = """
case_score = "operating_point_odds"
justification = ["masses: 0.81 at one false mark per image on site images"]
"""


def test_a_site_policy_loads_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(SITE + EVIDENCE)
    policy = load_policy(path)
    assert policy.name == "site.triage@2.0.0"
    assert (policy.suspicious_threshold, policy.recall_threshold, policy.flag_dense) == (30.0, 40.5, False)
    assert policy.triage_algorithms == frozenset({"breastgate.calcifications", "breastgate.masses"})
    assert policy.case_score == "operating_point_odds" and policy.justification[0].startswith("masses")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('id = "x"\n', "'version'"),
        (SITE + "colour = 1\n", "unknown keys"),
        (SITE.replace("30", "130"), "outside 0-100"),
        (SITE.replace("false", '"no"'), "flag_dense must be bool"),
        ("id = \n", "triage policy"),
        (SITE + 'case_score = "mean"\n', "case_score must be one of"),
        (SITE + "justification = [1]\n", "justification must be list"),
    ],
)
def test_bad_policies_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_policy(path)


def _record_study(session: Session, uid: str) -> None:
    """One indexed mammogram of study ``uid`` (results and worklist rows refer to the study)."""
    studies.record_instance(
        session,
        studies.InstanceInfo(
            study_instance_uid=uid, series_instance_uid=uid + ".1", sop_instance_uid=uid + ".1.1",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2", path="/x.dcm", modality="MG",
        ),
    )  # fmt: skip


def test_open_entries_are_re_ranked_under_a_new_policy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    uid = "1.2.3.4"
    mark = Mark("1.2.3.4.1", (10.0, 10.0), (0.0, 0.0, 20.0, 20.0), 0.4)
    result = AlgorithmResult(
        "breastgate.calcifications", "1.1.0", uid, AlgorithmStatus.OK, operating_threshold=0.5,
        findings=(Finding("f1", FindingKind.CALCIFICATION_CLUSTER, "L", 0.4, (mark,)),),
    )  # fmt: skip
    with db.session() as s:
        _record_study(s, uid)
        result_store.save(
            s, study_instance_uid=uid, algorithm_id=result.algorithm_id, algorithm_version="1.1.0",
            status="ok", generation=1, payload=result_to_payload(result),
        )  # fmt: skip
        _, decision = triage([result], DEFAULT_POLICY)  # suspicion 40 < 50: routine
        wl.apply_triage(
            s, uid, priority=decision.priority.value, score=decision.score, flags=decision.flags,
            policy=decision.policy, queue="radiologist",
        )  # fmt: skip
    path = tmp_path / "policy.toml"
    path.write_text(SITE)
    site = load_policy(path)
    # The version is integrated at the worklist (as it was when the entry was first ranked).
    assert reapply_policy(db, site, Mode.INTEGRATED) == 1  # suspicion 40 ≥ 30: urgent under the site's policy
    assert reapply_policy(db, site, Mode.INTEGRATED) == 0  # already under it
    with db.session() as s:
        item = wl.get_item(s, uid)
        changes = wl.changes(s, uid)
    assert item is not None and (item.priority, item.policy) == ("urgent", "site.triage@2.0.0")
    assert [(c.new_priority, c.policy) for c in changes] == [
        ("routine", DEFAULT_POLICY.name),
        ("urgent", "site.triage@2.0.0"),
    ]
    assert changes[1].reason == f"policy changed from {DEFAULT_POLICY.name} to site.triage@2.0.0"
    db.dispose()


def _ranked_study(folder: Path, score: float) -> tuple[Database, str]:
    """A database with one study on the worklist (routine, default policy) and a calcification
    result of version 9.9.9 (no recorded mode) scoring ``score``."""
    folder.mkdir()
    url = f"sqlite:///{folder / 'bg.db'}"
    upgrade(url)
    db = Database(url)
    uid = "1.2.3.5"
    mark = Mark("1.2.3.5.1", (10.0, 10.0), (0.0, 0.0, 20.0, 20.0), score)
    result = AlgorithmResult(
        "breastgate.calcifications", "9.9.9", uid, AlgorithmStatus.OK, operating_threshold=0.5,
        findings=(Finding("f1", FindingKind.CALCIFICATION_CLUSTER, "L", score, (mark,)),),
    )  # fmt: skip
    with db.session() as s:
        _record_study(s, uid)
        result_store.save(
            s, study_instance_uid=uid, algorithm_id=result.algorithm_id, algorithm_version="9.9.9",
            status="ok", generation=1, payload=result_to_payload(result),
        )  # fmt: skip
        wl.apply_triage(
            s, uid, priority="routine", score=0, flags=(), policy=DEFAULT_POLICY.name, queue="radiologist"
        )
    return db, uid


@pytest.mark.parametrize(("mode", "priority"), [(Mode.SILENT, "routine"), (Mode.INTEGRATED, "urgent")])
def test_a_re_rank_reads_only_results_the_gate_lets_reach_the_worklist(
    tmp_path: Path, mode: Mode, priority: str
) -> None:
    """A version silent at the worklist never ranks a study, not even when the policy changes."""
    db, uid = _ranked_study(tmp_path / "db", 0.9)
    path = tmp_path / "policy.toml"
    path.write_text(SITE)
    site = load_policy(path)
    assert reapply_policy(db, site, mode) == (priority != "routine")
    with db.session() as s:
        item = wl.get_item(s, uid)
    assert item is not None and (item.priority, item.policy) == (priority, site.name)


def test_comparison_factors_load_and_bad_ones_are_refused(tmp_path: Path) -> None:
    from breastgate.domain.model import ChangeKind

    path = tmp_path / "policy.toml"
    path.write_text(SITE + "washout_factor = 3\n[change_factors]\nnew = 4\nstable = 1\n")
    policy = load_policy(path)
    assert policy.washout_factor == 3.0
    assert policy.change_factors[ChangeKind.NEW] == 4.0 and policy.change_factors[ChangeKind.STABLE] == 1.0
    assert policy.change_factors[ChangeKind.INCREASED] == 2.0  # not listed: the default
    for bad, message in [
        ("[change_factors]\nvanished = 2\n", "unknown changes"),
        ("[change_factors]\nnew = 0\n", "above 0"),
        ("washout_factor = true\n", "washout_factor must be a number"),
        ("change_factors = 2\n", "must be a table"),
    ]:
        path.write_text(SITE + bad)
        with pytest.raises(ConfigurationError, match=message):
            load_policy(path)
