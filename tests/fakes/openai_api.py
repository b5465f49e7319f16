"""A local fake OpenAI-compatible chat API over HTTP (what vLLM, llama.cpp and LM Studio serve).

`FakeOpenAI()` serves `POST /v1/chat/completions` and `GET /v1/models` on 127.0.0.1 (a free
port). It answers with queued reply texts (or `default_reply`), records every request (path,
headers, JSON body) so tests can assert what was sent, and can answer the next N calls with an
HTTP error status or hang past the client's timeout. Use it as a context manager; it also
stops itself after `lifetime_s`.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import urlsplit

from fakes.server import LoopbackServer


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON body, or None
    at: float

    def messages_text(self) -> str:
        """All message contents of a chat request, joined (what the model was shown)."""
        messages = (self.body or {}).get("messages") or []
        return "\n".join(str(m.get("content", "")) for m in messages)


class FakeOpenAI(LoopbackServer):
    """A fake OpenAI-compatible server; `url` + "/v1" goes to KB_LLM_BASE_URL."""

    routes: ClassVar[dict[tuple[str, str], str]] = {
        ("POST", "/v1/chat/completions"): "chat_completions",
        ("GET", "/v1/models"): "models",
    }

    def __init__(
        self,
        default_reply: str = "I don't know.",
        api_key: str | None = None,
        lifetime_s: float = 30.0,
    ) -> None:
        self.default_reply = default_reply
        self.api_key = api_key  # when set, requests without `Bearer <api_key>` get 401
        self.requests: list[RecordedRequest] = []
        self._replies: deque[str] = deque()
        self._failures: deque[int] = deque()  # HTTP status per failing call; 0 = hang
        super().__init__(type("Handler", (_Handler,), {"api": self}), lifetime_s)

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def reply(self, *texts: str) -> None:
        """Queue the texts the next chat calls answer with (then `default_reply`)."""
        with self._lock:
            self._replies.extend(texts)

    def fail(self, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` chat calls with HTTP `status`."""
        with self._lock:
            self._failures.extend([status] * times)

    def hang(self, times: int = 1) -> None:
        """Let the next `times` chat calls hang (until the server stops) without answering."""
        self.fail(0, times)

    def chat_calls(self) -> list[RecordedRequest]:
        """The chat requests received, oldest first."""
        with self._lock:
            return [r for r in self.requests if self.routes.get((r.method, r.path)) in _CHAT]

    # -- the API -------------------------------------------------------------------------

    def next_failure(self) -> int | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def next_reply(self) -> str:
        with self._lock:
            return self._replies.popleft() if self._replies else self.default_reply

    def wait_released(self) -> None:
        self._released.wait()

    def chat_completions(self, body: Any) -> tuple[int, Any]:
        text = self.next_reply()
        return 200, {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    def models(self, body: Any) -> tuple[int, Any]:
        return 200, {"object": "list", "data": [{"id": "test", "object": "model"}]}


_CHAT = {"chat_completions", "ollama_chat"}


class _Handler(BaseHTTPRequestHandler):
    api: ClassVar[FakeOpenAI]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        api = self.api
        with api._lock:
            api.requests.append(
                RecordedRequest(
                    method=self.command,
                    path=path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
            )
        route = api.routes.get((self.command, path))
        if route is None:
            self._send(404, {"error": {"message": f"no route {self.command} {path}"}})
            return
        if api.api_key is not None and self.headers.get("Authorization") != f"Bearer {api.api_key}":
            self._send(401, {"error": {"message": "invalid api key", "type": "auth_error"}})
            return
        if route in _CHAT and (status := api.next_failure()) is not None:
            if status == 0:
                api.wait_released()
                return
            self._send(status, {"error": {"message": f"fake failure {status}", "type": "server"}})
            return
        status, payload = getattr(api, route)(body or {})
        if isinstance(payload, list):  # a stream of JSON lines (Ollama's NDJSON)
            data = b"".join(json.dumps(part).encode() + b"\n" for part in payload)
            self._send_bytes(status, data, "application/x-ndjson")
        else:
            self._send(status, payload)

    def _send(self, status: int, payload: Any) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
