"""A fake Slack for an app (the bot): the Web API it calls, and Slack's side of its two modes.

- `FakeSlack` extends the read-only `FakeSlackAPI` with what an app writes: messages posted
  and updated (kept in the workspace, so a thread reads back), ephemeral messages, reactions,
  modals, assistant-thread status, prompts and titles, permalinks, file uploads (the
  files_upload_v2 three-step) and replies to `response_url`s.
- `SignedSender` delivers events, slash commands and interactions to an app in HTTP mode,
  signed with the signing secret the way Slack signs them.
- `FakeSocketMode` is Slack's Socket Mode endpoint: a local websocket server that
  `apps.connections.open` points at, pushing envelopes and collecting the app's acks.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from fakes.slack_api import TOKEN, FakeChannel, FakeSlackAPI, FakeWorkspace, RecordedRequest
from fakes.slack_api import _Handler as _ApiHandler

APP_TOKEN = "xapp-1-fake-0000-app-token"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
BOT_USER = "UKB000001"
BOT_ID = "BKB000001"


class _Handler(_ApiHandler):
    """Also serves the upload URLs and response URLs Slack hands out."""

    api: ClassVar[FakeSlack]  # type: ignore[misc]

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith(("/upload/", "/respond/")):
            super()._serve()
            return
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        kind, _, key = path.strip("/").partition("/")
        self.api.received(kind, key, data)
        body = b"OK"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeSlack(FakeSlackAPI):
    """The Web API an app uses, recording what it posted; `posts()` is what people saw."""

    methods: ClassVar[dict[str, str]] = {
        **FakeSlackAPI.methods,
        "chat.postMessage": "chat_post",
        "chat.update": "chat_update",
        "chat.postEphemeral": "chat_ephemeral",
        "chat.getPermalink": "chat_permalink",
        "reactions.add": "reactions_add",
        "reactions.remove": "reactions_remove",
        "views.open": "views_open",
        "users.info": "users_info",
        "users.conversations": "users_conversations",
        "conversations.info": "conversations_info",
        "conversations.open": "conversations_open",
        "assistant.threads.setStatus": "ok",
        "assistant.threads.setSuggestedPrompts": "ok",
        "assistant.threads.setTitle": "ok",
        "files.getUploadURLExternal": "files_upload_url",
        "files.completeUploadExternal": "files_complete",
        "apps.connections.open": "connections_open",
    }
    handler = _Handler

    def __init__(
        self,
        workspace: FakeWorkspace,
        token: str = TOKEN,
        lifetime_s: float = 120.0,
        members: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(workspace, token=token, lifetime_s=lifetime_s)
        self.members = members or {}  # channel id -> member user ids
        self.uploads: dict[str, bytes] = {}
        self.responses: list[dict[str, Any]] = []
        self.socket_url = ""
        self._ts = itertools.count(1)
        self._files = itertools.count(1)
        self._response_urls = itertools.count(1)
        self.delay_s = 0.0  # added to every API call: a slow network

    def authorized(self, token: str, method: str) -> bool:
        """The bot token for the Web API; the app-level token opens Socket Mode connections."""
        return token == (APP_TOKEN if method == "apps.connections.open" else self.token)

    # --- what the app did ----------------------------------------------------------------

    def posts(self, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        """The parameters of every successful call of `method`, blocks decoded."""
        out = []
        for request in self.calls(method):
            if request.status != 200:
                continue
            params: dict[str, Any] = dict(request.params)
            for key in ("blocks", "view", "prompts", "files"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
            out.append(params)
        return out

    def response_url(self) -> str:
        """A new response_url for a slash command or an interaction."""
        return f"http://127.0.0.1:{self.port}/respond/{next(self._response_urls)}"

    def received(self, kind: str, key: str, data: bytes) -> None:
        """Bytes sent to an upload URL, or a JSON reply to a response URL."""
        with self._lock:
            if kind == "upload":
                self.uploads[key] = data
            else:
                self.responses.append({"url_id": key, **json.loads(data or b"{}")})
            self.requests.append(RecordedRequest(f"/{kind}/{key}", kind, {}, time.monotonic(), 200))

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until `method` was called successfully `count` times; its calls."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.responses if method == "respond" else self.posts(method)
            if len(found) >= count or time.monotonic() > deadline:
                return list(found)
            time.sleep(0.01)

    # --- the API methods -------------------------------------------------------------------

    def _delay(self) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)

    def ok(self, params: dict[str, str]) -> dict[str, Any]:
        self._delay()
        return {"ok": True}

    def _message(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            ts = f"{1_800_000_000 + next(self._ts)}.000100"
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
        }
        if params.get("blocks"):
            message["blocks"] = json.loads(params["blocks"])
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return message

    def chat_post(self, params: dict[str, str]) -> dict[str, Any]:
        self._delay()
        channel = self._channel(params)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        message = self._message(params)
        with self._lock:
            channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}

    def chat_update(self, params: dict[str, str]) -> dict[str, Any]:
        self._delay()
        channel = self._channel(params)
        found = channel and next((m for m in channel.messages if m["ts"] == params.get("ts")), None)
        if channel is None or found is None:
            return {"ok": False, "error": "message_not_found"}
        found["text"] = params.get("text", "")
        if params.get("blocks"):
            found["blocks"] = json.loads(params["blocks"])
        return {"ok": True, "channel": channel.id, "ts": found["ts"]}

    def chat_ephemeral(self, params: dict[str, str]) -> dict[str, Any]:
        self._delay()
        if self._channel(params) is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": f"{1_800_000_000 + next(self._ts)}.000200"}

    def chat_permalink(self, params: dict[str, str]) -> dict[str, Any]:
        ts = params.get("message_ts", "")
        link = f"{self.workspace.url}archives/{params.get('channel')}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": params.get("channel"), "permalink": link}

    def reactions_add(self, params: dict[str, str]) -> dict[str, Any]:
        self._delay()
        return {"ok": True}

    def reactions_remove(self, params: dict[str, str]) -> dict[str, Any]:
        return {"ok": True}

    def views_open(self, params: dict[str, str]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": {"id": "V0001", **json.loads(params.get("view") or "{}")}}

    def users_info(self, params: dict[str, str]) -> dict[str, Any]:
        user = next((u for u in self.workspace.users if u["id"] == params.get("user")), None)
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def users_conversations(self, params: dict[str, str]) -> dict[str, Any]:
        user = params.get("user") or BOT_USER
        found = [
            {"id": c.id, "name": c.name, "is_private": c.is_private}
            for c in self.workspace.channels
            if user in self.members.get(c.id, []) or (user == BOT_USER and c.is_member)
        ]
        return {"ok": True, "channels": found, "response_metadata": {"next_cursor": ""}}

    def conversations_info(self, params: dict[str, str]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": _channel_json(channel)}

    def conversations_open(self, params: dict[str, str]) -> dict[str, Any]:
        user = params.get("users", "")
        dm_id = "D" + user.removeprefix("U")
        with self._lock:
            if not any(c.id == dm_id for c in self.workspace.channels):
                self.workspace.channels.append(FakeChannel(dm_id, dm_id, is_member=True))
        return {"ok": True, "channel": {"id": dm_id}}

    def files_upload_url(self, params: dict[str, str]) -> dict[str, Any]:
        file_id = f"F{next(self._files):08d}"
        url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
        return {"ok": True, "upload_url": url, "file_id": file_id}

    def files_complete(self, params: dict[str, str]) -> dict[str, Any]:
        files = json.loads(params.get("files") or "[]")
        if any(f["id"] not in self.uploads for f in files):
            return {"ok": False, "error": "file_not_uploaded"}
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def connections_open(self, params: dict[str, str]) -> dict[str, Any]:
        if not self.socket_url:
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": self.socket_url}


def _channel_json(channel: FakeChannel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "is_private": channel.is_private,
        "is_im": channel.id.startswith("D"),
        "is_member": channel.is_member,
        "topic": {"value": channel.topic},
        "purpose": {"value": channel.purpose},
    }


# --- Slack's side of HTTP mode: signed deliveries ------------------------------------------


def signature(secret: str, timestamp: str, body: str) -> str:
    """Slack's v0 signature of a request body."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SignedSender:
    """Delivers requests to an app's HTTP endpoint as Slack does: signed, form or JSON."""

    def __init__(self, url: str, secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.secret = secret
        self._events = itertools.count(1)

    def send(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        retry: int = 0,
    ) -> tuple[int, str, float]:
        """POST `body`; (status, response text, seconds until the response)."""
        stamp = str(int(time.time() if timestamp is None else timestamp))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(secret or self.secret, stamp, body),
        }
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        request = urllib.request.Request(self.url, body.encode(), headers, method="POST")
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                return response.status, text, time.perf_counter() - start
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), time.perf_counter() - start

    def event(self, event: dict[str, Any], *, event_id: str | None = None, **kw: Any) -> Any:
        """Deliver an Events API callback; returns send()'s tuple."""
        return self.send(
            json.dumps(event_callback(event, event_id or self.next_id())), "application/json", **kw
        )

    def next_id(self) -> str:
        """A fresh event id."""
        return f"Ev{next(self._events):08d}"

    def command(self, text: str, response_url: str, **fields: str) -> Any:
        """Deliver the `/kb` slash command."""
        form = {
            "command": "/kb",
            "text": text,
            "response_url": response_url,
            "trigger_id": "trig-1",
            "team_id": "T00000001",
            "channel_id": "C01",
            "channel_name": "general",
            "user_id": "U01",
            "user_name": "alice",
            **fields,
        }
        return self.send(urlencode(form), "application/x-www-form-urlencoded")

    def interaction(self, payload: dict[str, Any]) -> Any:
        """Deliver a block action, shortcut or view submission."""
        form = urlencode({"payload": json.dumps(payload)})
        return self.send(form, "application/x-www-form-urlencoded")


