"""The bot's state and its one way of answering: ask kb, post the cited answer, never silent.

`Bot` holds the knowledge base, the Slack client and who the bot is; every listener (events,
the slash command, buttons, the shortcut) works through it. Answers are posted in the
asker's thread; a failure becomes a short ephemeral reply to the asker (it may name what
kb holds) and a log line.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.render import Block, answer_blocks, context, fallback, messages
from kb import KB, Answer, KBError, Settings
from kb.contract.visibility import CHANNEL_ID, PRIVATE

log = logging.getLogger("kb.bot")

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
THREAD_CONTEXT = 2  # earlier questions of a thread that join a follow-up


@dataclass(frozen=True)
class Where:
    """Where a question was asked, by whom, and where the reply goes."""

    channel: str
    user: str
    thread_ts: str | None  # the thread replies go to (None: the DM itself)
    message_ts: str | None = None  # the question's own message (for the 👀)
    is_dm: bool = False


def strip_mentions(text: str) -> str:
    """The text of a message without `<@U…>` mentions."""
    return " ".join(_MENTION.sub(" ", text or "").split())


class Bot:
    """The knowledge base and the Slack client behind every listener."""

    def __init__(self, kb: KB, client: WebClient) -> None:
        self.kb = kb
        self.client = client
        self.settings: Settings = kb.settings
        auth = client.auth_test()
        self.user_id: str = auth["user_id"]
        self.bot_id: str | None = auth.get("bot_id")
        self._names: dict[str, str] = {}
        self._directory: dict[str, str] | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load retrieval and the question encoder now, not on the first question."""
        _ = self.kb.deliveries
        self.kb.ask("what does kb know?", record=False)

    # --- people --------------------------------------------------------------------------

    def person(self, user_id: str) -> str:
        """A Slack member's real name (their id when Slack does not say)."""
        with self._lock:
            if user_id in self._names:
                return self._names[user_id]
        try:
            user = self.client.users_info(user=user_id)["user"]
            profile = user.get("profile") or {}
            name = user.get("real_name") or profile.get("real_name") or user.get("name")
        except SlackApiError:
            name = None
        with self._lock:
            self._names[user_id] = name or user_id
        return name or user_id

    def member_named(self, name: str) -> str | None:
        """The Slack id of the member with this real or user name, if any."""
        with self._lock:
            directory = self._directory
        if directory is None:
            directory = {}
            for page in self.client.users_list(limit=200):
                for user in page.get("members", []):
                    if user.get("deleted") or user.get("is_bot"):
                        continue
                    profile = user.get("profile") or {}
                    for label in (
                        user.get("real_name"),
                        profile.get("real_name"),
                        user.get("name"),
                    ):
                        if label:
                            directory.setdefault(label.casefold(), user["id"])
            with self._lock:
                self._directory = directory
        return directory.get(name.casefold())

    def readable_channels(self, where: Where) -> set[str]:
        """Private channels whose content this reply may cite: its own channel; in a DM,
        every private channel the asker belongs to."""
        if not where.is_dm:
            return {where.channel}
        return {where.channel} | self.private_channels_of(where.user)

    def private_channels_of(self, user: str) -> set[str]:
        """The private channels (that kb is in too) a member belongs to."""
        response = self.client.users_conversations(user=user, types="private_channel", limit=200)
        channels: list[dict[str, Any]] = response.get("channels", [])
        return {c["id"] for c in channels}

    def private_channel(self, channel: str) -> str | None:
        """The channel's id when it is private (what is taught there stays there), else None.

        A channel kb cannot look up (a private one it was not invited to) counts as private.
        """
        try:
            info = self.client.conversations_info(channel=channel)["channel"]
        except SlackApiError as exc:
            log.warning("cannot tell whether %s is private (%s): keeping it private", channel, exc)
            return channel
        return channel if info.get("is_private") or info.get("is_im") else None

    # --- answering -----------------------------------------------------------------------

    def thread_question(self, where: Where, text: str) -> str:
        """The question, with the thread's earlier questions before it as context."""
        question = strip_mentions(text)
        if not where.thread_ts or where.thread_ts == where.message_ts:
            return question  # the thread starts here: nothing before it
        try:
            replies = self.client.conversations_replies(
                channel=where.channel, ts=where.thread_ts, limit=50
            )["messages"]
        except SlackApiError:
            return question
        earlier = [
            strip_mentions(m.get("text", ""))
            for m in replies
            if not m.get("bot_id") and m.get("ts") != where.message_ts and m.get("text")
        ]
        return " ".join([*earlier[-THREAD_CONTEXT:], question]).strip()

    def ask(self, question: str, where: Where) -> Answer:
        """kb's answer for this reader: private channels they can't read are not cited."""
        return self.kb.ask(
            question,
            asker=self.person(where.user),
            channel=where.channel,
            surface="slack",
            readable_channels=self.readable_channels(where),
        )

    def answer(
        self,
        text: str,
        where: Where,
        status: Callable[[str], Any] | None = None,
    ) -> None:
        """Answer `text` in its thread: 👀 (or the assistant status) while working."""
        self.working(where, status)
        try:
            question = self.thread_question(where, text)
            if not question:
                self.post(
                    where,
                    [context("Ask me a question, e.g. `@kb why is X async?`")],
                    "Ask me a question",
                )
                return
            answer = self.ask(question, where)
            self.post_answer(where, answer)
        except Exception as exc:
            self.fail(where, "I couldn't answer that", exc)
            return
        finally:
            self.done(where, status)
        if not where.is_dm:
            try:
                self.offer_private(question, where)
            except Exception as exc:
                log.warning("no private answer for %s: %s", where.user, exc)

    def offer_private(self, question: str, where: Where) -> None:
        """The asker's own fuller answer, shown only to them: it may also cite the private
        channels they are in, which the channel's answer never does."""
        theirs = self.private_channels_of(where.user) - {where.channel}
        if not theirs:
            return
        fuller = self.kb.ask(
            question,
            asker=self.person(where.user),
            channel=where.channel,
            surface="slack",
            record=False,
            readable_channels=theirs | {where.channel},
        )
        if not any(
            c.source.meta.get(PRIVATE) and c.source.meta.get(CHANNEL_ID) in theirs
            for c in fuller.citations
        ):
            return
        fuller.id = ""  # not recorded: nothing to vote on
        note = context("🔒 Only you can see this: it also cites private channels you are in.")
        for chunk in messages([note, *answer_blocks(fuller, self.settings.ui_url)]):
            self.client.chat_postEphemeral(
                channel=where.channel,
                user=where.user,
                thread_ts=where.thread_ts,
                blocks=chunk,
                text=fallback(fuller.answer),
            )

    def post_answer(self, where: Where, answer: Answer) -> None:
        """Post an answer (split into several messages when long) and remember its thread."""
        blocks = answer_blocks(answer, self.settings.ui_url)
        first = None
        for n, chunk in enumerate(messages(blocks)):
            text = fallback(answer.answer) if n == 0 else "(continued)"
            ts = self.post(where, chunk, text)
            first = first or ts
        thread = where.thread_ts or first
        if thread:
            self.kb.deliveries.put(f"slack:thread:{where.channel}:{thread}", {"bot": True})
        self.kb.deliveries.put(
            f"slack:answer:{answer.id}",
            {
                "question": answer.question,
                "channel": where.channel,
                "thread_ts": thread,
                "services": answer.services,
                "asker": where.user,
            },
        )

    def post(self, where: Where, blocks: list[Block], text: str) -> str | None:
        """Post in the reply's thread; the message's ts."""
        response = self.client.chat_postMessage(
            channel=where.channel,
            thread_ts=where.thread_ts,
            blocks=blocks,
            text=text,
            unfurl_links=False,
            unfurl_media=False,
        )
        return response.get("ts")

    def is_bot_thread(self, channel: str, thread_ts: str) -> bool:
        """True when the bot answered in this thread (kept across restarts)."""
        return self.kb.deliveries.get(f"slack:thread:{channel}:{thread_ts}") is not None

    # --- never silent ----------------------------------------------------------------------

    def working(self, where: Where, status: Callable[[str], Any] | None) -> None:
        """Show that the question is being worked on."""
        try:
            if status is not None:
                status("is looking through kb…")
            elif where.message_ts:
                self.client.reactions_add(
                    channel=where.channel, timestamp=where.message_ts, name="eyes"
                )
        except SlackApiError as exc:
            log.warning("could not show work in progress: %s", exc.response.get("error"))

    def done(self, where: Where, status: Callable[[str], Any] | None) -> None:
        """Take the 👀 away again (the assistant status clears with the reply)."""
        if status is not None or not where.message_ts:
            return
        try:
            self.client.reactions_remove(
                channel=where.channel, timestamp=where.message_ts, name="eyes"
            )
        except SlackApiError as exc:
            log.warning("could not remove 👀: %s", exc.response.get("error"))

    def fail(self, where: Where, what: str, exc: BaseException) -> None:
        """Log a failure and tell the asker, in a reply only they see."""
        log.error("%s (channel %s): %s", what, where.channel, exc, exc_info=exc)
        reason = str(exc) if isinstance(exc, KBError) else type(exc).__name__
        text = f"⚠️ {what}: {reason}. It is logged; try again or ask `/kb help`."
        self.tell(where, text)

    def tell(self, where: Where, text: str) -> None:
        """A short message to the asker only (in a DM, the DM itself)."""
        blocks = [context(text)]
        try:
            if where.is_dm:
                self.client.chat_postMessage(
                    channel=where.channel, thread_ts=where.thread_ts, text=text, blocks=blocks
                )
            else:
                self.client.chat_postEphemeral(
                    channel=where.channel,
                    user=where.user,
                    thread_ts=where.thread_ts,
                    text=text,
                    blocks=blocks,
                )
        except SlackApiError as exc:
            log.error("could not tell %s: %s", where.user, exc.response.get("error"))
