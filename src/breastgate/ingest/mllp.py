"""MLLP listener: HL7 v2 frames over TCP (``<VT> message <FS><CR>``), one answer per frame.

A thread per connection reads frames and hands each to ``handle`` (bytes in, ACK bytes out); the
connection stays open for the next message whatever the previous one was. Bytes outside a frame
are dropped (counted in the log, never logged themselves: they may carry PHI); a frame over
``max_frame_bytes`` is answered with an AR by ``on_oversize`` and skipped to its end; a connection
that closes mid-frame loses only that unacknowledged frame, which the sender still owes.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable

from breastgate.hl7.mllp import FrameReader, frame

LOGGER = logging.getLogger(__name__)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.idle_timeout)
        reader = FrameReader(self.server.max_frame_bytes)
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        frames = 0
        try:
            while not self.server.stopping.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    LOGGER.info("MLLP %s idle for %.0f s, closing", peer, self.server.idle_timeout)
                    break
                if not data:
                    break
                for payload in reader.feed(data):
                    try:
                        answer = self.server.on_oversize() if payload is None else self.server.handle(payload)
                    except Exception:  # a handler bug: close without an ACK, so the sender resends
                        LOGGER.exception("MLLP %s: message handler failed; closing without an ACK", peer)
                        return
                    frames += 1
                    sock.sendall(frame(answer))
        except OSError as exc:
            LOGGER.warning("MLLP %s connection error: %s", peer, exc.strerror or type(exc).__name__)
        finally:
            if reader.partial:
                LOGGER.warning("MLLP %s closed inside a frame: that message was not acknowledged", peer)
            if reader.dropped:
                LOGGER.warning("MLLP %s: %d bytes outside any frame were dropped", peer, reader.dropped)
            LOGGER.debug("MLLP %s closed after %d frames", peer, frames)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Connections queue here while every handler is busy; RIS interfaces open few, long ones.
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handle: Callable[[bytes], bytes],
        on_oversize: Callable[[], bytes],
        max_frame_bytes: int,
        idle_timeout: float,
    ) -> None:
        self.handle = handle
        self.on_oversize = on_oversize
        self.max_frame_bytes = max_frame_bytes
        self.idle_timeout = idle_timeout
        self.stopping = threading.Event()
        super().__init__(address, _Handler)


class MllpServer:
    """Start/stop wrapper; ``port=0`` picks a free port (read :attr:`port` after :meth:`start`)."""

    def __init__(
        self,
        handle: Callable[[bytes], bytes],
        on_oversize: Callable[[], bytes],
        *,
        host: str = "0.0.0.0",
        port: int = 2575,
        max_frame_bytes: int = 1 << 20,
        idle_timeout: float = 600.0,
    ) -> None:
        self._args = (handle, on_oversize, max_frame_bytes, idle_timeout)
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = _Server((self.host, self.port), *self._args)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="mllp", daemon=True)
        self._thread.start()
        LOGGER.info("HL7 MLLP listener on %s:%d", self.host, self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
