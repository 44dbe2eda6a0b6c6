"""HL7 v2 over MLLP out: send one message from the outbox and check the receiver's ACK.

Destination: ``mllp://HOST:PORT`` (or ``HOST:PORT``). The ACK decides the outcome (original mode,
HL7 table 0008): AA/CA → sent; AR/CR (rejected for its header, or the receiver's own failure) and
no ACK at all (refused connection, timeout, closed socket, an ACK for another message) → retried
with backoff; AE/CE (the receiver found an error in the content: resending it unchanged cannot
help) → failed, with the receiver's reason, visible to operators.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from breastgate.domain.errors import (
    PeerUnavailableError,
    RejectedError,
    UnreadableObjectError,
)
from breastgate.domain.outputs import MllpEndpoint
from breastgate.hl7.ack import control_id_of, read_ack
from breastgate.hl7.mllp import FrameReader, frame

LOGGER = logging.getLogger(__name__)

#: An ACK longer than this is not an ACK (the frame is dropped and the send retried).
MAX_ACK_BYTES = 1 << 20


class MllpSender:
    """Outbox sender for kind ``hl7``: the file holds one ER7 message (``\\r`` segment ends)."""

    def __init__(self, *, timeout: float = 15.0) -> None:
        self.timeout = timeout

    def send(self, destination: MllpEndpoint | str, path: Path) -> None:
        endpoint = destination if isinstance(destination, MllpEndpoint) else MllpEndpoint.parse(destination)
        host, port = endpoint.host, endpoint.port
        try:
            message = path.read_bytes()
        except OSError as exc:
            raise UnreadableObjectError(f"cannot read {path.name}: {exc.strerror}") from None
        control_id = control_id_of(message.decode("utf-8", errors="replace"))
        reply = read_ack(self._exchange(host, port, message))
        if reply.control_id != control_id:
            raise PeerUnavailableError(f"ACK names message {reply.control_id[:40]!r}, not {control_id!r}")
        if reply.code in ("AA", "CA"):
            return
        reason = reply.reason[:300] or "no reason given"
        if reply.code in ("AE", "CE"):
            raise RejectedError(f"receiver answered {reply.code}: {reason}")
        if reply.code in ("AR", "CR"):
            raise PeerUnavailableError(f"receiver answered {reply.code}: {reason}")
        raise PeerUnavailableError(f"not an HL7 ACK (MSA-1 {reply.code[:8]!r})")

    def _exchange(self, host: str, port: int, message: bytes) -> str:
        reader = FrameReader(MAX_ACK_BYTES)
        answers: list[bytes | None] = []
        try:
            with socket.create_connection((host, port), timeout=self.timeout) as sock:
                sock.sendall(frame(message))
                while not answers:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    answers = reader.feed(chunk)
        except OSError as exc:
            raise PeerUnavailableError(f"MLLP {host}:{port}: {exc.strerror or type(exc).__name__}") from None
        if not answers or answers[0] is None:
            raise PeerUnavailableError(f"MLLP {host}:{port}: connection closed without an ACK")
        return answers[0].decode("utf-8", errors="replace")
