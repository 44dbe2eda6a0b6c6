"""Audit chain: append and verify rates with a million events (issue 5).

Appends ``--events`` (default 1 000 000) audit events to a fresh SQLite database the way the
gateway does — each in the transaction of the change it records — in two shapes:

- *one event per transaction*: a sample of ``--single`` events, each its own committed
  (fsync'ed, synchronous=FULL) transaction, the cost a lone API action pays;
- *batched*: the rest in transactions of ``--batch`` events, as a busy ingest's group of
  instances would share a commit.

Then ``audit verify`` over the whole chain (every hash recomputed, links and head checked), and
``audit export`` to JSON lines. As a floor beside it: plain SHA-256 over the same canonical
encodings in a loop (what hashing alone costs), and SQLite inserting the same rows with no
chain (what storage alone costs).

    python bench/audit_chain.py [--events 1000000] [--batch 1000] [--single 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from breastgate.domain.audit import AuditKind, canonical_data, event_hash
from breastgate.governance.audit import export, verify_database
from breastgate.store import audit
from breastgate.store.audit import NewEvent
from breastgate.store.db import Database
from breastgate.store.migrate import upgrade
from breastgate.store.tables import AuditEventRow


def event(i: int) -> NewEvent:
    return NewEvent(
        AuditKind.INSTANCE_RECEIVED,
        "dicom:MODALITY",
        {
            "sop_class_uid": "1.2.840.10008.5.1.4.1.1.1.2",
            "calling_ae": "MODALITY",
            "size_bytes": 17_000_000 + i,
        },
        study_instance_uid=f"1.2.826.0.1.3680043.8.498.{i // 4}",
        subject=f"1.2.826.0.1.3680043.8.498.{i // 4}.{i % 4}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        upgrade(url)
        db = Database(url)

        start = time.perf_counter()
        for i in range(args.single):
            with db.session() as session:
                audit.append_many(session, [event(i)])
        single = time.perf_counter() - start

        start = time.perf_counter()
        done = args.single
        while done < args.events:
            n = min(args.batch, args.events - done)
            with db.session() as session:
                audit.append_many(session, [event(done + k) for k in range(n)])
            done += n
        batched = time.perf_counter() - start
        n_batched = args.events - args.single

        start = time.perf_counter()
        report = verify_database(db)
        verify = time.perf_counter() - start
        assert report.ok and report.count == args.events, report.lines()

        start = time.perf_counter()
        sink = io.StringIO()
        count, _, _ = export(db, sink)
        exported = time.perf_counter() - start
        size_mb = len(sink.getvalue().encode()) / 1e6
        db_mb = (Path(tmp) / "audit.db").stat().st_size / 1e6
        db.dispose()

        # Floors: hashing alone, and storing the same rows without a chain.
        start = time.perf_counter()
        prev = "0" * 64
        sample = min(args.events, 200_000)
        for i in range(sample):
            e = event(i)
            prev = event_hash(
                seq=i + 1, at="2026-11-29T00:00:00.000000Z", kind=e.kind, actor=e.actor,
                study_instance_uid=e.study_instance_uid, subject=e.subject, data_text=canonical_data(e.data),
                prev_hash=prev,
            )  # fmt: skip
        hash_rate = sample / (time.perf_counter() - start)
        url2 = f"sqlite:///{Path(tmp) / 'plain.db'}"
        upgrade(url2)
        plain = Database(url2)
        start = time.perf_counter()
        for first in range(0, sample, args.batch):
            rows = [
                {
                    "seq": first + k + 1,
                    "at": "2026-11-29T00:00:00.000000Z",
                    "kind": "x",
                    "actor": "a",
                    "study_instance_uid": None,
                    "subject": None,
                    "data": canonical_data(event(first + k).data),
                    "prev_hash": "0" * 64,
                    "hash": hashlib.sha256(str(first + k).encode()).hexdigest(),
                }
                for k in range(min(args.batch, sample - first))
            ]
            with plain.session() as session:
                session.execute(insert(AuditEventRow), rows)
        plain_rate = sample / (time.perf_counter() - start)
        plain.dispose()

    print(f"audit chain, {args.events:,} events (SQLite WAL, synchronous=FULL)")
    print(f"  append, one event per transaction ({args.single:,}): {args.single / single:,.0f} events/s")
    print(f"  append, {args.batch} per transaction ({n_batched:,}):   {n_batched / batched:,.0f} events/s")
    print(f"  verify (all {count:,}): {args.events / verify:,.0f} events/s ({verify:.1f} s)")
    print(
        f"  export JSON lines:                          {count / exported:,.0f} events/s ({size_mb:.0f} MB)"
    )
    print(f"  database size: {db_mb:.0f} MB ({db_mb * 1e6 / args.events:.0f} bytes/event)")
    print(f"  floor: SHA-256 chain hashing alone {hash_rate:,.0f} events/s")
    print(f"  floor: the same rows without a chain {plain_rate:,.0f} events/s")
    print(f"  ratio batched append / unchained insert: {n_batched / batched / plain_rate:.2f}")


if __name__ == "__main__":
    main()
