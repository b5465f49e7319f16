"""The Slack bot against a fake Slack: signed HTTP deliveries in, Web API calls out.

The bot runs in HTTP mode (and once in Socket Mode, against a local websocket server); every
assertion is on what the fake Slack received. Answers come from a copy of the demo
organisation's knowledge base (the bot teaches its copy).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botslack import Running, new_ts, running_bot, slack_settings, workspace
from fakes.slack_app import APP_TOKEN, BOT_USER, FakeSlack, FakeSocketMode, event_callback
from sqlalchemy import select

from kb import KB, Settings
from kb.store.models import Question


@pytest.fixture(scope="module")
def demo_copy(demo_kb: tuple[KB, list[Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's demo knowledge base: the bot records questions and notes."""
    home = tmp_path_factory.mktemp("bot") / "kb"
    shutil.copytree(demo_kb[0].settings.home, home)
    return home


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


def _text(blocks: list[dict[str, Any]]) -> str:
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


def _action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks for e in b.get("elements", []) if "action_id" in e]


def _wait(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def _ephemeral(live: Running, user: str, needle: str) -> dict[str, Any]:
    return _wait(
        lambda: next(
            (
                p
                for p in live.slack.posts("chat.postEphemeral")
                if p.get("user") == user and needle in p.get("text", "")
            ),
            None,
        )
    )


def _button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    return next(
        e
        for b in blocks
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("action_id") == action_id
    )


def _click(
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


# --- answering -------------------------------------------------------------------------------


def test_mention_gets_a_cited_answer_in_its_thread(live: Running) -> None:
    ts = live.mention("why is payment to order async?")
    (reply,) = live.replies_in(ts)
    text = _text(reply["blocks"])
    assert reply["channel"] == "C01" and reply["thread_ts"] == ts
    assert "*Sources*" in text and "*[1]*" in text and "<http" in text  # numbered, linked
    assert "confidence" in text and "Open in dashboard" in text
    assert _action_ids(reply["blocks"]) == ["kb_vote_up", "kb_vote_down", "kb_wrong_source"]
    assert all(len(b["text"]["text"]) <= 3000 for b in reply["blocks"] if "text" in b)
    assert reply["text"] and len(reply["text"]) <= 300
    eyes = [p for p in live.slack.posts("reactions.add") if p["timestamp"] == ts]
    assert eyes and eyes[0]["name"] == "eyes"
    assert any(p["timestamp"] == ts for p in live.slack.posts("reactions.remove"))


def test_follow_up_in_the_bots_thread_needs_no_mention(live: Running) -> None:
    ts = live.mention("why is payment to order async?")
    live.replies_in(ts)
    live.message("and what happens when it fails?", thread_ts=ts)
    replies = live.replies_in(ts, count=2)
    assert len(replies) == 2
    # The thread is the follow-up's context: its question carries the first one.
    with live.kb.store.transaction() as s:
        asked = s.scalars(select(Question.question).order_by(Question.asked_at.desc())).first()
    assert asked is not None and "payment to order" in asked and "fails" in asked
    # Not its thread, another bot, or the bot itself: no answer.
    other = live.message("a thread of people", channel="C02")
    live.message("a reply nobody asked kb", channel="C02", thread_ts=other)
    live.message("bot chatter", thread_ts=ts, bot_id="B0OTHER", user="UBOT2")
    time.sleep(1.0)
    assert live.replies_in(other, timeout=0.1) == []
    assert len(live.replies_in(ts, timeout=0.1)) == 2


# --- slash commands ----------------------------------------------------------------------------


def _slash(live: Running, text: str, **fields: str) -> list[dict[str, Any]]:
    url = live.slack.response_url()
    status, _, took = live.sender.command(text, url, **fields)
    assert status == 200 and took < 3.0
    url_id = url.rsplit("/", 1)[1]
    return _wait(lambda: [r for r in live.slack.responses if r["url_id"] == url_id])


def test_slash_ask_who_busfactor_help(live: Running) -> None:
    (answer,) = _slash(live, "ask why is payment to order async?")
    assert answer["response_type"] == "in_channel" and "*Sources*" in _text(answer["blocks"])
    (who,) = _slash(live, "who payment-service")
    assert who["response_type"] == "in_channel" and "payment-service" in _text(who["blocks"])
    bus = _slash(live, "busfactor payment-service")
    assert "truck factor" in _text(bus[0]["blocks"]).lower()
    (helped,) = _slash(live, "help")
    assert helped["response_type"] == "ephemeral" and "/kb incident" in _text(helped["blocks"])
    (unknown,) = _slash(live, "frobnicate")
    assert "Unknown" in unknown["text"]


def test_slash_remember_is_stored_with_the_tellers_name(live: Running) -> None:
    (reply,) = _slash(
        live,
        "remember Never restart the ledger replica during the nightly "
        "settlement batch; it resyncs for an hour.",
        user_id="U02",
    )
    assert reply["response_type"] == "ephemeral" and "from Bob Brown" in reply["text"]
    answer = live.kb.ask("can I restart the ledger replica during settlement?", record=False)
    note = next(c for c in answer.citations if c.kind == "note")
    assert note.author == "Bob Brown"


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("incident payment-service p99 latency", "incidents"),
        ("map payment-service", "servicemap"),
        ("onboarding payment-service", "onboarding"),
    ],
)
def test_slash_commands_of_services_in_the_making(live: Running, text: str, service: str) -> None:
    if not hasattr(live.kb, service):
        (reply,) = _slash(live, text)
        assert reply["response_type"] == "ephemeral" and "can't" in reply["text"]
        pytest.skip(f"this kb has no `{service}` service yet: the bot says so (checked)")
    if service == "onboarding":
        live.sender.command(text, live.slack.response_url())
        done = _wait(lambda: live.slack.posts("files.completeUploadExternal"))
        assert done[0]["channel_id"] == "C01" and live.slack.uploads
        return
    (reply, *_) = _slash(live, text)
    assert reply["response_type"] == "in_channel" and "payment-service" in _text(reply["blocks"])


