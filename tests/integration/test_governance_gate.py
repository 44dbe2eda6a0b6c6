"""The governance gate in the job pipeline (real SQLite, real algorithms on phantoms): what each
mode lets reach the PACS outbox, the worklist, the report draft and the HL7 outbox."""

from __future__ import annotations

from pathlib import Path

import pydicom

from breastgate.domain.governance import Destination, Mode
from breastgate.domain.outputs import MllpEndpoint
from breastgate.governance import approvals
from breastgate.governance.audit import verify_database
from breastgate.phantoms import generate_mg_study
from breastgate.phantoms.lesions import LesionRequest
from breastgate.pipeline.publish.hl7 import Hl7Outbound
from breastgate.store import audit, outbox
from breastgate.store import governance as governance_store
from breastgate.store import reports as report_store
from breastgate.store import worklist as worklist_store
from tests.integration.test_pipeline import Gateway

ALGORITHMS = ("breastgate.density", "breastgate.calcifications")
RIS = MllpEndpoint.parse("mllp://127.0.0.1:9")


def run_study(gateway: Gateway, seed: int) -> str:
    study = generate_mg_study(
        seed,
        category="b",
        vendor="profile-b-100um",
        lesions=[LesionRequest("calcification_cluster", shape="fine_pleomorphic", laterality="R")],
    )
    for ds in study.datasets:
        gateway.receive(ds)
    assert len(gateway.assembler.tick()) == len(ALGORITHMS)
    gateway.run_queued()
    return study.study_instance_uid


def make(tmp_path: Path, mode: Mode) -> Gateway:
    return Gateway(tmp_path, algorithms=ALGORITHMS, default_mode=mode, hl7=Hl7Outbound(results_to=(RIS,)))


def modalities(items: list[outbox.OutboxEntry]) -> list[str]:
    return sorted(
        str(pydicom.dcmread(i.path, stop_before_pixels=True).Modality) for i in items if i.kind == "dicom"
    )


def test_silent_runs_stores_audits_and_owes_nothing(tmp_path: Path) -> None:
    gateway = make(tmp_path, Mode.SILENT)
    uid = run_study(gateway, 611)
    with gateway.db.session() as s:
        assert outbox.list_items(s, study=uid) == []
        assert worklist_store.get_item(s, uid) is None
        assert report_store.get_report(s, uid) is None
        kinds = [e.kind for e in audit.for_study(s, uid)]
    assert kinds.count("inference") == len(ALGORITHMS) and "study.routed" in kinds
    assert verify_database(gateway.db).ok


def test_assistive_at_the_pacs_sends_only_overlays(tmp_path: Path) -> None:
    gateway = make(tmp_path, Mode.ASSISTIVE)
    uid = run_study(gateway, 612)
    with gateway.db.session() as s:
        items = outbox.list_items(s, study=uid)
        assert worklist_store.get_item(s, uid) is None  # assistive: no worklist effect
        assert report_store.get_report(s, uid) is None  # and no report pre-fill
    assert modalities(items) == ["PR"]  # the GSPS overlay; no CAD SR, no key images (KOS), no summary SC
    assert all(i.kind == "dicom" for i in items)  # no HL7 ORU


def test_integrated_everywhere(tmp_path: Path) -> None:
    gateway = make(tmp_path, Mode.INTEGRATED)
    uid = run_study(gateway, 613)
    with gateway.db.session() as s:
        items = outbox.list_items(s, study=uid)
        assert worklist_store.get_item(s, uid) is not None
        assert report_store.get_report(s, uid) is not None
    assert modalities(items) == ["KO", "OT", "PR", "SR", "SR"]  # KO: the GSPS's key images
    assert [i.destination for i in items if i.kind == "hl7"] == [str(RIS)]


def test_mixed_modes_per_destination(tmp_path: Path) -> None:
    """Calcifications integrated at the worklist only: the worklist moves, nothing goes out."""
    gateway = make(tmp_path, Mode.SILENT)
    with gateway.db.session() as s:
        version = next(a.manifest.version for a in gateway.registry.all() if a.manifest.id == ALGORITHMS[1])
        governance_store.set_mode(
            s, algorithm_id=ALGORITHMS[1], version=version, destination=Destination.WORKLIST,
            mode=Mode.INTEGRATED, actor="test", reason="worklist pilot",
        )  # fmt: skip
    uid = run_study(gateway, 614)
    with gateway.db.session() as s:
        entry = worklist_store.get_item(s, uid)
        assert entry is not None and "suspicious_finding" in entry.flags
        assert outbox.list_items(s, study=uid) == []
        assert report_store.get_report(s, uid) is None


def test_approval_holds_pacs_objects_and_results_until_a_radiologist_decides(tmp_path: Path) -> None:
    gateway = make(tmp_path, Mode.INTEGRATED)
    with gateway.db.session() as s:
        for algorithm in gateway.registry.all():
            for destination in (Destination.PACS, Destination.HL7):
                governance_store.set_mode(
                    s, algorithm_id=algorithm.manifest.id, version=algorithm.manifest.version,
                    destination=destination, mode=Mode.INTEGRATED, actor="test", reason="go live",
                    approval_required=True,
                )  # fmt: skip
    uid = run_study(gateway, 615)
    with gateway.db.session() as s:
        items = outbox.list_items(s, study=uid)
        assert items and {i.state.value for i in items} == {"held"}
        assert {i.kind for i in items} == {"dicom", "hl7"}
        assert outbox.claim_due(s, owner="w") == []
        assert worklist_store.get_item(s, uid) is not None  # the worklist is not the permanent record
        pending = approvals.latest(s, uid)
        assert pending is not None and pending.state == "pending" and pending.held == len(items)
        approvals.decide(s, uid, approvals.Decision.APPROVE, user="user:rad", reason="")
        assert {i.state.value for i in outbox.list_items(s, study=uid)} == {"pending"}
