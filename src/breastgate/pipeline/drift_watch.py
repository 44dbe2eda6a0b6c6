"""Drift alerts: check every registered algorithm version's score drift, alert once per crossing.

:meth:`DriftWatch.tick` (run by the gateway every ``BG_DRIFT_CHECK_SECONDS``) computes
:func:`~breastgate.governance.monitoring.drift_report` for each row of ``algorithm_version``. When
a device's check crosses its threshold (PSI or KS, :mod:`breastgate.governance.drift`) and its
previous check had not, it raises an alert, in one transaction with the new state:

- a WARNING log line (algorithm, version, device and statistics: no PHI);
- an audit event ``drift.alert`` on the hash chain;
- a ``drift.alert`` webhook event owed to every ``BG_WEBHOOKS`` receiver.

The previous state lives in ``drift_state`` (one row per version × device), so a restart or a
second gateway process does not repeat an alert: the state row is read and written inside the
same transaction as the alert (the write lock on SQLite, a row lock on PostgreSQL). A check that
cannot be evaluated (too few scores in a window) changes nothing: it is neither a new crossing
nor a recovery. A check back under its thresholds clears the state, so the next crossing alerts
again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.outputs import HttpEndpoint
from breastgate.governance.monitoring import drift_report
from breastgate.pipeline.publish.base import ResultFiles
from breastgate.pipeline.publish.webhooks import enqueue_event
from breastgate.store import audit
from breastgate.store import governance as governance_store
from breastgate.store import tables as t
from breastgate.store.blobs import BlobStore
from breastgate.store.db import Database

LOGGER = logging.getLogger(__name__)

EVENT = "drift.alert"
ACTOR = "system:drift-watch"


@dataclass(frozen=True)
class DriftAlert:
    """One alert raised by a tick; ``number`` counts the alerts of this version × device."""

    algorithm_id: str
    version: str
    device: str
    number: int
    psi: float | None
    ks_pvalue: float | None
    webhook_key: str | None


class DriftWatch:
    """Periodic drift check of every registered algorithm version (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore | None = None,
        *,
        results_path: Path | None = None,
        webhooks: Sequence[HttpEndpoint] = (),
        baseline_days: float = 30.0,
        current_days: float = 7.0,
    ) -> None:
        self._db, self._blobs, self._results_path = db, blobs, results_path
        self._webhooks = tuple(webhooks)
        self._baseline_days, self._current_days = baseline_days, current_days

    def tick(self, now: datetime | None = None) -> list[DriftAlert]:
        """Check every registered version (one transaction each); returns the alerts raised."""
        now = now or datetime.now(UTC)
        with self._db.session() as session:
            keys = [(v.algorithm_id, v.version) for v in governance_store.versions(session)]
        alerts: list[DriftAlert] = []
        for algorithm_id, version in keys:
            with self._db.session() as session:
                alerts.extend(self._check(session, algorithm_id, version, now))
        return alerts

    def _check(self, session: Session, algorithm_id: str, version: str, now: datetime) -> list[DriftAlert]:
        report = drift_report(
            session,
            algorithm_id,
            version,
            baseline_days=self._baseline_days,
            current_days=self._current_days,
            now=now,
        )
        alerts = []
        for check in report["checks"]:
            key = (algorithm_id, version, check["device"])
            state = session.get(t.DriftState, key, with_for_update=True)
            if state is None:
                state = t.DriftState(
                    algorithm_id=algorithm_id,
                    version=version,
                    device=check["device"],
                    crossed=False,
                    alerts=0,
                )
                session.add(state)
            state.checked_at = now
            if not check["evaluated"]:
                continue
            state.psi, state.ks_pvalue = check["psi"], check["ks_pvalue"]
            crossed_before, state.crossed = bool(state.crossed), bool(check["crossed"])
            if state.crossed and not crossed_before:
                state.alerts = (state.alerts or 0) + 1
                state.alerted_at = now
                alerts.append(self._alert(session, report, check, state.alerts, now))
        session.flush()
        return alerts

    def _alert(
        self,
        session: Session,
        report: Mapping[str, Any],
        check: Mapping[str, Any],
        number: int,
        now: datetime,
    ) -> DriftAlert:
        algorithm_id, version, device = report["algorithm_id"], report["version"], check["device"]
        data = {
            "algorithm_id": algorithm_id,
            "version": version,
            "device": device,
            "alert": number,
            "quantity": report["quantity"],
            **{
                k: check[k]
                for k in ("psi", "psi_level", "ks_statistic", "ks_pvalue", "n_baseline", "n_current")
            },
            "psi_threshold": report["psi_threshold"],
            "ks_alpha": report["ks_alpha"],
            "baseline": report["baseline"],
            "current": report["current"],
        }
        LOGGER.warning(
            "drift alert: %s %s on %s: %s PSI %s (%s), KS p=%s; %d baseline and %d current scores",
            algorithm_id, version, device, report["quantity"], check["psi"], check["psi_level"],
            check["ks_pvalue"], check["n_baseline"], check["n_current"],
        )  # fmt: skip
        audit.append(
            session, AuditKind.DRIFT_ALERT, actor=ACTOR, subject=f"{algorithm_id}@{version}", data=data
        )
        key = None
        if self._webhooks and self._blobs is not None and self._results_path is not None:
            key = enqueue_event(
                session, ResultFiles(self._blobs, self._results_path), self._webhooks, EVENT, data,
                study_uid="", key_parts=(algorithm_id, version, device, number), now=now, subfolder="drift",
            )  # fmt: skip
        return DriftAlert(algorithm_id, version, device, number, check["psi"], check["ks_pvalue"], key)
