"""A local fake Slack Web API over HTTP, the way bolt-python tests its Slack apps.

`FakeSlackAPI(workspace)` serves `/api/<method>` on 127.0.0.1 (a free port) from an in-memory
`FakeWorkspace`, checks the bearer token, records every request so tests can assert which API
paths were hit and with what parameters, and can answer the next N calls of a method with
HTTP 429 + Retry-After. Use it as a context manager; it also stops itself after `lifetime_s`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from fakes.server import LoopbackServer

TOKEN = "xoxb-fake-0000-token"


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction.ljust(6, "0")[:6])


@dataclass
class FakeChannel:
    """A conversation and every message in it (top-level messages and thread replies)."""

    id: str
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    topic: str = ""
    purpose: str = ""
    is_private: bool = False
    is_member: bool = True

    def top_level(self) -> list[dict[str, Any]]:
        """What conversations.history shows: parents, unthreaded messages, broadcasts."""
        out = []
        for message in self.messages:
            thread_ts = message.get("thread_ts")
            if thread_ts in (None, message["ts"]) or message.get("subtype") == "thread_broadcast":
                out.append(self.with_thread_fields(message))
        return out

    def thread(self, ts: str) -> list[dict[str, Any]]:
        """What conversations.replies shows: the parent, then its replies, oldest first."""
        found = [m for m in self.messages if m["ts"] == ts or m.get("thread_ts") == ts]
        found = [self.with_thread_fields(m) if m["ts"] == ts else m for m in found]
        return sorted(found, key=lambda m: _ts_key(m["ts"]))

    def with_thread_fields(self, message: dict[str, Any]) -> dict[str, Any]:
        replies = [
            m for m in self.messages if m.get("thread_ts") == message["ts"] and m is not message
        ]
        if not replies:
            return message
        latest = max((m["ts"] for m in replies), key=_ts_key)
        users = list(dict.fromkeys(m.get("user", "") for m in replies))
        return {
            **message,
            "thread_ts": message["ts"],
            "reply_count": len(replies),
            "latest_reply": latest,
            "reply_users": users,
        }


@dataclass
class FakeWorkspace:
    """The in-memory workspace the fake serves: members and channels."""

    name: str = "acme"
    team_id: str = "T00000001"
    users: list[dict[str, Any]] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The workspace's web address, as auth.test reports it."""
        return f"https://{self.name}.slack.com/"

    def channel(self, name: str) -> FakeChannel:
        """A channel by name."""
        return next(c for c in self.channels if c.name == name)

    def post(self, channel: str, message: dict[str, Any]) -> None:
        """Add a message (or a reply, with thread_ts) to a channel."""
        self.channel(channel).messages.append({"type": "message", **message})

    @classmethod
    def from_export_dir(cls, path: Path, name: str = "acme") -> FakeWorkspace:
        """The workspace a Slack export directory describes (edits applied, deletions gone)."""
        users = (
            json.loads((path / "users.json").read_text()) if (path / "users.json").exists() else []
        )
        channels: list[FakeChannel] = []
        for list_name, private in (("channels.json", False), ("groups.json", True)):
            if not (path / list_name).exists():
                continue
            for raw in json.loads((path / list_name).read_text()):
                channel = FakeChannel(
                    id=raw["id"],
                    name=raw["name"],
                    topic=(raw.get("topic") or {}).get("value", ""),
                    purpose=(raw.get("purpose") or {}).get("value", ""),
                    is_private=private,
                )
                by_ts: dict[str, dict[str, Any]] = {}
                for day in sorted((path / raw["name"]).glob("*.json")):
                    for message in json.loads(day.read_text()):
                        if not isinstance(message, dict) or "ts" not in message:
                            continue
                        if message.get("subtype") == "message_changed":
                            inner = message["message"]
                            by_ts[inner["ts"]] = {**by_ts.get(inner["ts"], {}), **inner}
                        elif message.get("subtype") == "message_deleted":
                            by_ts.pop(message.get("deleted_ts", ""), None)
                        else:
                            by_ts[message["ts"]] = message
                channel.messages = sorted(by_ts.values(), key=lambda m: _ts_key(m["ts"]))
                channels.append(channel)
        return cls(name=name, users=users, channels=channels)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    path: str
    method: str
    params: dict[str, str]
    at: float
    status: int


def _page(items: list[Any], params: dict[str, str], default_limit: int = 100) -> dict[str, Any]:
    """Cursor pagination like Slack's: an opaque cursor, `limit` items per page."""
    limit = max(1, min(int(params.get("limit") or default_limit), 1000))
    cursor = params.get("cursor") or ""
    start = int(cursor.removeprefix("offset:")) if cursor.startswith("offset:") else 0
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return {
        "page": chunk,
        "has_more": more,
        "response_metadata": {"next_cursor": f"offset:{start + limit}" if more else ""},
    }