def event_callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The Events API envelope around an event."""
    return {
        "token": "legacy",
        "team_id": "T00000001",
        "api_app_id": "A0KB",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": "T00000001", "user_id": BOT_USER, "is_bot": True}],
    }


# --- Slack's side of Socket Mode ------------------------------------------------------------


class FakeSocketMode:
    """A websocket server on 127.0.0.1 standing in for Slack's Socket Mode endpoint."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._outbox: queue.Queue[str] = queue.Queue()
        self._server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._envelopes = itertools.count(1)

    @property
    def url(self) -> str:
        """The ws:// address apps.connections.open hands out."""
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket=fake"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _session(self, connection: Any) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()
        while True:
            try:
                outgoing = self._outbox.get(timeout=0.05)
                connection.send(outgoing)
            except queue.Empty:
                pass
            try:
                incoming = connection.recv(timeout=0.01)
            except TimeoutError:
                continue
            except Exception:
                return
            if isinstance(incoming, str) and incoming.strip().startswith("{"):
                self.acks.put(json.loads(incoming))

    def push(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        """Send an envelope (events_api, slash_commands, interactive); its envelope id."""
        envelope_id = f"env-{next(self._envelopes)}"
        self._outbox.put(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": retry_attempt,
                    "retry_reason": "",
                }
            )
        )
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for the app's ack of an envelope."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ack = self.acks.get(timeout=0.1)
            except queue.Empty:
                continue
            if ack.get("envelope_id") == envelope_id:
                return ack
        raise TimeoutError(f"no ack for {envelope_id}")
