"""The shared life of every fake server: a free loopback port, a thread, a self-stop."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """A local HTTP server on 127.0.0.1 that stops by itself after `lifetime_s`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], lifetime_s: float) -> None:
        self._lock = threading.Lock()
        # Set on stop: a hanging handler wakes up so shutdown never waits for it.
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # stop() never waits for a hung handler
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        # Stops by itself even if a test forgets to: no stray server outlives the session.
        self._watchdog = threading.Timer(lifetime_s, self.stop)
        self._watchdog.daemon = True
        self._stopped = False

    @property
    def port(self) -> int:
        """The loopback port the server listens on."""
        return int(self._server.server_address[1])

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._thread.start()
        self._watchdog.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._released.set()
        self._watchdog.cancel()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
