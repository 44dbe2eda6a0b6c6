"""UPS-RS subscriptions and the event reports owed to them (PS3.4 CC.2.3, CC.2.4).

Event reports are rows in ``ups_event`` written in the same transaction as the workitem change
(``store.worklist``); a subscriber's notification channel reads the rows after the last one it
sent, so a report reaches subscribers whichever process made the change. The caller owns the
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from breastgate.store.tables import UpsEvent, UpsSubscription

GLOBAL = ""  # the workitem_uid of a global subscription


@dataclass(frozen=True)
class EventReport:
    id: int
    workitem_uid: str
    payload: dict[str, Any]


def subscribe(
    session: Session, ae_title: str, workitem_uid: str = GLOBAL, *, deletion_lock: bool = False
) -> None:
    """Follow one workitem, or every workitem (``GLOBAL``); subscribing again updates the lock."""
    row = session.get(UpsSubscription, (ae_title, workitem_uid))
    if row is None:
        session.add(
            UpsSubscription(
                ae_title=ae_title,
                workitem_uid=workitem_uid,
                deletion_lock=deletion_lock,
                created_at=datetime.now(UTC),
            )
        )
    else:
        row.deletion_lock = deletion_lock
    session.flush()


def unsubscribe(session: Session, ae_title: str, workitem_uid: str = GLOBAL) -> bool:
    result = session.execute(
        delete(UpsSubscription).where(
            UpsSubscription.ae_title == ae_title, UpsSubscription.workitem_uid == workitem_uid
        )
    )
    return bool(getattr(result, "rowcount", 0))


def subscriptions(session: Session, ae_title: str) -> list[str]:
    """The workitems an AE follows (``GLOBAL`` for all)."""
    return list(
        session.scalars(
            select(UpsSubscription.workitem_uid).where(UpsSubscription.ae_title == ae_title)
        ).all()
    )


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.max(UpsEvent.id))) or 0)


def events_after(session: Session, ae_title: str, after_id: int, limit: int = 100) -> list[EventReport]:
    """Event reports newer than ``after_id`` on the workitems ``ae_title`` follows, oldest first."""
    followed = subscriptions(session, ae_title)
    if not followed:
        return []
    query = select(UpsEvent).where(UpsEvent.id > after_id).order_by(UpsEvent.id).limit(limit)
    if GLOBAL not in followed:
        query = query.where(or_(*(UpsEvent.workitem_uid == uid for uid in followed)))
    return [EventReport(r.id, r.workitem_uid, json.loads(r.payload)) for r in session.scalars(query).all()]
