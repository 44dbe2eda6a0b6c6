"""Audit events and the hash chain that makes them provable (DESIGN §6).

Every event carries the hash of the one before it; an event's hash covers its sequence number,
time, kind, actor, study, subject, data and that previous hash. Editing, deleting, inserting or
reordering any event breaks the chain at that event, and :func:`event_hash` recomputes what the
chain should say. Hashes are SHA-256 over a canonical JSON encoding (sorted keys, no spaces,
UTF-8), so anyone can re-check an export with a few lines of code in any language.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: The "previous hash" of the first event.
GENESIS = "0" * 64


class AuditKind(StrEnum):
    """What an event records."""

    INSTANCE_RECEIVED = "instance.received"
    STUDY_ROUTED = "study.routed"
    INFERENCE = "inference"
    OBJECT_DELIVERED = "object.delivered"
    RESULT_VIEWED = "result.viewed"
    FINDING_ACCEPTED = "finding.accepted"
    FINDING_REJECTED = "finding.rejected"
    FINDING_MODIFIED = "finding.modified"
    RESULT_APPROVED = "result.approved"
    RESULT_WITHHELD = "result.withheld"
    REPORT_CONFIRMED = "report.confirmed"
    MODE_CHANGED = "mode.changed"
    ALGORITHM_REGISTERED = "algorithm.registered"
    CONFIGURATION_CHANGED = "configuration.changed"
    OUTCOME_RECORDED = "outcome.recorded"
    PHI_ACCESSED = "phi.accessed"
    USER_CHANGED = "user.changed"
    DRIFT_ALERT = "drift.alert"
    AUDIT_READ = "audit.read"
    # Added later; the chain hashes these strings, so kinds are added, never renamed.
    WORKLIST_STATUS_CHANGED = "worklist.status_changed"
    UPS_SUBSCRIBED = "ups.subscribed"
    UPS_UNSUBSCRIBED = "ups.unsubscribed"
    RISK_RECORDED = "risk.recorded"
    SIGNED_IN = "user.signed_in"
    SIGN_IN_REFUSED = "user.sign_in_refused"
    SIGNED_OUT = "user.signed_out"


@dataclass(frozen=True)
class AuditEvent:
    """One link of the chain. ``at`` is an ISO 8601 UTC string, kept exactly as hashed."""

    seq: int
    at: str
    kind: str
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)
    study_instance_uid: str | None = None
    subject: str | None = None
    prev_hash: str = GENESIS
    hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The event as exported (JSON lines), hashes included."""
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "actor": self.actor,
            "study_instance_uid": self.study_instance_uid,
            "subject": self.subject,
            "data": dict(self.data),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def canonical_data(data: Mapping[str, Any]) -> str:
    """The JSON text of an event's data as stored and hashed (sorted keys, compact, UTF-8)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(
    *,
    seq: int,
    at: str,
    kind: str,
    actor: str,
    study_instance_uid: str | None,
    subject: str | None,
    data_text: str,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical encoding of one event and the previous hash."""
    body = json.dumps(
        [seq, at, kind, actor, study_instance_uid, subject, data_text, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def hash_of(event: AuditEvent) -> str:
    """What ``event.hash`` should be, given its content and ``prev_hash``."""
    return event_hash(
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        actor=event.actor,
        study_instance_uid=event.study_instance_uid,
        subject=event.subject,
        data_text=canonical_data(event.data),
        prev_hash=event.prev_hash,
    )


@dataclass(frozen=True)
class ChainProblem:
    """Where the chain breaks and how."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}"


class ChainVerifier:
    """Checks events fed in order (by storage order) and collects every break.

    Finds: an edited event (its hash no longer matches its content), a deleted event (a gap in
    the sequence, or the next event's ``prev_hash`` pointing at something else), an inserted
    event (a sequence number repeated or out of place, or a ``prev_hash`` that is not the hash of
    the event before), a reordered chain (sequence numbers not increasing), and a truncated tail
    (the last event is not the recorded head).
    """

    def __init__(self) -> None:
        self.count = 0
        self.problems: list[ChainProblem] = []
        self._expected_seq = 1
        self._prev_hash = GENESIS

    def feed(self, event: AuditEvent) -> None:
        self.count += 1
        if event.seq != self._expected_seq:
            if event.seq > self._expected_seq:
                missing = (
                    f"{self._expected_seq}"
                    if event.seq == self._expected_seq + 1
                    else f"{self._expected_seq}..{event.seq - 1}"
                )
                self._problem(event.seq, f"event(s) {missing} missing before it (deleted)")
            else:
                self._problem(
                    event.seq,
                    f"out of order or inserted: expected sequence {self._expected_seq}",
                )
        if event.prev_hash != self._prev_hash:
            self._problem(
                event.seq,
                "previous-hash link broken (an event before it was edited, deleted, inserted or moved)",
            )
        if hash_of(event) != event.hash:
            self._problem(event.seq, "content does not match its hash (edited)")
        self._expected_seq = max(self._expected_seq, event.seq) + 1
        self._prev_hash = event.hash

    def finish(self, head_seq: int | None, head_hash: str | None) -> None:
        """Compare the last event with the recorded chain head (catches a removed tail)."""
        if head_seq is None:
            return
        last = self._expected_seq - 1
        if head_seq != last or (head_hash or GENESIS) != self._prev_hash:
            self._problem(
                head_seq,
                f"chain head records event {head_seq} but the chain ends at event {last} "
                "(events removed from the end, or the head was altered)",
            )

    def _problem(self, seq: int, text: str) -> None:
        self.problems.append(ChainProblem(seq, text))

    @property
    def ok(self) -> bool:
        return not self.problems
