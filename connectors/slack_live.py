"""`kb ingest slack --channel NAME…`: channels read through the Slack Web API, incrementally.

The same documents, incidents and people as the export connector (connectors.slack_common and
connectors.slack_incidents do the work); this module only talks to Slack.

Limitation: `conversations.history` returns top-level messages only, so a new reply to a thread
whose parent is older than the cursor is invisible to it. Threads whose parent is within
`thread_lookback_days` (default 7) of the channel's newest message are remembered in the
cursor and their replies re-fetched on each run; a reply to an older thread is picked up only
when the thread is re-fetched (its parent is broadcast to, or the channel is re-ingested with
an empty cursor).

A Checkpoint closes each channel, not each history page: pages arrive newest first, so a
checkpoint mid-channel could skip the older pages after a crash.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RetryHandler, RetryState
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from connectors.slack_common import (
    ChannelInfo,
    Directory,
    Message,
    SlackSite,
    latest_ts,
    parse_user,
    people,
    read_message,
    topic_value,
    ts_key,
    valid_ts,
)
from connectors.slack_incidents import channel_records, incident_channel_kind
from kb.contract.connector import SourceConfig
from kb.contract.records import Checkpoint, Failure, Record
from kb.errors import ConfigError, SourceError
from kb.settings import Settings

_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
_MAX_PAGES = 10_000  # a guard against a server that never stops paginating


class RetryAfterHandler(RetryHandler):
    """Retries an HTTP 429 after exactly the `Retry-After` seconds Slack asks for (bounded)."""

    def __init__(
        self,
        max_retry_count: int = 5,
        max_wait_s: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.waits: list[float] = []

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Sleep what Retry-After says (1 s when absent or unreadable), then retry."""
        values = next(
            (
                v
                for k, v in (response.headers if response else {}).items()
                if k.lower() == "retry-after"
            ),
            ["1"],
        )
        try:
            wait = float(values[0] if isinstance(values, list) else values)
        except (TypeError, ValueError, IndexError):
            wait = 1.0
        wait = min(max(wait, 0.0), self.max_wait_s)
        self.waits.append(wait)
        self.sleep(wait)
        state.next_attempt_requested = True
        state.increment_current_attempt()


def _channel_names(source: SourceConfig) -> list[str]:
    raw = source.options.get("channels") or []
    names = raw.split(",") if isinstance(raw, str) else list(raw)
    return [str(n).strip().lstrip("#") for n in names if str(n).strip().lstrip("#")]


