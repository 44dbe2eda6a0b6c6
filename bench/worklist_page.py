"""Worklist page server time with a large worklist (issue 20: < 300 ms p95 at 10,000 studies).

Seeds ``--studies`` studies straight into a fresh SQLite database through the store functions
(one indexed instance each, marked stable so the gateway does not process them; triage with a mix
of priorities, flags, queues and statuses as the policy would set), starts ``breastgate serve
--no-workers`` on it, signs in through ``POST /api/session`` as a radiologist and times, one after
the other over loopback HTTP with keep-alive (so the figures are the server's time plus a loopback
round trip):

- ``GET /worklist``: the page's HTML shell (session check included);
- ``GET /api/worklist``: the JSON the page loads (first 200, priority then age, as the page asks);
- the same filtered by flag (a substring match over every row), by queue + status, and a late
  page (``offset`` 5,000);
- the live-update fingerprint the events stream polls (in this process, on the same database).

    python bench/worklist_page.py [--studies 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.support

from tests.support.gateway import GatewayProcess

from bench._common import percentile
from breastgate.governance.accounts import hash_password
from breastgate.store import governance as users
from breastgate.store import studies
from breastgate.store import worklist as worklist_store
from breastgate.store.db import Database
from breastgate.store.migrate import upgrade
from breastgate.web.api.events import fingerprint
from breastgate.worklist.policy import DEFAULT_POLICY

PASSWORD = "bench-reading-room"
FLAGS = ("suspicious_finding", "birads_0_suspected", "dense_breast", "positioning_inadequate", "new_finding")
T0 = datetime(2030, 1, 6, 7, 0, tzinfo=UTC)


def seed(url: str, count: int, rng: random.Random) -> None:
    """``count`` stable studies on the worklist, arriving a minute apart from T0."""
    db = Database(url)
    try:
        for start in range(0, count, 1000):
            with db.session() as session:
                for i in range(start, min(start + 1000, count)):
                    _study(session, i, rng)
        with db.session() as session:
            users.add_user(
                session, "rad", "radiologist", actor="bench", password_hash=hash_password(PASSWORD)
            )
    finally:
        db.dispose()


def _study(session: Session, i: int, rng: random.Random) -> None:
    uid = f"2.25.{10**30 + i}"
    at = T0 + timedelta(minutes=i)
    studies.record_instance(
        session,
        studies.InstanceInfo(
            study_instance_uid=uid,
            series_instance_uid=f"{uid}.1",
            sop_instance_uid=f"{uid}.1.1",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.1.2",
            path=f"bench/{i}.dcm",
            modality="MG",
            accession_number=f"BENCH{i:06d}",
        ),
        now=at,
    )
    studies.mark_stable(session, uid, now=at)
    score = rng.random() * 100
    flags = tuple(f for f in FLAGS if rng.random() < 0.08)
    priority = (
        "stat" if score > 97 else "urgent" if "suspicious_finding" in flags or score > 80 else "routine"
    )
    queue = "technologist" if "positioning_inadequate" in flags else "radiologist"
    worklist_store.apply_triage(
        session,
        uid,
        priority=priority,
        score=score,
        flags=flags,
        policy=DEFAULT_POLICY.name,  # the policy in force: start-up re-triages none
        queue=queue,
        modality="MG",
        accession_number=f"BENCH{i:06d}",
        arrived_at=at,
        now=at,
    )
    if rng.random() < 0.3:
        worklist_store.set_status(session, uid, "in_progress", now=at)


def timed(call: Callable[[], object], count: int) -> list[float]:
    for _ in range(3):  # warm
        call()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def row(name: str, times: list[float]) -> str:
    p50, p95 = percentile(times, 50), percentile(times, 95)
    return f"{name:<46} {p50:8.1f} {p95:8.1f} {max(times):8.1f}   {'ok' if p95 < 300 else 'OVER 300 ms'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bg-worklist-bench-") as tmp:
        home = Path(tmp) / "gw"
        home.mkdir()
        url = f"sqlite:///{home / 'breastgate.db'}"
        upgrade(url)
        started = time.perf_counter()
        seed(url, args.studies, random.Random(20))
        print(f"seeded {args.studies} studies in {time.perf_counter() - started:.1f} s")
        gateway = GatewayProcess(home)
        gateway.start("--no-workers")
        try:
            lines = measure(gateway, url, args.requests)
        finally:
            gateway.stop()
    print(f"{'request':<46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for line in lines:
        print(line)
    return 1 if any("OVER" in line for line in lines[:2]) else 0


def measure(gateway: GatewayProcess, url: str, count: int) -> list[str]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        signed = client.post("/api/session", json={"name": "rad", "password": PASSWORD})
        signed.raise_for_status()

        def get(path: str) -> Callable[[], object]:
            def call() -> object:
                response = client.get(path)
                response.raise_for_status()
                return response

            return call

        assert len(client.get("/api/worklist?limit=200").json()["items"]) == 200
        lines = [
            row("GET /worklist (HTML shell)", timed(get("/worklist"), count)),
            row("GET /api/worklist?limit=200", timed(get("/api/worklist?limit=200"), count)),
            row(
                "GET /api/worklist?flag=suspicious_finding",
                timed(get("/api/worklist?flag=suspicious_finding&limit=200"), count),
            ),
            row(
                "GET /api/worklist?queue=technologist&status=…",
                timed(get("/api/worklist?queue=technologist&status=scheduled&limit=200"), count),
            ),
            row(
                "GET /api/worklist?limit=200&offset=5000",
                timed(get("/api/worklist?limit=200&offset=5000"), count),
            ),
        ]
    db = Database(url)
    try:
        context = SimpleNamespace(db=db)
        lines.append(
            row("events fingerprint (in process, every 0.5 s)", timed(lambda: fingerprint(context), count))
        )
    finally:
        db.dispose()
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