def _in_range(ts: str, params: dict[str, str]) -> bool:
    inclusive = params.get("inclusive") in ("1", "true", "True")
    key = _ts_key(ts)
    if params.get("oldest"):
        oldest = _ts_key(params["oldest"])
        if key < oldest or (key == oldest and not inclusive):
            return False
    if params.get("latest"):
        latest = _ts_key(params["latest"])
        if key > latest or (key == latest and not inclusive):
            return False
    return True


class FakeSlackAPI(LoopbackServer):
    """A fake Slack Web API server on 127.0.0.1; `base_url` goes to KB_SLACK_API_URL."""

    # API method -> the method of this class serving it (subclasses add theirs).
    methods: ClassVar[dict[str, str]] = {
        "auth.test": "auth_test",
        "users.list": "users_list",
        "conversations.list": "conversations_list",
        "conversations.history": "conversations_history",
        "conversations.replies": "conversations_replies",
    }
    handler: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self, workspace: FakeWorkspace, token: str = TOKEN, lifetime_s: float = 60.0):
        self.workspace = workspace
        self.token = token
        self.requests: list[RecordedRequest] = []
        self._rate_limits: dict[str, tuple[int, int]] = {}
        super().__init__(type("Handler", (self.handler,), {"api": self}), lifetime_s)

    @property
    def base_url(self) -> str:
        """The API root, e.g. http://127.0.0.1:54321/api/."""
        return f"http://127.0.0.1:{self.port}/api/"

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and `Retry-After: retry_after`."""
        self._rate_limits[method] = (times, retry_after)

    def authorized(self, token: str, method: str) -> bool:
        """Whether `token` may call `method` (the bot token, here)."""
        return token == self.token

    def calls(self, method: str) -> list[RecordedRequest]:
        """The requests made to one API method, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def record(self, request: RecordedRequest) -> None:
        """Keep a request for later assertions."""
        with self._lock:
            self.requests.append(request)

    def take_rate_limit(self, method: str) -> int | None:
        """Retry-After seconds if this call must be rate-limited, else None."""
        with self._lock:
            times, retry_after = self._rate_limits.get(method, (0, 0))
            if times <= 0:
                return None
            self._rate_limits[method] = (times - 1, retry_after)
            return retry_after

    # --- the API methods -------------------------------------------------------------

    def _channel(self, params: dict[str, str]) -> FakeChannel | None:
        return next((c for c in self.workspace.channels if c.id == params.get("channel")), None)

    def auth_test(self, params: dict[str, str]) -> dict[str, Any]:
        ws = self.workspace
        return {"ok": True, "url": ws.url, "team": ws.name, "team_id": ws.team_id, "user": "kb",
                "user_id": "UKB000001", "bot_id": "BKB000001"}  # fmt: skip

    def users_list(self, params: dict[str, str]) -> dict[str, Any]:
        page = _page(self.workspace.users, params)
        return {"ok": True, "members": page.pop("page"), **page}

    def conversations_list(self, params: dict[str, str]) -> dict[str, Any]:
        types = set((params.get("types") or "public_channel").split(","))
        chosen = [
            c
            for c in self.workspace.channels
            if ("private_channel" if c.is_private else "public_channel") in types
        ]
        listed = [
            {
                "id": c.id,
                "name": c.name,
                "is_channel": not c.is_private,
                "is_group": c.is_private,
                "is_private": c.is_private,
                "is_member": c.is_member,
                "is_archived": False,
                "topic": {"value": c.topic},
                "purpose": {"value": c.purpose},
            }
            for c in chosen
        ]
        page = _page(listed, params)
        return {"ok": True, "channels": page.pop("page"), **page}

    def conversations_history(self, params: dict[str, str]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        found = [m for m in channel.top_level() if _in_range(m["ts"], params)]
        found.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)  # newest first, like Slack
        page = _page(found, params)
        return {"ok": True, "messages": page.pop("page"), "pin_count": 0, **page}

    def conversations_replies(self, params: dict[str, str]) -> dict[str, Any]:
        channel = self._channel(params)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        thread = channel.thread(params.get("ts", ""))
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        head, rest = thread[0], [m for m in thread[1:] if _in_range(m["ts"], params)]
        page = _page([head, *rest], params)  # the parent always comes first
        return {"ok": True, "messages": page.pop("page"), **page}


