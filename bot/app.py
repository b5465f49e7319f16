"""The slack-bolt app: which Slack input goes to which part of the bot.

Every listener acknowledges at once and does its work in a lazy listener (bolt runs it on
its thread pool after the ack), so Slack never waits on kb. A delivery Slack retries (the
same event id, with `X-Slack-Retry-Num`, or after a restart) is acknowledged too, and the
listener drops it: its event id is claimed in kb's store, once.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, Assistant, SetStatus, SetSuggestedPrompts
from slack_bolt.context.set_title import SetTitle
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot import capture, commands, incident
from bot.answering import Bot, Where
from kb import KB, Settings

log = logging.getLogger("kb.bot")

SLACK_API_URL = "https://slack.com/api/"
SUGGESTED_PROMPTS = [
    {"title": "What changed lately", "message": "What changed in payment-service this week?"},
    {"title": "Who knows it", "message": "Who knows the token code?"},
    {"title": "Why is it so", "message": "Why is payment to order async?"},
    {"title": "Danger zones", "message": "What should I watch out for in order-service?"},
]
FORGET_EVERY = 1000  # events between two clean-ups of old claims
_events_seen = itertools.count(1)
# Answers in flight at once (bolt's pool; the rest queue): answering is CPU-bound Python, so
# more threads than a few per core only slow the acks that share the interpreter.
LISTENER_THREADS = 4


def web_client(settings: Settings) -> WebClient:
    """The Web API client: KB_SLACK_API_URL, honouring 429 Retry-After and retrying resets."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    base_url = settings.slack_api_url or SLACK_API_URL
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def _ack(ack: Ack) -> None:
    ack()


def _is_from_bot(event: dict[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("subtype") == "bot_message")


def build_app(kb: KB, client: WebClient | None = None, http: bool = False) -> tuple[App, Bot]:
    """The bolt app over `kb` (HTTP mode verifies signatures; Socket Mode needs no secret)."""
    settings = kb.settings
    client = client or web_client(settings)
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    app = App(
        client=client,
        signing_secret=secret or None,
        request_verification_enabled=http,
        token_verification_enabled=False,  # Bot checks the token once, below
        # The ack function runs on the request's own thread and the response goes back as
        # soon as it returns; only the lazy listeners use the pool. (Otherwise bolt queues
        # acks on the same pool as the answers, and a burst of questions delays its acks.)
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="kb-bot"),
    )
    bot = Bot(kb, client)
    app.assistant(_assistant(bot))
    _events(app, bot)
    _interactions(app, bot)
    return app, bot


def first_delivery(bot: Bot, body: dict[str, Any]) -> bool:
    """True the first time an event id arrives; a retry (or a redelivery after a restart)
    finds it claimed in kb's store. Run in the listener, after the ack: the ack never waits
    on the database. Claims older than a day are forgotten now and then."""
    event_id = body.get("event_id")
    if not event_id:
        return True
    if next(_events_seen) % FORGET_EVERY == 1:  # at the first event, then every FORGET_EVERY
        bot.kb.deliveries.forget("slack:event:", datetime.now(UTC) - timedelta(days=1))
    if bot.kb.deliveries.claim(f"slack:event:{body.get('team_id')}:{event_id}"):
        return True
    log.info("event %s delivered again: already handled", event_id)
    return False


def _assistant(bot: Bot) -> Assistant:
    """Slack's AI-app surface: suggested prompts, a status while answering, thread titles."""
    assistant = Assistant()

    def started(
        body: dict[str, Any], say: Callable[..., Any], set_suggested_prompts: SetSuggestedPrompts
    ) -> None:
        if not first_delivery(bot, body):
            return
        say("Hi! Ask me about the code, its decisions, incidents and who knows what.")
        set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title="Try asking")

    def user_message(
        body: dict[str, Any], payload: dict[str, Any], set_status: SetStatus, set_title: SetTitle
    ) -> None:
        if not first_delivery(bot, body):
            return
        where = Where(
            channel=payload["channel"],
            user=payload.get("user", ""),
            thread_ts=payload.get("thread_ts"),
            message_ts=payload.get("ts"),
            is_dm=True,
        )
        text = payload.get("text", "")
        try:
            set_title(text[:80] or "Question")
        except Exception as exc:  # a title is a nicety: the answer still comes
            log.warning("could not set the thread title: %s", exc)
        bot.answer(text, where, status=set_status)

    assistant.thread_started(lazy=[started])(_ack)
    assistant.user_message(lazy=[user_message])(_ack)
    return assistant


