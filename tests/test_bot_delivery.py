"""The Slack bot never silent, never twice, and nothing leaked; its AI-app and Socket Mode.

Retried, forged and stale deliveries, a failing answer service, rate limits, a burst of
questions, tokens in logs, private channels, the assistant thread and Socket Mode (a local
websocket server standing in for Slack), all against the fake Slack.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botslack import (
    Running,
    capture,
    demo_copy,
    ephemeral,
    expert,
    live,
    new_ts,
    posts_in,
    running_bot,
    slack_settings,
    text_of,
    wait,
    workspace,
)
from fakes.slack_app import APP_TOKEN, BOT_USER, FakeSlack, FakeSocketMode, event_callback

from kb import KB, Settings

__all__ = ["demo_copy", "expert", "live"]  # fixtures


# --- never silent, never twice ------------------------------------------------------------------


def test_a_retried_delivery_is_answered_once_even_after_a_restart(live: Running) -> None:
    ts = new_ts()
    event = {
        "type": "app_mention",
        "channel": "C01",
        "user": "U01",
        "ts": ts,
        "text": f"<@{BOT_USER}> who knows the token code?",
    }
    event_id = live.sender.next_id()
    assert live.sender.event(event, event_id=event_id)[0] == 200
    assert live.sender.event(event, event_id=event_id, retry=1)[0] == 200
    live.replies_in(ts)
    # A new bot process over the same store: the delivery is still known.
    with running_bot(live.kb, live.slack) as again:
        assert again.sender.event(event, event_id=event_id, retry=2)[0] == 200
    time.sleep(1.0)
    assert len(live.replies_in(ts, timeout=0.1)) == 1


def test_forged_and_stale_requests_are_rejected(live: Running) -> None:
    ts = new_ts()
    event = {
        "type": "app_mention",
        "channel": "C01",
        "user": "U01",
        "ts": ts,
        "text": f"<@{BOT_USER}> why is payment to order async?",
    }
    assert live.sender.event(event, secret="not-the-secret")[0] == 401
    assert live.sender.event(event, timestamp=time.time() - 6 * 60)[0] == 401
    time.sleep(0.5)
    assert live.replies_in(ts, timeout=0.1) == []


def test_a_failing_answer_service_still_replies(
    live: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("vector store unreachable: secret content here")

    monkeypatch.setattr(live.kb, "ask", broken)
    ts = live.mention("why is payment to order async?", user="U02")
    failed = ephemeral(live, "U02", "couldn't answer")
    assert failed["channel"] == "C01" and failed["thread_ts"] == ts
    assert "secret content" not in failed["text"]  # the reason only names the failure
    assert live.replies_in(ts, timeout=0.5) == []  # nothing public


def test_rate_limited_posts_are_retried_after_retry_after(live: Running) -> None:
    live.slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    ts = live.mention("who knows the token code?")
    assert live.replies_in(ts)
    limited = [r for r in live.slack.calls("chat.postMessage") if r.status == 429]
    assert limited


def test_twenty_concurrent_questions_are_each_answered_once(live: Running) -> None:
    questions = [
        "why is payment to order async?",
        "who knows the token code?",
        "what should I watch out for in order-service?",
        "how does the notification service retry?",
    ]
    stamps = [new_ts() for _ in range(20)]

    def ask(n: int) -> None:
        live.mention(questions[n % len(questions)], ts=stamps[n], user="U02")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait(lambda: all(live.replies_in(ts, timeout=0) for ts in stamps), timeout=120)
    time.sleep(0.5)
    counts = [len(live.replies_in(ts, timeout=0)) for ts in stamps]
    assert counts == [1] * 20


def test_tokens_never_reach_the_logs(live: Running, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from bot.server import redact_logs

    caplog.set_level(logging.DEBUG)
    redact_logs()
    logging.getLogger("kb.bot").error("request failed with %s", live.slack.token)
    ts = live.mention("who knows the token code?")
    live.replies_in(ts)
    assert live.slack.token not in caplog.text and "xoxb-…" in caplog.text


# --- boundaries: private channels -------------------------------------------------------------


def test_private_channel_content_stays_with_its_members(tmp_path: Path, embedder: Any) -> None:
    from fakes.slack_api import FakeChannel, FakeWorkspace, write_export

    secret = "The vault unseal quorum is three of the five ops leads, kept offline."
    org = FakeWorkspace(
        "acme",
        users=[{"id": "U01", "name": "alice"}],
        channels=[
            FakeChannel(
                "C01",
                "general",
                messages=[
                    {
                        "type": "message",
                        "user": "U01",
                        "ts": "1700000000.000001",
                        "text": "The vault dashboard moved to the new ops portal.",
                    }
                ],
            ),
            FakeChannel(
                "G01",
                "sec-ops",
                is_private=True,
                messages=[
                    {"type": "message", "user": "U01", "ts": "1700000100.000001", "text": secret}
                ],
            ),
        ],
    )
    export = write_export(org, tmp_path / "export")
    with FakeSlack(workspace(), members={"G01": ["U02"]}) as slack:
        kb = KB(Settings(home=tmp_path / "kb", **slack_settings(slack)), embedder=embedder)
        kb.init()
        from kb.contract.connector import SourceConfig

        kb.ingest(SourceConfig("slack-export", "acme", str(export), {}))
        question = "what is the vault unseal quorum?"
        with running_bot(kb, slack) as live:
            public = live.mention(question, channel="C01")
            inside = live.mention(question, channel="G01", user="U02")
            found = {ts: text_of(live.replies_in(ts)[0]["blocks"]) for ts in (public, inside)}
            # A member asking in a public channel also gets, for their eyes only, the answer
            # citing the private channel; someone else does not.
            by_member = live.mention(question, channel="C01", user="U02")
            mine = ephemeral(live, "U02", "vault")
            assert mine["thread_ts"] == by_member and "#sec-ops" in text_of(mine["blocks"])
            assert "#sec-ops" not in text_of(live.replies_in(by_member)[0]["blocks"])
            assert not [p for p in slack.posts("chat.postEphemeral") if p["user"] == "U01"]
            # Captured in the private channel, a note stays there too.
            capture(live, "G01", "Refund overrides need two approvers from finance-ops.", "2FA", "")
            taught = "who approves refund overrides?"
            for channel, user in (("C01", "U01"), ("G01", "U02")):
                found[channel] = text_of(
                    live.replies_in(live.mention(taught, channel, user))[0]["blocks"]
                )
            dms = []
            for user in ("U02", "U01"):  # a member of #sec-ops, then someone who is not
                live.message(question, channel="D01", user=user)
                seen = len(dms)
                posted = wait(lambda seen=seen: posts_in(slack, "D01")[seen:])
                dms.append(text_of(posted[0]["blocks"]))
        kb.close()
    assert "#sec-ops" not in found[public] and "three of the five" not in found[public]
    assert "#sec-ops" in found[inside]
    assert "#sec-ops" in dms[0] and "#sec-ops" not in dms[1]
    assert "taught note" in found["G01"] and "two approvers" not in found["C01"]
    assert "Refund overrides" not in found["C01"]


# --- Slack's AI-app surface and Socket Mode -----------------------------------------------------


def test_assistant_thread_gets_prompts_status_title_and_answer(live: Running) -> None:
    thread = new_ts()
    live.sender.event(
        {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": "U01",
                "channel_id": "D01",
                "thread_ts": thread,
                "context": {},
            },
            "event_ts": thread,
        }
    )
    (prompts,) = wait(lambda: live.slack.posts("assistant.threads.setSuggestedPrompts"))
    assert "What changed in payment-service this week?" in json.dumps(prompts["prompts"])
    live.message("why is payment to order async?", channel="D01", thread_ts=thread)
    answers = wait(
        lambda: [
            p
            for p in live.replies_in(thread, 2)
            if "blocks" in p and "*Sources*" in text_of(p["blocks"])
        ]
    )
    assert answers[0]["channel"] == "D01"
    statuses = live.slack.posts("assistant.threads.setStatus")
    assert any(s["thread_ts"] == thread and s["status"] for s in statuses)
    assert any(t["thread_ts"] == thread for t in live.slack.posts("assistant.threads.setTitle"))


def test_socket_mode_acks_and_answers(live: Running) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    with FakeSocketMode() as socket:
        live.slack.socket_url = socket.url
        handler = SocketModeHandler(live.app, APP_TOKEN)
        handler.connect()
        try:
            assert socket.connected.wait(10)
            ts = new_ts()
            event = {
                "type": "app_mention",
                "channel": "C01",
                "user": "U01",
                "ts": ts,
                "text": f"<@{BOT_USER}> why is payment to order async?",
            }
            envelope = socket.push("events_api", event_callback(event, live.sender.next_id()))
            assert socket.ack(envelope)["envelope_id"] == envelope
            (reply,) = live.replies_in(ts)
            assert "*Sources*" in text_of(reply["blocks"])
            opened = live.slack.calls("apps.connections.open")
            assert opened and opened[-1].status == 200
        finally:
            handler.close()
