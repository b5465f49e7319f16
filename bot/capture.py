"""What people teach kb from Slack: the "Remember this" shortcut, votes, the expert's reply.

- The message shortcut opens a modal (kind, service, one-line summary); submitting it stores
  the message (or its whole thread) as a taught note in its author's words, naming who
  captured it and citing the permalink.
- 👍 / 👎 / "wrong source" are stored with the answer. A 👎 offers to ask the expert kb
  computes for the question; asking mentions them in the thread, and their reply there gets
  a one-click "Remember this reply".
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.answering import Bot, Where
from bot.render import Block, context, escape, fallback
from kb.contract.kinds import Feedback, WisdomKind

log = logging.getLogger("kb.bot")

REMEMBER_MODAL = "kb_remember_modal"
KINDS = {
    WisdomKind.UNWRITTEN_RULE: "Unwritten rule",
    WisdomKind.DANGER_ZONE: "Danger zone",
    WisdomKind.KNOWN_ISSUE: "Known issue",
    WisdomKind.DESIGN_RATIONALE: "Why it is so",
    WisdomKind.INCIDENT: "Incident lesson",
    WisdomKind.COUNTERINTUITIVE: "Counterintuitive",
    WisdomKind.FIRST_WEEK: "First-week tip",
}


def _option(kind: WisdomKind) -> Block:
    return {"text": {"type": "plain_text", "text": KINDS[kind]}, "value": kind.value}


def remember_modal(message: dict[str, Any], channel: str) -> Block:
    """The modal of the "Remember this" shortcut; the message travels in its metadata."""
    meta = {
        "channel": channel,
        "ts": message.get("ts"),
        "user": message.get("user"),
        "thread_ts": message.get("thread_ts"),
    }
    preview = fallback(message.get("text") or "")
    return {
        "type": "modal",
        "callback_id": REMEMBER_MODAL,
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "Remember this"},
        "submit": {"type": "plain_text", "text": "Remember"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            context(f"> {escape(preview)}"),
            {
                "type": "input",
                "block_id": "kind",
                "label": {"type": "plain_text", "text": "Kind"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "initial_option": _option(WisdomKind.UNWRITTEN_RULE),
                    "options": [_option(k) for k in KINDS],
                },
            },
            {
                "type": "input",
                "block_id": "service",
                "optional": True,
                "label": {"type": "plain_text", "text": "Service"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "placeholder": {"type": "plain_text", "text": "payment-service"},
                },
            },
            {
                "type": "input",
                "block_id": "summary",
                "label": {"type": "plain_text", "text": "One-line summary"},
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": 200},
            },
        ],
    }


def open_remember(bot: Bot, body: dict[str, Any]) -> None:
    """The shortcut was used on a message: open the modal."""
    channel = (body.get("channel") or {}).get("id", "")
    bot.client.views_open(
        trigger_id=body["trigger_id"], view=remember_modal(body.get("message") or {}, channel)
    )


def _value(state: dict[str, Any], block: str) -> str | None:
    element = state.get(block, {}).get("value", {})
    selected = element.get("selected_option")
    value = selected.get("value") if selected else element.get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _thread_text(bot: Bot, channel: str, ts: str, thread_ts: str | None) -> str:
    """The message's text, and its replies when it starts a thread (who said each)."""
    replies = bot.client.conversations_replies(channel=channel, ts=thread_ts or ts, limit=100)
    posted: list[dict[str, Any]] = replies.get("messages", [])
    found = [m for m in posted if not m.get("bot_id")]
    if (thread_ts and thread_ts != ts) or len(found) <= 1:
        return next((m.get("text", "") for m in found if m.get("ts") == ts), "")
    return "\n".join(
        (m.get("text", "") if i == 0 else f"{bot.person(m.get('user', ''))}: {m.get('text', '')}")
        for i, m in enumerate(found)
    )


def submit_remember(bot: Bot, body: dict[str, Any]) -> None:
    """Store the captured message as a taught note and confirm it to who captured it."""
    view = body["view"]
    meta = json.loads(view.get("private_metadata") or "{}")
    state = view.get("state", {}).get("values", {})
    capturer = body["user"]["id"]
    where = Where(channel=meta["channel"], user=capturer, thread_ts=meta.get("thread_ts"))
    try:
        text = _thread_text(bot, meta["channel"], meta["ts"], meta.get("thread_ts"))
        summary = _value(state, "summary") or ""
        author = bot.person(meta["user"]) if meta.get("user") else None
        permalink = bot.client.chat_getPermalink(channel=meta["channel"], message_ts=meta["ts"])
        remembered = bot.kb.remember(
            f"{summary}\n\n{text}".strip() if summary else text,
            service=_value(state, "service"),
            kind=WisdomKind(_value(state, "kind") or WisdomKind.UNWRITTEN_RULE.value),
            by=author,
            url=permalink.get("permalink"),
            captured_by=bot.person(capturer),
            private_to=bot.private_channel(meta["channel"]),
        )
        bot.tell(where, f"🧠 {remembered.to_markdown().strip()} (captured by you)")
    except Exception as exc:
        bot.fail(where, "I couldn't remember that message", exc)


# --- feedback and the expert ---------------------------------------------------------------


