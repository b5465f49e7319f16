"""Helpers shared by the bot's tests and its benchmark: a bot in HTTP mode over a fake Slack."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.slack_api import TOKEN, FakeChannel, FakeWorkspace
from fakes.slack_app import BOT_USER, SIGNING_SECRET, FakeSlack, SignedSender

from kb import KB, Settings

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


# --- fixtures and helpers of the bot's tests ------------------------------------------------


@pytest.fixture(scope="module")
def demo_copy(
    copy_demo_home: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the session's demo knowledge base: the bot records questions and notes."""
    return copy_demo_home(tmp_path_factory.mktemp("bot") / "kb")


@pytest.fixture(scope="module")
def expert(demo_kb: tuple[KB, list[Any]]) -> str:
    """Who kb computes as knowing payment-service best (a Slack member in the fake)."""
    return next(p.name for p in demo_kb[0].experts.who("payment-service").people if not p.departed)


@pytest.fixture(scope="module")
def live(demo_copy: Path, expert: str, embedder: Any) -> Iterator[Running]:
    """The bot over the demo copy, in HTTP mode, talking to a fake Slack."""
    users = [
        {"id": "UEXP", "name": "expert", "real_name": expert, "profile": {"real_name": expert}}
    ]
    with FakeSlack(workspace(users), lifetime_s=900, members={"G01": ["U02"]}) as slack:
        settings = Settings(
            home=demo_copy,
            ui_url="http://kb.example:8501",
            slack_incident_briefs=True,
            **slack_settings(slack),
        )
        kb = KB(settings, embedder=embedder)
        with running_bot(kb, slack) as running:
            yield running
        kb.close()


def text_of(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e.get("text", "") for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
        out += [
            str(e.get("text", {}).get("text", ""))
            for e in block.get("elements", [])
            if e.get("type") == "button"
        ]
    return "\n".join(out)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks for e in b.get("elements", []) if "action_id" in e]


def wait(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def ephemeral(live: Running, user: str, needle: str) -> dict[str, Any]:
    return wait(
        lambda: next(
            (
                p
                for p in live.slack.posts("chat.postEphemeral")
                if p.get("user") == user and needle in p.get("text", "")
            ),
            None,
        )
    )


def button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    return next(
        e
        for b in blocks
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("action_id") == action_id
    )


def click(
    live: Running, action: dict[str, Any], channel: str, message: dict[str, Any], user: str = "U01"
) -> None:
    status, _, _ = live.sender.interaction(
        {
            "type": "block_actions",
            "user": {"id": user},
            "channel": {"id": channel},
            "container": {"channel_id": channel, "message_ts": message.get("ts")},
            "message": message,
            "trigger_id": "trig-2",
            "actions": [action],
            "response_url": live.slack.response_url(),
            "team": {"id": "T00000001"},
        }
    )
    assert status == 200


def capture(
    live: Running, channel: str, words: str, summary: str, service: str = "payment-service"
) -> str:
    """Bob says `words` in `channel`; Alice captures it with the shortcut and the modal."""
    ts = live.message(words, channel=channel, user="U02")
    message = {"type": "message", "user": "U02", "ts": ts, "text": words}
    opened_before = len(live.slack.posts("views.open"))
    live.sender.interaction(
        {
            "type": "message_action",
            "callback_id": "kb_remember",
            "trigger_id": "trig-9",
            "user": {"id": "U01"},
            "channel": {"id": channel},
            "message": message,
            "team": {"id": "T00000001"},
            "response_url": live.slack.response_url(),
        }
    )
    opened = wait(lambda: live.slack.posts("views.open")[opened_before:])
    view = opened[0]["view"]
    assert view["callback_id"] == "kb_remember_modal" and {
        b.get("block_id") for b in view["blocks"]
    } >= {"kind", "service", "summary"}
    values = {
        "kind": {"value": {"type": "static_select", "selected_option": {"value": "danger_zone"}}},
        "service": {"value": {"type": "plain_text_input", "value": service}},
        "summary": {"value": {"type": "plain_text_input", "value": summary}},
    }
    confirmed = len(live.slack.posts("chat.postEphemeral"))
    status, _, _ = live.sender.interaction(
        {
            "type": "view_submission",
            "user": {"id": "U01"},
            "team": {"id": "T00000001"},
            "view": {**view, "id": "V0001", "state": {"values": values}},
        }
    )
    assert status == 200
    wait(lambda: live.slack.posts("chat.postEphemeral")[confirmed:])
    return ts


def posts_in(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [p for p in slack.posts() if p["channel"] == channel]
