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

from breastgate.delivery.errors import (
    InvalidDestinationError,
    PeerUnavailableError,
    RejectedError,
    UnreadableObjectError,
)

LOGGER = logging.getLogger(__name__)

START, END = b"\x0b", b"\x1c\x0d"


def parse_destination(destination: str) -> tuple[str, int]:
    """``mllp://HOST:PORT`` or ``HOST:PORT`` → (host, port)."""
    text = destination.strip()
    if text.startswith("mllp://"):
        text = text[len("mllp://") :]
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise InvalidDestinationError(f"not an MLLP destination mllp://HOST:PORT: {destination!r}") from None
    if not host or not 0 < number < 65536:
        raise InvalidDestinationError(f"not an MLLP destination mllp://HOST:PORT: {destination!r}")
    return host.strip("[]"), number


def _field(segment: str, index: int) -> str:
    parts = segment.split("|")
    return parts[index] if len(parts) > index else ""


def _control_id(message: str) -> str:
    msh = message.split("\r", 1)[0]
    return _field(msh, 9)  # MSH-10 (the field separator is MSH-1)


class MllpSender:
    """Outbox sender for kind ``hl7``: the file holds one ER7 message (``\\r`` segment ends)."""

    def __init__(self, *, timeout: float = 15.0) -> None:
        self.timeout = timeout

    def send(self, destination: str, path: Path) -> None:
        host, port = parse_destination(destination)
        try:
            message = path.read_bytes()
        except OSError as exc:
            raise UnreadableObjectError(f"cannot read {path.name}: {exc.strerror}") from None
        control_id = _control_id(message.decode("utf-8", errors="replace"))
        ack = self._exchange(host, port, message)
        msa = next((s for s in ack.split("\r") if s.startswith("MSA|")), "")
        code, acked = _field(msa, 1), _field(msa, 2)
        if acked != control_id:
            raise PeerUnavailableError(f"ACK names message {acked[:40]!r}, not {control_id!r}")
        if code in ("AA", "CA"):
            return
        reason = _field(msa, 3)[:300] or "no reason given"
        if code in ("AE", "CE"):
            raise RejectedError(f"receiver answered {code}: {reason}")
        if code in ("AR", "CR"):
            raise PeerUnavailableError(f"receiver answered {code}: {reason}")
        raise PeerUnavailableError(f"not an HL7 ACK (MSA-1 {code[:8]!r})")

    def _exchange(self, host: str, port: int, message: bytes) -> str:
        try:
            with socket.create_connection((host, port), timeout=self.timeout) as sock:
                sock.sendall(START + message + END)
                buf = b""
                while END not in buf and b"\x1c" not in buf[-1:]:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        except OSError as exc:
            raise PeerUnavailableError(f"MLLP {host}:{port}: {exc.strerror or type(exc).__name__}") from None
        start, end = buf.find(START), buf.find(b"\x1c")
        if start < 0 or end < start:
            raise PeerUnavailableError(f"MLLP {host}:{port}: connection closed without an ACK")
        return buf[start + 1 : end].decode("utf-8", errors="replace").replace("\n", "\r")