def _where(body: dict[str, Any]) -> Where:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", ""
    )
    message = body.get("message") or {}
    return Where(
        channel=channel,
        user=body["user"]["id"],
        thread_ts=message.get("thread_ts") or message.get("ts"),
        is_dm=str(channel).startswith("D"),
    )


def vote(bot: Bot, body: dict[str, Any]) -> None:
    """A 👍, 👎 or "wrong source" on an answer: stored; a 👎 offers the expert."""
    action = body["actions"][0]
    answer_id, kind = action["value"], action["action_id"]
    where = _where(body)
    try:
        down = kind != "kb_vote_up"
        comment = "wrong source" if kind == "kb_wrong_source" else None
        bot.kb.feedback(answer_id, Feedback.DOWN if down else Feedback.UP, comment)
        if not down:
            bot.tell(where, "Thanks, noted 👍")
            return
        offer_expert(bot, answer_id, where)
    except Exception as exc:
        bot.fail(where, "I couldn't record that vote", exc)


def offer_expert(bot: Bot, answer_id: str, where: Where) -> None:
    """After a 👎: a button, for the voter only, asking the expert in the thread."""
    kept = bot.kb.deliveries.get(f"slack:answer:{answer_id}") or {}
    topic = (kept.get("services") or [None])[0] or kept.get("question") or ""
    people = [p for p in bot.kb.experts.who(topic).people if not p.departed] if topic else []
    if not people:
        bot.tell(where, "Thanks, noted 👎 — kb knows nobody to ask about this yet.")
        return
    expert = people[0]
    member = bot.member_named(expert.name)
    value = json.dumps({"answer": answer_id, "name": expert.name, "user": member})
    text = f"Thanks, noted 👎. *{escape(expert.name)}* knows this area best — ask them here?"
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "kb_ask_expert",
                    "value": value,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": f"Ask {expert.name}"},
                }
            ],
        },
    ]
    bot.client.chat_postEphemeral(
        channel=where.channel,
        user=where.user,
        thread_ts=where.thread_ts,
        text=fallback(text),
        blocks=blocks,
    )


def ask_expert(bot: Bot, body: dict[str, Any]) -> None:
    """Mention the expert in the answer's thread, and wait for their reply there."""
    chosen = json.loads(body["actions"][0]["value"])
    kept = bot.kb.deliveries.get(f"slack:answer:{chosen['answer']}") or {}
    where = Where(
        channel=kept.get("channel") or _where(body).channel,
        user=body["user"]["id"],
        thread_ts=kept.get("thread_ts") or _where(body).thread_ts,
    )
    try:
        who = f"<@{chosen['user']}>" if chosen.get("user") else f"*{escape(chosen['name'])}*"
        question = escape(kept.get("question") or "the question above")
        text = (
            f"{who}, kb's answer to “{question}” was marked unhelpful by "
            f"<@{where.user}>. Could you answer here? I'll offer to remember it."
        )
        bot.post(where, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], text)
        if chosen.get("user") and where.thread_ts:
            bot.kb.deliveries.put(
                f"slack:expert:{where.channel}:{where.thread_ts}",
                {
                    "user": chosen["user"],
                    "name": chosen["name"],
                    "answer": chosen["answer"],
                    "services": kept.get("services") or [],
                },
            )
    except Exception as exc:
        bot.fail(where, "I couldn't ask the expert", exc)


def expert_replied(bot: Bot, event: dict[str, Any]) -> bool:
    """When the asked expert answers in the thread, offer to remember it; True if so."""
    thread = event.get("thread_ts")
    if not thread:
        return False
    asked = bot.kb.deliveries.get(f"slack:expert:{event['channel']}:{thread}")
    if not asked or asked.get("user") != event.get("user"):
        return False
    value = json.dumps({"channel": event["channel"], "ts": event["ts"], "thread_ts": thread})
    text = f"Remember {escape(asked['name'])}'s reply as a taught note?"
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": text},
            "accessory": {
                "type": "button",
                "action_id": "kb_capture_reply",
                "value": value,
                "text": {"type": "plain_text", "text": "🧠 Remember this reply"},
            },
        },
    ]
    where = Where(channel=event["channel"], user=event["user"], thread_ts=thread)
    bot.post(where, blocks, text)
    return True


def capture_reply(bot: Bot, body: dict[str, Any]) -> None:
    """One click: the expert's reply becomes a taught note in their words."""
    target = json.loads(body["actions"][0]["value"])
    where = Where(channel=target["channel"], user=body["user"]["id"], thread_ts=target["thread_ts"])
    try:
        asked = bot.kb.deliveries.get(f"slack:expert:{target['channel']}:{target['thread_ts']}")
        asked = asked or {}
        text = _thread_text(bot, target["channel"], target["ts"], target["thread_ts"])
        permalink = bot.client.chat_getPermalink(channel=target["channel"], message_ts=target["ts"])
        services = asked.get("services") or [None]
        remembered = bot.kb.remember(
            text,
            service=services[0],
            by=asked.get("name"),
            url=permalink.get("permalink"),
            captured_by=bot.person(where.user),
            private_to=bot.private_channel(target["channel"]),
        )
        bot.tell(where, f"🧠 {remembered.to_markdown().strip()}")
    except Exception as exc:
        bot.fail(where, "I couldn't remember that reply", exc)
