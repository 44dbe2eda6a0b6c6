"""``breastgate audit verify`` and ``audit export``: prove the chain is intact, hand it over.

Verification streams the events from the database (or from an exported JSON-lines file) through
:class:`~breastgate.domain.audit.ChainVerifier`, so a million events need constant memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from breastgate.domain.audit import AuditEvent, ChainProblem, ChainVerifier
from breastgate.domain.errors import InvalidInputError
from breastgate.store import audit as audit_store
from breastgate.store.db import Database


@dataclass(frozen=True)
class VerifyReport:
    """What verification found: how many events, and every break with where it is."""

    count: int
    head_seq: int | None
    problems: tuple[ChainProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self, limit: int = 20) -> list[str]:
        if self.ok:
            return [f"audit chain intact: {self.count} events"]
        shown = [str(p) for p in self.problems[:limit]]
        more = len(self.problems) - len(shown)
        tail = [f"... and {more} more"] if more > 0 else []
        return [f"audit chain BROKEN: {len(self.problems)} problem(s) in {self.count} events", *shown, *tail]


def verify_events(events: Iterable[AuditEvent], head_seq: int | None, head_hash: str | None) -> VerifyReport:
    verifier = ChainVerifier()
    for event in events:
        verifier.feed(event)
    verifier.finish(head_seq, head_hash)
    return VerifyReport(verifier.count, head_seq, tuple(verifier.problems))


def verify_database(db: Database) -> VerifyReport:
    """Verify the whole chain in the database against its recorded head (one read transaction)."""
    with db.session() as session:
        head_seq, head_hash = audit_store.head(session)
        return verify_events(audit_store.iter_events(session), head_seq, head_hash)


def read_export(path: Path) -> Iterator[AuditEvent]:
    """Events from an export (JSON lines); a line that is not an event is an error with its number."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                yield AuditEvent(
                    seq=int(raw["seq"]),
                    at=str(raw["at"]),
                    kind=str(raw["kind"]),
                    actor=str(raw["actor"]),
                    data=dict(raw["data"]),
                    study_instance_uid=raw.get("study_instance_uid"),
                    subject=raw.get("subject"),
                    prev_hash=str(raw["prev_hash"]),
                    hash=str(raw["hash"]),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInputError(f"{path.name} line {number}: not an audit event ({exc})") from None


def verify_export(path: Path) -> VerifyReport:
    """Verify an exported chain on its own (a complete export starts at event 1).

    An export has no separate head, so a removed tail cannot be seen here: compare the last
    event's hash with the head recorded at export time (``audit export`` prints it).
    """
    return verify_events(read_export(path), None, None)


def export(db: Database, out: IO[str], *, after: int = 0, until: int | None = None) -> tuple[int, int, str]:
    """Write events as JSON lines; return (count, head seq, head hash) at export time."""
    count = 0
    with db.session() as session:
        head_seq, head_hash = audit_store.head(session)
        last = head_seq if until is None else min(until, head_seq)
        for event in audit_store.iter_events(session, after=after, until=last):
            out.write(json.dumps(event.as_dict(), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count, head_seq, head_hash