def _events(app: App, bot: Bot) -> None:
    def mentioned(body: dict[str, Any], event: dict[str, Any]) -> None:
        if not first_delivery(bot, body):
            return
        if _is_from_bot(event):
            return
        where = Where(
            channel=event["channel"],
            user=event.get("user", ""),
            thread_ts=event.get("thread_ts") or event["ts"],
            message_ts=event["ts"],
        )
        bot.answer(event.get("text", ""), where)

    app.event("app_mention")(ack=_ack, lazy=[mentioned])

    def message(body: dict[str, Any], event: dict[str, Any]) -> None:
        if not first_delivery(bot, body):
            return
        if _is_from_bot(event) or event.get("user") == bot.user_id:
            return
        channel = event.get("channel", "")
        subtype = event.get("subtype")
        if subtype is None and capture.expert_replied(bot, event):
            return
        if event.get("channel_type") == "im":
            if subtype is None:
                where = Where(
                    channel=channel,
                    user=event.get("user", ""),
                    thread_ts=event.get("thread_ts"),
                    message_ts=event["ts"],
                    is_dm=True,
                )
                bot.answer(event.get("text", ""), where)
            return
        incident.on_message(bot, event)
        thread = event.get("thread_ts")
        if subtype is not None or not thread or f"<@{bot.user_id}>" in event.get("text", ""):
            return  # a mention is answered as one
        if mention_only(bot, channel) or not bot.is_bot_thread(channel, thread):
            return
        where = Where(
            channel=channel, user=event.get("user", ""), thread_ts=thread, message_ts=event["ts"]
        )
        bot.answer(event.get("text", ""), where)

    app.event("message")(ack=_ack, lazy=[message])

    def joined(body: dict[str, Any], event: dict[str, Any]) -> None:
        if not first_delivery(bot, body):
            return
        incident.on_join(bot, event)

    app.event("member_joined_channel")(ack=_ack, lazy=[joined])

    def renamed(body: dict[str, Any], event: dict[str, Any]) -> None:
        if not first_delivery(bot, body):
            return
        channel = (event.get("channel") or {}).get("id")
        if channel and bot.kb.deliveries.get(f"slack:brief:{channel}") is not None:
            incident.refresh(bot, channel)

    app.event("channel_rename")(ack=_ack, lazy=[renamed])


def mention_only(bot: Bot, channel: str) -> bool:
    """KB_SLACK_MENTION_ONLY_CHANNELS names this channel (by id or name) or is `*`."""
    listed = {c.strip().lstrip("#") for c in bot.settings.slack_mention_only_channels.split(",")}
    if "*" in listed or channel in listed:
        return True
    if not listed - {""}:
        return False
    try:
        name = bot.client.conversations_info(channel=channel)["channel"].get("name", "")
    except SlackApiError:
        return False
    return name in listed


def _interactions(app: App, bot: Bot) -> None:
    def slash(command: dict[str, Any], respond: Callable[..., Any]) -> None:
        commands.run(bot, command, respond)

    def slash_ack(ack: Ack, command: dict[str, Any]) -> None:
        name = (command.get("text") or "").strip().split(" ", 1)[0] or "help"
        ack(response_type="ephemeral", text=f"Working on `/kb {name}`…")

    app.command("/kb")(ack=slash_ack, lazy=[slash])

    def shortcut(body: dict[str, Any]) -> None:
        try:
            capture.open_remember(bot, body)
        except Exception as exc:
            channel = (body.get("channel") or {}).get("id", "")
            bot.fail(Where(channel, body["user"]["id"], None), "I couldn't open the form", exc)

    # The lazy listener starts right after the ack, well within the trigger's 3 s.
    app.shortcut("kb_remember")(ack=_ack, lazy=[shortcut])

    def submitted(body: dict[str, Any]) -> None:
        capture.submit_remember(bot, body)

    app.view(capture.REMEMBER_MODAL)(ack=_ack, lazy=[submitted])

    for action in ("kb_vote_up", "kb_vote_down", "kb_wrong_source"):
        app.action(action)(ack=_ack, lazy=[lambda body: capture.vote(bot, body)])
    app.action("kb_ask_expert")(ack=_ack, lazy=[lambda body: capture.ask_expert(bot, body)])
    app.action("kb_capture_reply")(ack=_ack, lazy=[lambda body: capture.capture_reply(bot, body)])
