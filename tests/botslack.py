"""Helpers shared by the bot's tests and its benchmark: a bot in HTTP mode over a fake Slack."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fakes.slack_api import TOKEN, FakeChannel, FakeWorkspace
from fakes.slack_app import BOT_USER, SIGNING_SECRET, FakeSlack, SignedSender

from kb import KB

_ts = itertools.count(1)


def new_ts() -> str:
    """A fresh, unique message ts."""
    return f"{1_700_000_000 + next(_ts)}.{next(_ts):06d}"


def workspace(users: list[dict[str, Any]] | None = None) -> FakeWorkspace:
    """Members and channels: #general, a private #sec-ops, an incident channel, a DM."""
    people = [
        {
            "id": "U01",
            "name": "alice",
            "real_name": "Alice Adams",
            "profile": {"real_name": "Alice Adams"},
        },
        {
            "id": "U02",
            "name": "bob",
            "real_name": "Bob Brown",
            "profile": {"real_name": "Bob Brown"},
        },
        {"id": "UBOT2", "name": "otherbot", "is_bot": True, "profile": {}},
        *(users or []),
    ]
    return FakeWorkspace(
        "acme",
        users=people,
        channels=[
            FakeChannel("C01", "general"),
            FakeChannel("C02", "random"),
            FakeChannel("G01", "sec-ops", is_private=True),
            FakeChannel("C09", "inc-payment-outage", topic="payments failing"),
            FakeChannel("D01", "D01"),
        ],
    )


@dataclass
class Running:
    """A bot over `kb`, served over HTTP, with the fake Slack it talks to."""

    kb: KB
    slack: FakeSlack
    sender: SignedSender
    bot: Any
    app: Any

    def mention(self, text: str, channel: str = "C01", user: str = "U01", **extra: Any) -> str:
        """Post `@kb text` (kept in the fake workspace) and deliver the event; its ts."""
        ts = extra.pop("ts", None) or new_ts()
        event = {
            "type": "app_mention",
            "channel": channel,
            "user": user,
            "ts": ts,
            "text": f"<@{BOT_USER}> {text}",
            **extra,
        }
        self.slack.workspace.post(
            self._name(channel), {k: v for k, v in event.items() if k not in ("type", "channel")}
        )
        status, _, _ = self.sender.event(event)
        assert status == 200
        return ts

    def message(self, text: str, channel: str = "C01", user: str = "U01", **extra: Any) -> str:
        """Post a plain message (kept) and deliver its `message` event; its ts."""
        ts = extra.pop("ts", None) or new_ts()
        kind = "im" if channel.startswith("D") else "channel"
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "ts": ts,
            "text": text,
            "channel_type": kind,
            **extra,
        }
        self.slack.workspace.post(
            self._name(channel), {k: v for k, v in event.items() if k not in ("type", "channel")}
        )
        status, _, _ = self.sender.event(event)
        assert status == 200
        return ts

    def replies_in(self, thread_ts: str, count: int = 1, timeout: float = 30.0) -> list[dict]:
        """The bot's messages posted in a thread, once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [p for p in self.slack.posts() if p.get("thread_ts") == thread_ts]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def _name(self, channel: str) -> str:
        return next(c.name for c in self.slack.workspace.channels if c.id == channel)


@contextmanager
def running_bot(kb: KB, slack: FakeSlack) -> Iterator[Running]:
    """The bot over `kb` in HTTP mode on a free port, its Web API the fake `slack`."""
    from bot.app import build_app, web_client
    from bot.server import HttpServer

    client = web_client(kb.settings)
    assert client.base_url == slack.base_url and client.token == TOKEN
    app, bot = build_app(kb, client=client, http=True)
    bot.warm_up()
    server = HttpServer(app, "127.0.0.1", 0).start()
    try:
        sender = SignedSender(f"http://127.0.0.1:{server.port}/slack/events", SIGNING_SECRET)
        yield Running(kb, slack, sender, bot, app)
    finally:
        server.stop()


def slack_settings(slack: FakeSlack) -> dict[str, Any]:
    """The Settings fields that point kb's bot at the fake."""
    return {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.base_url,
    }
