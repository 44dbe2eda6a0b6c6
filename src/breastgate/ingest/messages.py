"""HL7 use-case: a received message is kept, applied (orders, demographics, merges) and acknowledged.

Failures map once, here, to ACK codes: AA after the message and what it changes are committed in
one transaction; AE (content error: do not resend unchanged) and AR (header refused, or our own
storage failure: resend later) with an ERR segment. Every message is logged in ``hl7_message``,
refused ones included, so nothing the RIS sent is lost. Logs name message types, control ids and
internal order ids, never patient data.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from breastgate.domain.errors import StorageError
from breastgate.governance import outcomes as outcome_log
from breastgate.hl7.ack import build_ack
from breastgate.hl7.codec import UNKNOWN_HEADER, Hl7Header, Hl7Message, Hl7Refused, decode, read_message
from breastgate.hl7.vocab import AckCode, Hl7ErrorCode
from breastgate.store import prefetch
from breastgate.store.db import Database
from breastgate.store.orders import MessageLogEntry, log_message, merge_patients, record_order, upsert_patient

LOGGER = logging.getLogger(__name__)


def _log_entry(
    header: Hl7Header, text: str, ack: AckCode, refused: Hl7Refused | None = None
) -> MessageLogEntry:
    """The ``hl7_message`` row of a message and its answer."""
    return MessageLogEntry(
        header.control_id,
        header.sending_application,
        header.sending_facility,
        header.message_type,
        header.version,
        ack.value,
        refused.code.value if refused is not None else None,
        refused.reason if refused is not None else None,
        text,
    )


class GroupCommitter:
    """One writer thread applies the messages of every connection, a batch per transaction.

    A durable ACK needs a synchronous commit (an fsync) before it is sent; with several RIS
    connections the messages that arrive while one commit runs share the next, so the fsync is
    paid per batch, not per message. Each caller waits for its own message's outcome. If a batch
    fails, its messages are applied again one per transaction, so one bad message never costs the
    others their AA.
    """

    def __init__(
        self, db: Database, write: Callable[[Session, Hl7Message], str], max_batch: int = 64
    ) -> None:
        self.db = db
        self.write = write
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Hl7Message, Future[str]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, message: Hl7Message) -> str:
        """Apply ``message`` durably; returns its summary or raises what storing it raised."""
        future: Future[str] = Future()
        self._queue.put((message, future))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hl7-writer", daemon=True)
                self._thread.start()
        return future.result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.db.session() as session:
                    summaries = [self.write(session, message) for message, _ in batch]
            except Exception:
                if len(batch) == 1:
                    self._one(*batch[0])
                    continue
                LOGGER.warning("HL7 batch of %d failed; applying its messages one by one", len(batch))
                for message, future in batch:
                    self._one(message, future)
                continue
            for (_, future), summary in zip(batch, summaries, strict=True):
                future.set_result(summary)

    def _one(self, message: Hl7Message, future: Future[str]) -> None:
        try:
            with self.db.session() as session:
                summary = self.write(session, message)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(summary)


class Hl7Service:
    """MLLP payloads in, stored orders and ACK bytes out (for :class:`~breastgate.ingest.mllp.MllpServer`).

    With ``prefetch_priors``, an active order not yet matched to a study also owes a prior
    pre-fetch (``store.prefetch.owe``), in the order's own transaction; the pre-fetch itself runs
    later in a background worker (``delivery.prefetch_worker``), never in the MLLP round trip.

    ``clock`` gives the time a message is applied at (orders, patients, pre-fetches); tests fix it.
    """

    def __init__(
        self,
        db: Database,
        *,
        application: str = "BREASTGATE",
        processing_ids: frozenset[str] = frozenset({"P"}),
        max_frame_bytes: int = 1 << 20,
        prefetch_priors: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self._clock = clock or (lambda: datetime.now(UTC))
        self.prefetch_priors = prefetch_priors
        self.application = application
        self.processing_ids = processing_ids
        self.max_frame_bytes = max_frame_bytes
        self._committer = GroupCommitter(db, self._write)
        self._ids = itertools.count(1)
        self._prefix = f"BG{os.getpid() % 1000:03d}{int(time.time()) % 100000:05d}"

    def _control_id(self) -> str:
        return f"{self._prefix}{next(self._ids):08d}"[-20:]

    def handle(self, data: bytes) -> bytes:
        """One MLLP payload in, the ACK bytes out; never raises."""
        try:
            message = read_message(data, processing_ids=self.processing_ids)
        except Hl7Refused as refused:
            return self._refuse(refused, refused.text or decode(data))
        try:
            summary = self._apply(message)
        except (SQLAlchemyError, StorageError, OSError) as exc:
            failure = Hl7Refused(
                AckCode.REJECT,
                Hl7ErrorCode.INTERNAL_ERROR,
                "could not store the message; send it again",
                message.header,
                None,
                message.text,
            )
            LOGGER.error(
                "HL7 %s %s not stored (AR): %s",
                message.header.message_type,
                message.header.control_id,
                type(exc).__name__,
            )
            return self._refuse(failure, message.text, log=False)
        LOGGER.info(
            "HL7 %s %s from %s: AA %s",
            message.header.message_type,
            message.header.control_id,
            message.header.sending_application or "?",
            summary,
        )
        ack = build_ack(
            message.header, AckCode.ACCEPT, control_id=self._control_id(), application=self.application
        )
        return ack.encode("utf-8")

    def oversize(self) -> bytes:
        """The answer to a frame larger than ``max_frame_bytes`` (its content is not read)."""
        refused = Hl7Refused(
            AckCode.REJECT,
            Hl7ErrorCode.SEGMENT_SEQUENCE,
            f"message larger than {self.max_frame_bytes} bytes is not read",
        )
        return self._refuse(refused, "", log=True)

    def _apply(self, message: Hl7Message) -> str:
        return self._committer.submit(message)

    def _write(self, session: Session, message: Hl7Message) -> str:
        """Apply one accepted message inside ``session`` (the committer's batch transaction)."""
        header = message.header
        now = self._clock()
        parts: list[str] = []
        if message.merge is not None:
            moved = merge_patients(session, message.merge, now=now)
            parts.append(
                f"merge: {moved.studies} studies, {moved.orders} orders moved, {moved.linked} matched"
            )
        elif message.patient is not None:
            upsert_patient(session, message.patient, now=now)
            parts.append("demographics")
        for order in message.orders:
            outcome = record_order(session, order, now=now)
            state = "new" if outcome.created else "updated"
            match = f", matched by {outcome.match_method}" if outcome.match_method else ""
            closed = "" if outcome.active else " (closed)"
            parts.append(f"order {outcome.order_id} {state} {order.control}{closed}{match}")
            if self.prefetch_priors and outcome.active and outcome.study_instance_uid is None:
                prefetch.owe(
                    session,
                    order_id=outcome.order_id,
                    patient_id=order.patient.patient_id,
                    before_date=order.scheduled_date,
                    now=now,
                )
                parts.append("priors owed")
        for reported in message.outcomes:
            recorded = outcome_log.record(session, reported, actor=f"hl7:{header.sending_application[:40]}")
            parts.append(f"outcome {recorded} recorded ({reported.source})")
        if message.note:
            parts.append(message.note)
        log_message(session, _log_entry(header, message.text, AckCode.ACCEPT))
        return "; ".join(parts)

    def _refuse(self, refused: Hl7Refused, text: str, *, log: bool = True) -> bytes:
        header = refused.header
        LOGGER.warning(
            "HL7 %s %s from %s refused %s %s: %s",
            header.message_type or "(unknown type)",
            header.control_id or "(no control id)",
            header.sending_application or "?",
            refused.ack.value,
            refused.code.value,
            refused.reason,
        )
        if log:
            try:
                with self.db.session() as session:
                    log_message(session, _log_entry(header, text, refused.ack, refused))
            except (SQLAlchemyError, OSError) as exc:
                LOGGER.error("could not log a refused HL7 message: %s", type(exc).__name__)
        ack = build_ack(
            header if header is not UNKNOWN_HEADER else UNKNOWN_HEADER,
            refused.ack,
            control_id=self._control_id(),
            error=refused,
            application=self.application,
        )
        return ack.encode("utf-8")