# --- capture, feedback, the expert --------------------------------------------------------------


def _capture(
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
    opened = _wait(lambda: live.slack.posts("views.open")[opened_before:])
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
    _wait(lambda: live.slack.posts("chat.postEphemeral")[confirmed:])
    return ts


def test_remember_this_shortcut_and_modal_make_a_cited_note(live: Running) -> None:
    words = "The fraud check must run before the 3DS challenge, or Visa declines double-charge."
    ts = _capture(live, "C02", words, "Fraud check before 3DS")
    _ephemeral(live, "U01", "Remembered")
    asked = live.mention("should the fraud check run before the 3DS challenge?")
    text = _text(live.replies_in(asked)[0]["blocks"])
    assert "taught note" in text and "taught by Bob Brown" in text
    assert f"/archives/C02/p{ts.replace('.', '')}" in text  # the permalink is the source
    note = next(
        c
        for c in live.kb.ask("fraud check before 3DS?", record=False).citations
        if c.kind == "note"
    )
    assert note.source.meta.get("captured_by") == "Alice Adams" and note.author == "Bob Brown"


def test_votes_are_stored_and_a_thumbs_down_brings_in_the_expert(
    live: Running, expert: str
) -> None:
    ts = live.mention("what is the payment-service retry policy?")
    (reply,) = live.replies_in(ts)
    answer_id = _button(reply["blocks"], "kb_vote_up")["value"]
    _click(live, _button(reply["blocks"], "kb_vote_up"), "C01", reply)
    _ephemeral(live, "U01", "Thanks, noted 👍")
    with live.kb.store.transaction() as s:
        assert s.get(Question, answer_id).feedback.value == "up"
    _click(live, _button(reply["blocks"], "kb_wrong_source"), "C01", reply, user="U02")
    offer = _ephemeral(live, "U02", expert)
    with live.kb.store.transaction() as s:
        row = s.get(Question, answer_id)
        assert row.feedback.value == "down" and row.feedback_comment == "wrong source"
    _click(live, _button(offer["blocks"], "kb_ask_expert"), "C01", {"ts": ts}, user="U02")
    asked = _wait(lambda: [p for p in live.replies_in(ts, 2, 5) if "<@UEXP>" in p["text"]])
    assert "unhelpful" in asked[0]["text"]
    # The expert answers in the thread; one click stores it in their words.
    reply_ts = live.message(
        "Retries: 3 with jittered backoff, then the DLQ.", user="UEXP", thread_ts=ts
    )
    offer = _wait(
        lambda: [
            p
            for p in live.slack.posts()
            if p.get("thread_ts") == ts and "kb_capture_reply" in json.dumps(p.get("blocks"))
        ]
    )
    _click(live, _button(offer[0]["blocks"], "kb_capture_reply"), "C01", offer[0], user="U02")
    _ephemeral(live, "U02", f"from {expert}")
    note = next(
        c
        for c in live.kb.ask("payment-service retries jittered backoff DLQ", record=False).citations
        if c.kind == "note"
    )
    assert note.author == expert and reply_ts.replace(".", "") in (note.url or "")


# --- incident channels ----------------------------------------------------------------------


def test_incident_channel_brief_is_posted_then_kept_current(live: Running) -> None:
    live.sender.event(
        {"type": "member_joined_channel", "user": BOT_USER, "channel": "C09", "inviter": "U01"}
    )
    (brief,) = _wait(lambda: [p for p in live.slack.posts() if p["channel"] == "C09"])
    text = _text(brief["blocks"])
    assert "Incident brief" in text and "payment-service" in text
    assert "Blast radius" in text or hasattr(live.kb, "incidents")
    live.message("order-service is timing out too", channel="C09", user="U02")
    (update,) = _wait(lambda: live.slack.posts("chat.update"))
    assert update["channel"] == "C09" and update["ts"] == brief.get("ts", update["ts"])
    assert "order-service" in _text(update["blocks"])
    kept = live.kb.deliveries.get("slack:brief:C09")
    assert kept is not None and update["ts"] == kept["ts"]
    assert len([p for p in live.slack.posts() if p["channel"] == "C09"]) == 1  # one message


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
    failed = _ephemeral(live, "U02", "couldn't answer")
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
    _wait(lambda: all(live.replies_in(ts, timeout=0) for ts in stamps), timeout=120)
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
            found = {ts: _text(live.replies_in(ts)[0]["blocks"]) for ts in (public, inside)}
            # Captured in the private channel, a note stays there too.
            _capture(
                live, "G01", "Refund overrides need two approvers from finance-ops.", "2FA", ""
            )
            taught = "who approves refund overrides?"
            for channel, user in (("C01", "U01"), ("G01", "U02")):
                found[channel] = _text(
                    live.replies_in(live.mention(taught, channel, user))[0]["blocks"]
                )
            dms = []
            for user in ("U02", "U01"):  # a member of #sec-ops, then someone who is not
                live.message(question, channel="D01", user=user)
                seen = len(dms)
                posted = _wait(lambda seen=seen: _posts_in(slack, "D01")[seen:])
                dms.append(_text(posted[0]["blocks"]))
        kb.close()
    assert "#sec-ops" not in found[public] and "three of the five" not in found[public]
    assert "#sec-ops" in found[inside]
    assert "#sec-ops" in dms[0] and "#sec-ops" not in dms[1]
    assert "taught note" in found["G01"] and "two approvers" not in found["C01"]
    assert "Refund overrides" not in found["C01"]


def _posts_in(slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [p for p in slack.posts() if p["channel"] == channel]


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
    (prompts,) = _wait(lambda: live.slack.posts("assistant.threads.setSuggestedPrompts"))
    assert "What changed in payment-service this week?" in json.dumps(prompts["prompts"])
    live.message("why is payment to order async?", channel="D01", thread_ts=thread)
    answers = _wait(
        lambda: [
            p
            for p in live.replies_in(thread, 2)
            if "blocks" in p and "*Sources*" in _text(p["blocks"])
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
            assert "*Sources*" in _text(reply["blocks"])
            opened = live.slack.calls("apps.connections.open")
            assert opened and opened[-1].status == 200
        finally:
            handler.close()
