"""MLLP framing (HL7 v2.5.1 Appendix C, Minimal Lower Layer Protocol): ``<VT> message <FS><CR>``.

:func:`frame` wraps one message; :class:`FrameReader` takes bytes as they arrive and gives back
complete payloads, tolerant of a missing ``<CR>`` after ``<FS>``. Used by the listener
(:mod:`breastgate.ingest.mllp`) and the sender (:mod:`breastgate.delivery.mllp`), so both ends agree
on one set of block characters.
"""

from __future__ import annotations

START = b"\x0b"
END = b"\x1c"
CR = b"\x0d"


def frame(payload: bytes) -> bytes:
    """Wrap one message for MLLP."""
    return START + payload + END + CR


class FrameReader:
    """Incremental MLLP deframer: feed bytes, get complete payloads; tolerant of a missing CR."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._in_frame = False
        self._skipping = False  # inside an oversize frame, dropping until its end
        self.dropped = 0  # bytes outside any frame

    def feed(self, data: bytes) -> list[bytes | None]:
        """Payloads completed by ``data``; ``None`` marks an oversize frame (answered, not read)."""
        out: list[bytes | None] = []
        view = memoryview(data)
        i = 0
        while i < len(view):
            if not self._in_frame:
                j = data.find(START, i)
                if j < 0:
                    self.dropped += sum(1 for b in data[i:] if b not in (0x0D, 0x0A))
                    break
                self.dropped += sum(1 for b in data[i:j] if b not in (0x0D, 0x0A))
                self._in_frame, self._skipping = True, False
                self._buf.clear()
                i = j + 1
                continue
            k = data.find(END, i)
            s = data.find(START, i)
            if s >= 0 and (k < 0 or s < k):  # a new frame began: the open one was abandoned
                self.dropped += len(self._buf) + (s - i)
                self._buf.clear()
                self._skipping = False
                i = s + 1
                continue
            chunk = data[i:] if k < 0 else data[i:k]
            if not self._skipping:
                self._buf += chunk
                if len(self._buf) > self.max_frame_bytes:
                    self._skipping = True
                    self._buf.clear()
                    out.append(None)
            if k < 0:
                break
            if not self._skipping:
                out.append(bytes(self._buf))
            self._buf.clear()
            self._in_frame = False
            i = k + 1
            if i < len(view) and view[i : i + 1] == CR:
                i += 1
        return out

    @property
    def partial(self) -> bool:
        """True while a frame has started and not ended."""
        return self._in_frame
