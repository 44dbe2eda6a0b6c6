"""Client associations with pynetdicom, set up one way everywhere (C-STORE, C-FIND/C-MOVE, engines).

:class:`ClosingAE` works round a pynetdicom 3.0.4 socket leak; :func:`set_nodelay` is bound to
``EVT_CONN_OPEN`` of every association we open or accept; :func:`associate` opens an association and
maps the ways it can fail to the delivery errors of :mod:`breastgate.domain.errors` (PS3.8 ACSE:
rejected, aborted, no accepted presentation context, unreachable).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

from pydicom.uid import UID
from pynetdicom import AE, evt

from breastgate.domain.errors import NoPresentationContextError, PeerUnavailableError
from breastgate.domain.model import DicomNode, is_ae_title

LOGGER = logging.getLogger(__name__)


class AssociationRejectedError(PeerUnavailableError):
    """The peer answered A-ASSOCIATE-RJ (PS3.8 §9.3.4): ``permanent`` for result 1 (rejected-permanent,
    e.g. our calling AE title or its called AE title is not recognised), else transient.

    It stays a :class:`PeerUnavailableError` (retried) for callers that do not look closer; a
    caller for whom a permanent rejection is a refusal (the prior fetch) re-raises it as one."""

    def __init__(self, message: str, *, permanent: bool, reason: str) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.reason = reason


def set_nodelay(event: Any) -> None:
    """``EVT_CONN_OPEN``: disable Nagle; otherwise each small PDU waits for a delayed ACK (~40 ms)."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # pragma: no cover - e.g. a non-TCP socket
        LOGGER.debug("could not set TCP_NODELAY", exc_info=True)


class ClosingAE(AE):  # type: ignore[misc]
    """An AE that closes its raw sockets when asked.

    pynetdicom 3.0.4 leaks the socket when ``connect()`` fails (``AssociationSocket`` calls
    ``shutdown()`` on the unconnected socket, which raises before ``close()``), so every attempt
    against a peer that is down would leave an unclosed socket behind (ResourceWarning).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw_sockets: list[socket.socket] = []

    def _create_socket(self, *args: Any, **kwargs: Any) -> Any:
        assoc_socket = super()._create_socket(*args, **kwargs)
        raw = getattr(assoc_socket, "socket", None)
        if isinstance(raw, socket.socket):
            self.raw_sockets.append(raw)
        return assoc_socket

    def close_sockets(self) -> None:
        for raw in self.raw_sockets:
            raw.close()  # no-op when pynetdicom closed it already
        self.raw_sockets.clear()


@dataclass(frozen=True)
class Timeouts:
    """Seconds for TCP connect, ACSE (association set-up and release), DIMSE responses and the
    network (no data at all); a timeout is a failure that may pass."""

    connect: float = 10.0
    acse: float = 30.0
    dimse: float = 120.0
    network: float = 60.0


def client_ae(calling_ae: str, timeouts: Timeouts = Timeouts()) -> ClosingAE:
    """A requestor AE with our AE title and timeouts; the caller adds its requested contexts."""
    if not is_ae_title(calling_ae):
        raise ValueError("AE title must be 1-16 characters")
    ae = ClosingAE(ae_title=calling_ae)
    ae.connection_timeout = timeouts.connect
    ae.acse_timeout = timeouts.acse
    ae.dimse_timeout = timeouts.dimse
    ae.network_timeout = timeouts.network
    return ae


def why_unreachable(node: DicomNode, timeout: float) -> str:
    """Name the reason an association failed (pynetdicom only logs it)."""
    try:
        with socket.create_connection((node.host, node.port), timeout=timeout):
            return "association aborted or timed out"
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return "connection timed out"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def associate(
    ae: ClosingAE,
    node: DicomNode,
    *,
    what: str,
    max_pdu: int = 0,
    ext_neg: list[Any] | None = None,
    handlers: list[Any] | None = None,
) -> Any:
    """Open an association with ``node`` proposing the AE's requested contexts.

    ``ext_neg`` are extended negotiation items (e.g. SCP/SCU Role Selection for C-GET, PS3.7
    D.3.3.4); ``handlers`` are further ``(event, handler)`` pairs bound to the association.

    Raises
    ------
    NoPresentationContextError
        The peer accepted the association but none of the contexts (pynetdicom then aborts).
    PeerUnavailableError
        Rejected, aborted, refused or timed out.
    """
    accepted: list[bool] = []
    bound: list[Any] = [
        (evt.EVT_CONN_OPEN, set_nodelay),
        (evt.EVT_ACCEPTED, lambda _event: accepted.append(True)),
        *(handlers or []),
    ]
    assoc = ae.associate(
        node.host, node.port, ae_title=node.ae_title, max_pdu=max_pdu, ext_neg=ext_neg, evt_handlers=bound
    )
    if assoc.is_established:
        return assoc
    ae.close_sockets()
    if accepted:
        names = ", ".join(sorted({UID(str(cx.abstract_syntax)).name for cx in ae.requested_contexts}))
        raise NoPresentationContextError(f"{node} accepted no presentation context for {names} ({what})")
    if assoc.is_rejected:
        answer = getattr(getattr(assoc, "acceptor", None), "primitive", None)
        permanent = getattr(answer, "result", None) == 0x01
        reason = str(getattr(answer, "reason_str", "") or "no reason given")
        raise AssociationRejectedError(
            f"association rejected by {node} ({what}): {reason}", permanent=permanent, reason=reason
        )
    reason = why_unreachable(node, float(ae.connection_timeout or 10.0))
    raise PeerUnavailableError(f"cannot associate with {node} ({what}): {reason}")


def release(ae: ClosingAE, assoc: Any) -> None:
    """Release the association if it is still up, and close what the AE opened."""
    try:
        if assoc.is_established:
            assoc.release()
    finally:
        ae.close_sockets()