class _Handler(BaseHTTPRequestHandler):
    api: ClassVar[FakeSlackAPI]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _params(self) -> dict[str, str]:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        if body and "json" in (self.headers.get("Content-Type") or ""):
            # A JSON body's lists and objects (blocks) stay JSON, as Slack reads them.
            params.update(
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(body).items()}
            )
        elif body:
            params.update(dict(parse_qsl(body)))
        return params

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        method = path.removeprefix("/api/")
        params = self._params()
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        token = token or params.get("token", "")
        retry_after = self.api.take_rate_limit(method)
        status, headers = 200, {"Content-Type": "application/json; charset=utf-8"}
        if retry_after is not None:
            status, body = 429, {"ok": False, "error": "ratelimited"}
            headers["Retry-After"] = str(retry_after)
        elif not self.api.authorized(token, method):
            body = {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        elif not path.startswith("/api/") or method not in self.api.methods:
            status, body = 404, {"ok": False, "error": "unknown_method"}
        else:
            body = getattr(self.api, self.api.methods[method])(params)
        self.api.record(RecordedRequest(path, method, params, time.monotonic(), status))
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


FakeSlackAPI.handler = _Handler


# --- writing a workspace as a Slack export, and the sample workspace tests share --------------


def write_export(workspace: FakeWorkspace, root: Path) -> Path:
    """Write `workspace` as a Slack export directory (one day file per channel per UTC day)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "users.json").write_text(json.dumps(workspace.users, indent=1))
    lists: dict[str, list[dict[str, Any]]] = {"channels.json": [], "groups.json": []}
    for channel in workspace.channels:
        lists["groups.json" if channel.is_private else "channels.json"].append(
            {"id": channel.id, "name": channel.name, "created": 1700000000,
             "topic": {"value": channel.topic}, "purpose": {"value": channel.purpose}}
        )  # fmt: skip
        days: dict[str, list[dict[str, Any]]] = {}
        for message in channel.messages:
            message = channel.with_thread_fields(message)
            day = datetime.fromtimestamp(_ts_key(message["ts"])[0], UTC).strftime("%Y-%m-%d")
            days.setdefault(day, []).append(message)
        (root / channel.name).mkdir(exist_ok=True)
        for day, messages in days.items():
            (root / channel.name / f"{day}.json").write_text(json.dumps(messages, indent=1))
    for name, entries in lists.items():
        if entries:
            (root / name).write_text(json.dumps(entries, indent=1))
    return root


def ts(stamp: str, seq: int = 0) -> str:
    """A Slack ts for a 'YYYY-MM-DD HH:MM' UTC stamp (seq makes it unique)."""
    moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return f"{int(moment.timestamp())}.{seq:06d}"


def sample_workspace() -> FakeWorkspace:
    """A small workspace: people (two deactivated), threads, markup, bots, two incidents."""
    users: list[dict[str, Any]] = [
        {"id": "U01", "name": "alice", "real_name": "Alice Adams",
         "profile": {"real_name": "Alice Adams", "email": "alice@acme.io"}},
        {"id": "U02", "name": "bob", "profile": {"real_name": "Bob Brown", "email": "bob@acme.io"}},
        {"id": "U03", "name": "carol", "deleted": True, "profile": {}},
        {"id": "U04", "name": "dave", "real_name": "Dave Dunn", "deleted": True,
         "updated": 1711000000, "profile": {"email": "dave@acme.io"}},
        {"id": "U05", "name": "erin", "deleted": True, "profile": {}},
        {"id": "U06", "name": "deploybot", "is_bot": True, "profile": {"real_name": "Deploy Bot"}},
        {"id": "USLACKBOT", "name": "slackbot", "profile": {"real_name": "Slackbot"}},
    ]  # fmt: skip
    t = ts
    parent, thread_2 = t("2024-03-14 23:50"), t("2024-03-15 11:00")
    general = FakeChannel("C01", "general", topic="Company-wide chatter", messages=[
        {"type": "message", "user": "U01", "ts": t("2024-03-14 09:00"),
         "text": "Morning <!here> — deploy of <https://ci.acme.io/job/42|job 42> today &amp; "
                 "tomorrow, see <https://wiki.acme.io/deploys>"},
        {"type": "message", "subtype": "channel_join", "user": "U03", "ts": t("2024-03-14 09:05"),
         "text": "<@U03> has joined the channel"},
        {"type": "message", "user": "U02", "ts": t("2024-03-14 09:10"),
         "text": "see <#C02|incidents> and <#C03>, mail <mailto:ops@acme.io|ops@acme.io>, "
                 "ask <@U01> if 1 &lt; 2"},
        {"type": "message", "user": "U03", "ts": parent, "thread_ts": parent,
         "text": "Anyone seen flaky tests in checkout-service?\nThey fail on CI only"},
        {"type": "message", "user": "U01", "ts": t("2024-03-14 23:55"), "thread_ts": parent,
         "text": "yes, <@U99> looked at it"},
        {"type": "message", "subtype": "thread_broadcast", "user": "U02",
         "ts": t("2024-03-15 00:10"), "thread_ts": parent, "root": {"ts": parent},
         "text": "it was clock skew on the CI runners"},
        {"type": "message", "subtype": "file_share", "user": "U01", "ts": t("2024-03-15 10:00"),
         "text": "here is the trace", "files": [{"name": "trace.log"}, {"title": "heap.png"}]},
        {"type": "message", "subtype": "tombstone", "user": "USLACKBOT", "ts": thread_2,
         "thread_ts": thread_2, "text": "This message was deleted.", "hidden": True},
        {"type": "message", "user": "U02", "ts": t("2024-03-15 11:05"), "thread_ts": thread_2,
         "text": "replying to a message that is gone"},
        {"type": "message", "subtype": "bot_message", "bot_id": "B07", "username": "Deploys",
         "ts": t("2024-03-15 12:00"), "text": "",
         "attachments": [{"fallback": "Deployed order-service v2.3.1", "title": "Deploy"}]},
    ])  # fmt: skip
    alert = t("2024-03-16 02:00")
    lunch = t("2024-03-16 12:00")
    incidents = FakeChannel("C02", "incidents", purpose="All production incidents", messages=[
        {"type": "message", "subtype": "bot_message", "bot_id": "B01", "username": "PagerDuty",
         "ts": alert, "text": "[FIRING] SEV2 payment-service p99 latency above 2s",
         "attachments": [{"title": "HighLatency", "text": "p99=2.4s on payment-service",
                          "fallback": "payment-service latency alert"}]},
        {"type": "message", "user": "U01", "ts": t("2024-03-16 02:05"), "thread_ts": alert,
         "text": "ack, looking"},
        {"type": "message", "user": "U02", "ts": t("2024-03-16 02:20"), "thread_ts": alert,
         "text": "Root cause: connection pool exhausted after an order-service retry storm"},
        {"type": "message", "user": "U01", "ts": t("2024-03-16 02:30"), "thread_ts": alert,
         "text": "Fix: raised the pool to 50 and capped retries"},
        {"type": "message", "subtype": "bot_message", "bot_id": "B01", "username": "PagerDuty",
         "ts": t("2024-03-16 02:35"), "thread_ts": alert,
         "text": "RESOLVED: payment-service latency back to normal"},
        {"type": "message", "user": "U02", "ts": t("2024-03-16 09:00"),
         "text": "postmortem for last night on Monday"},
        {"type": "message", "user": "U01", "ts": lunch, "thread_ts": lunch,
         "text": "who booked the big room for lunch?"},
        {"type": "message", "user": "U02", "ts": t("2024-03-16 12:01"), "thread_ts": lunch,
         "text": "me"},
    ])  # fmt: skip
    war_room = FakeChannel(
        "C03", "inc-2024-03-checkout-down", topic="SEV1: checkout down",
        purpose="War room for the checkout outage", messages=[
        {"type": "message", "subtype": "channel_topic", "user": "U01",
         "ts": t("2024-03-20 14:00"), "topic": "SEV1: checkout down",
         "text": "<@U01> set the channel topic: SEV1: checkout down"},
        {"type": "message", "user": "U01", "ts": t("2024-03-20 14:01"),
         "text": "checkout-service returns 502s, Order-Service timeouts too (INC-2024-03)"},
        {"type": "message", "user": "U02", "ts": t("2024-03-20 14:10"),
         "text": "mitigated by rolling back deploy 2024.03.20-1"},
        {"type": "message", "user": "U03", "ts": t("2024-03-20 14:40"),
         "text": "all clear, checkout is healthy"},
        {"type": "message", "user": "U01", "ts": t("2024-03-21 10:00"),
         "text": "RCA:\nStripe latency spike and no timeout on the payment-service call"},
        {"type": "message", "user": "U02", "ts": t("2024-03-21 10:05"),
         "text": "Resolution: 2s timeout and a circuit breaker in the payment-service client"},
        {"type": "message", "subtype": "channel_leave", "user": "U03",
         "ts": t("2024-03-21 10:10"), "text": "<@U03> has left the channel"},
    ])  # fmt: skip
    return FakeWorkspace("acme", users=users, channels=[general, incidents, war_room])
