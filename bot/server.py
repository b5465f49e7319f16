"""How the bot meets Slack: Socket Mode (default) or HTTP, and logs that never hold a token.

HTTP mode serves bolt on a threading HTTP server: every request (events, the slash command,
interactions) is POSTed to one path, `/slack/events`, and bolt checks its signature and that
its timestamp is within five minutes before anything else runs.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App, BoltRequest

EVENTS_PATH = "/slack/events"
_TOKEN = re.compile(r"\b(xox[abposr]-|xapp-)[A-Za-z0-9-]+")


class RedactTokens(logging.Filter):
    """Rewrites any Slack token in a log record as `xoxb-…` (slack_sdk logs URLs and bodies)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg, record.args = _TOKEN.sub(r"\1…", message), None
        if record.exc_text:
            record.exc_text = _TOKEN.sub(r"\1…", record.exc_text)
        return True


def redact_logs() -> None:
    """Put the token filter on every handler of the root logger (and on new ones' records)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactTokens) for f in handler.filters):
            handler.addFilter(RedactTokens())
    for name in ("slack_bolt", "slack_sdk", "kb.bot"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


class _Server(ThreadingHTTPServer):
    # The standard library's backlog of 5 drops a burst's connections, which the client then
    # re-sends a second later: Slack delivering 50 events at once must find room.
    request_queue_size = 128
    daemon_threads = True


class HttpServer:
    """bolt over a threading HTTP server on `host:port` (port 0: a free one)."""

    def __init__(self, app: App, host: str = "0.0.0.0", port: int = 3000) -> None:
        handler = type("Handler", (_Handler,), {"app": app})
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def serve_forever(self) -> None:
        """Serve until stopped (the `kb bot --http` foreground)."""
        self._server.serve_forever(poll_interval=0.1)

    def start(self) -> HttpServer:
        """Serve on a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    app: App
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logging.getLogger("kb.bot.http").debug(format, *args)

    def do_GET(self) -> None:
        self._send(200 if self.path == "/health" else 404, {}, "ok")

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        if path != EVENTS_PATH:
            self._send(404, {}, "")
            return
        headers: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in self.headers.items()}
        response = self.app.dispatch(BoltRequest(body=body, query=query, headers=headers))
        self._send(response.status, response.headers, response.body)

    def _send(self, status: int, headers: dict[str, Any], body: str | dict[str, Any]) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        for key, values in headers.items():
            if key.lower() == "content-length":
                continue
            for value in values if isinstance(values, list | tuple) else [values]:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