class SlackConnector:
    """Ingests Slack channels live: people, thread/day documents, incidents.

    Options: `channels` (names or ids; default every channel the bot is a member of),
    `workspace_url` (permalinks; default what auth.test says), `page_size` (default 200),
    `thread_lookback_days` (default 7), `max_retries` on HTTP 429 (default 5).
    Cursor: {"channels": {channel id: newest ts read}, "threads": {channel id: {thread ts:
    newest reply ts}}, "users": sha256 of the member list, "left_seen": {user id: ts}}.
    """

    kind: ClassVar[str] = "slack"

    def __init__(
        self, source: SourceConfig, settings: Settings, client: WebClient | None = None
    ) -> None:
        self.source = source
        self.settings = settings
        options = source.options
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        if not token and client is None:
            raise ConfigError(
                "live Slack ingest needs a bot token: set KB_SLACK_BOT_TOKEN=xoxb-… (scopes "
                "channels:read, channels:history, groups:read, groups:history, users:read, "
                "users:read.email)"
            )
        self.base_url = (settings.slack_api_url or WebClient.BASE_URL).rstrip("/") + "/"
        self.rate_limits = RetryAfterHandler(max_retry_count=int(options.get("max_retries", 5)))
        self.client = client or WebClient(
            token=token,
            base_url=self.base_url,
            timeout=30,
            retry_handlers=[self.rate_limits, ConnectionErrorRetryHandler(max_retry_count=2)],
        )
        self.channel_names = _channel_names(source)
        self.page_size = int(options.get("page_size", 200))
        self.lookback = timedelta(days=float(options.get("thread_lookback_days", 7)))

    def _api(self, method: str, **params: Any) -> dict[str, Any]:
        """One Web API call; token problems become ConfigError, no network a SourceError."""
        clean = {k: v for k, v in params.items() if v is not None}
        try:
            data = self.client.api_call(method, params=clean).data
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error in _AUTH_ERRORS:
                raise ConfigError(
                    f"Slack rejected KB_SLACK_BOT_TOKEN ({error}) on {method}: set a valid "
                    "bot token (xoxb-…) for this workspace"
                ) from exc
            if error == "missing_scope":
                needed = exc.response.get("needed", "?")
                raise ConfigError(
                    f"the Slack bot token lacks the scope {needed!r} that {method} needs: add "
                    "it in the app's OAuth settings and reinstall the app"
                ) from exc
            raise
        except (URLError, OSError) as exc:
            raise SourceError(
                f"cannot reach the Slack API at {self.base_url} ({exc}): check the network "
                "or KB_SLACK_API_URL"
            ) from exc
        return data if isinstance(data, dict) else {}

    def _pages(self, method: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated method (`response_metadata.next_cursor`)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = self._api(method, limit=self.page_size, cursor=cursor, **params)
            found = page.get(key)
            items += [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []
            meta = page.get("response_metadata")
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not cursor:
                break
        return items

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        """Yield each channel's new records (a Checkpoint after each), then changed people."""
        state: dict[str, Any] = {
            **cursor,
            "channels": dict(cursor.get("channels") or {}),
            "threads": {k: dict(v) for k, v in (cursor.get("threads") or {}).items()},
            "left_seen": dict(cursor.get("left_seen") or {}),
        }
        auth = self._api("auth.test")
        url = self.source.options.get("workspace_url") or str(auth.get("url") or "").rstrip("/")
        site = SlackSite(self.source.name, url or f"https://{self.source.name}.slack.com")
        users = [u for u in map(parse_user, self._pages("users.list", "members")) if u]
        directory = Directory({u.id: u for u in users})
        channels, failures = self._resolve_channels(directory)
        yield from failures
        left_before = dict(state["left_seen"])
        for channel in channels:
            try:
                records = self._channel(site, channel, directory, state)
            except SlackApiError as exc:
                error = exc.response.get("error", str(exc))
                hint = " — invite the bot: /invite @kb" if error == "not_in_channel" else ""
                yield Failure(f"#{channel.name}", f"Slack API error {error!r}{hint}; skipped")
                continue
            yield from records
            yield Checkpoint(json.loads(json.dumps(state)))
        digest = hashlib.sha256(
            json.dumps([[u.id, u.name, u.email, u.deleted, u.is_bot] for u in users]).encode()
        ).hexdigest()
        if state.get("users") != digest or state["left_seen"] != left_before:
            yield from people(users, state["left_seen"])
            state["users"] = digest
        yield Checkpoint(json.loads(json.dumps(state)))

    def _resolve_channels(self, directory: Directory) -> tuple[list[ChannelInfo], list[Failure]]:
        """The channels asked for (by name or id), and a Failure for each one not found."""
        listed = self._pages(
            "conversations.list", "channels", types="public_channel,private_channel"
        )
        known: dict[str, ChannelInfo] = {}
        members: list[ChannelInfo] = []
        for raw in listed:
            if not isinstance(raw.get("id"), str):
                continue
            name: str = raw["name"] if isinstance(raw.get("name"), str) else raw["id"]
            info = ChannelInfo(
                raw["id"],
                name,
                topic_value(raw, "topic"),
                topic_value(raw, "purpose"),
                private=bool(raw.get("is_private") or raw.get("is_group")),
            )
            directory.channels[info.id] = info.name
            known[info.name.lower()] = known[info.id.lower()] = info
            if raw.get("is_member"):
                members.append(info)
        if not self.channel_names:
            return members, []
        found, failures = [], []
        for name in self.channel_names:
            if name.lower() in known:
                found.append(known[name.lower()])
            else:
                failures.append(
                    Failure(
                        f"#{name}",
                        f"no channel named {name!r} in Slack workspace {self.source.name!r} "
                        "(conversations.list): check the name; a private channel must "
                        "invite the bot first",
                    )
                )
        return found, failures

    def _read(self, raws: list[dict[str, Any]], directory: Directory) -> list[Message]:
        out = []
        for raw in raws:
            if valid_ts(raw.get("ts")):
                message = read_message(raw, directory)
                if message is not None:
                    out.append(message)
        return out

    def _replies(self, channel: ChannelInfo, root: str, directory: Directory) -> list[Message]:
        """A thread, parent first; empty when its parent is gone (then the parent alone)."""
        try:
            raws = self._pages("conversations.replies", "messages", channel=channel.id, ts=root)
        except SlackApiError as exc:
            if exc.response.get("error") == "thread_not_found":
                return []
            raise
        return self._read(raws, directory)

    def _channel(
        self, site: SlackSite, channel: ChannelInfo, directory: Directory, state: dict[str, Any]
    ) -> list[Record]:
        """The records of what is new in a channel; updates `state` for the checkpoint."""
        since: str | None = state["channels"].get(channel.id)
        tracked: dict[str, str] = state["threads"].get(channel.id, {})
        raws = self._pages("conversations.history", "messages", channel=channel.id, oldest=since)
        top = self._read(raws, directory)
        whole = incident_channel_kind(channel.name) == "channel"
        threads: dict[str, list[Message]] = {}
        for root in {m.thread_ts for m in top if m.in_thread and m.thread_ts}:
            threads[root] = self._replies(channel, root, directory)
        for root, latest in tracked.items():
            if root not in threads:
                replies = self._replies(channel, root, directory)
                if replies and ts_key(latest_ts(replies)) > ts_key(latest):
                    threads[root] = replies
        if since and whole and (top or threads):
            # An incident is read whole: its start, end and root cause span the channel.
            raws = self._pages("conversations.history", "messages", channel=channel.id)
            top = self._read(raws, directory)
            for root in {m.thread_ts for m in top if m.in_thread and m.thread_ts} - set(threads):
                threads[root] = self._replies(channel, root, directory)
        elif since and top:
            top += self._rest_of_day(channel, since, top, directory)
        messages = [m for m in top if not (m.in_thread and threads.get(m.thread_ts or ""))]
        messages += [m for replies in threads.values() for m in replies]
        newest = max((r["ts"] for r in raws if valid_ts(r.get("ts"))), key=ts_key, default=since)
        if newest:
            state["channels"][channel.id] = newest
            self._track(channel, newest, threads, tracked, state)
        for message in messages:
            user = directory.users.get(message.user_id or "")
            if user and user.deleted:
                known = state["left_seen"].get(user.id)
                if known is None or ts_key(message.ts) > ts_key(known):
                    state["left_seen"][user.id] = message.ts
        return channel_records(site, channel, messages, directory) if messages else []

    def _rest_of_day(
        self, channel: ChannelInfo, since: str, top: list[Message], directory: Directory
    ) -> list[Message]:
        """Earlier messages of the cursor's day, so that day's document is rebuilt whole."""
        day = datetime.fromtimestamp(ts_key(since)[0], UTC).date()
        if not any(not m.in_thread and m.at.date() == day for m in top):
            return []
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        raws = self._pages(
            "conversations.history",
            "messages",
            channel=channel.id,
            oldest=f"{start}.000000",
            latest=since,
            inclusive="true",
        )
        return [m for m in self._read(raws, directory) if not m.in_thread]

    def _track(
        self,
        channel: ChannelInfo,
        newest: str,
        threads: dict[str, list[Message]],
        tracked: dict[str, str],
        state: dict[str, Any],
    ) -> None:
        """Remember threads within the look-back window so later replies are re-fetched."""
        if not self.lookback:
            state["threads"][channel.id] = {}
            return
        horizon = ts_key(newest)[0] - int(self.lookback.total_seconds())
        kept = {**tracked, **{r: latest_ts(m) for r, m in threads.items() if m}}
        state["threads"][channel.id] = {r: t for r, t in kept.items() if ts_key(r)[0] >= horizon}
