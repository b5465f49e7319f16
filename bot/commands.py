"""`/kb SUBCOMMAND …`: each subcommand parses its words, calls one kb service, renders it.

Replies go to the command's `response_url`: reports in the channel, confirmations and
errors only to the person who typed the command. A subcommand whose kb service this
knowledge base lacks says so instead of failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.answering import Bot, Where
from bot.render import Block, answer_blocks, context, fallback, messages, sections
from kb import KBError

log = logging.getLogger("kb.bot")

Respond = Callable[..., Any]

HELP = """*`/kb` — ask the team's knowledge base*
• `/kb ask QUESTION` — a cited answer
• `/kb incident SERVICE [symptom]` — the incident trace plan
• `/kb who PATH|SERVICE|TOPIC` — who knows it now
• `/kb map SERVICE` — blast radius and dependencies
• `/kb remember TEXT` — teach kb something, in your name
• `/kb onboarding [SERVICE]` — the onboarding guide, as a file
• `/kb busfactor [SERVICE]` — truck factor and who alone knows what
• `/kb help` — this list
Mention `@kb` with a question in any channel it is in, or write to it directly."""


class Unsupported(Exception):
    """This knowledge base has no service for the subcommand yet."""


def _needs(bot: Bot, attribute: str, what: str) -> Any:
    service = getattr(bot.kb, attribute, None)
    if service is None:
        raise Unsupported(f"this kb can't {what} yet (it has no `{attribute}` service)")
    return service


def _report(respond: Respond, markdown: str, title: str) -> None:
    """A Markdown report in the channel, in as many messages as it takes."""
    for n, chunk in enumerate(messages(sections(markdown))):
        respond(
            response_type="in_channel",
            blocks=chunk,
            text=fallback(title if n == 0 else f"{title} (continued)"),
        )


def _private(respond: Respond, text: str, blocks: list[Block] | None = None) -> None:
    respond(response_type="ephemeral", text=fallback(text), blocks=blocks or [context(text)])


def run(bot: Bot, command: dict[str, Any], respond: Respond) -> None:
    """Run one `/kb` command; any failure is a reply only its author sees, and a log line."""
    words = (command.get("text") or "").strip()
    name, _, rest = words.partition(" ")
    name, rest = name.lower(), rest.strip()
    where = Where(
        channel=command.get("channel_id", ""),
        user=command.get("user_id", ""),
        thread_ts=None,
        is_dm=str(command.get("channel_name")) == "directmessage"
        or str(command.get("channel_id", "")).startswith("D"),
    )
    handler = SUBCOMMANDS.get(name)
    try:
        if handler is None:
            _private(respond, HELP if name in ("", "help") else f"Unknown `/kb {name}`.\n{HELP}")
            return
        handler(bot, rest, where, respond, command)
    except Unsupported as exc:
        _private(respond, f"Sorry: {exc}.")
    except Exception as exc:
        log.error("/kb %s failed: %s", name, exc, exc_info=exc)
        reason = str(exc) if isinstance(exc, KBError) else type(exc).__name__
        _private(respond, f"⚠️ `/kb {name}` failed: {reason}. It is logged.")


def _usage(respond: Respond, usage: str) -> None:
    _private(respond, f"Usage: `{usage}`")


def ask(bot: Bot, rest: str, where: Where, respond: Respond, command: dict[str, Any]) -> None:
    """`/kb ask QUESTION`: the cited answer, in the channel."""
    if not rest:
        return _usage(respond, "/kb ask QUESTION")
    answer = bot.ask(rest, where)
    blocks = answer_blocks(answer, bot.settings.ui_url)
    for n, chunk in enumerate(messages(blocks)):
        text = fallback(answer.answer if n == 0 else "(continued)")
        respond(response_type="in_channel", blocks=chunk, text=text)
    bot.kb.deliveries.put(
        f"slack:answer:{answer.id}",
        {
            "question": answer.question,
            "channel": where.channel,
            "thread_ts": None,
            "services": answer.services,
            "asker": where.user,
        },
    )
    return None


def incident(bot: Bot, rest: str, where: Where, respond: Respond, command: dict[str, Any]) -> None:
    """`/kb incident SERVICE [symptom]`: the incident trace plan."""
    service, _, symptom = rest.partition(" ")
    if not service:
        return _usage(respond, "/kb incident SERVICE [symptom]")
    plans = _needs(bot, "incidents", "plan incidents")
    plan = plans.plan(service, symptom=symptom.strip() or None)
    _report(respond, plan.to_markdown(), f"Incident plan for {service}")
    return None


def who(bot: Bot, rest: str, where: Where, respond: Respond, command: dict[str, Any]) -> None:
    """`/kb who PATH|SERVICE|TOPIC`: who knows it now."""
    if not rest:
        return _usage(respond, "/kb who PATH|SERVICE|TOPIC")
    _report(respond, bot.kb.experts.who(rest).to_markdown(), f"Who knows {rest}")
    return None


def service_map(
    bot: Bot, rest: str, where: Where, respond: Respond, command: dict[str, Any]
) -> None:
    """`/kb map SERVICE`: blast radius and dependencies."""
    if not rest:
        return _usage(respond, "/kb map SERVICE")
    servicemap = _needs(bot, "servicemap", "draw the service map")
    radius = servicemap.blast_radius(rest)
    deps = servicemap.map(service=rest)
    _report(respond, f"{radius.to_markdown()}\n\n{deps.to_markdown()}", f"Map of {rest}")
    return None


def remember(bot: Bot, rest: str, where: Where, respond: Respond, command: dict[str, Any]) -> None:
    """`/kb remember TEXT`: stored in the teller's name, confirmed to them."""
    if not rest:
        return _usage(respond, "/kb remember TEXT")
    teller = bot.person(where.user)
    # Taught in a private channel, it is cited only there, as a captured message would be.
    private_to = bot.private_channel(where.channel)
    remembered = bot.kb.remember(rest, by=teller, private_to=private_to)
    kept = " It stays with this channel's members." if private_to else ""
    _private(respond, f"🧠 {remembered.to_markdown().strip()} Thanks, {teller}.{kept}")
    return None


def onboarding(
    bot: Bot, rest: str, where: Where, respond: Respond, command: dict[str, Any]
) -> None:
    """`/kb onboarding [SERVICE]`: the guide, uploaded as a Markdown file."""
    guides = _needs(bot, "onboarding", "write onboarding guides")
    service = rest or None
    guide = guides.guide(service)
    name = f"onboarding-{service or 'all'}.md"
    bot.client.files_upload_v2(
        channel=where.channel,
        content=guide.to_markdown(),
        filename=name,
        title=f"Onboarding guide{f' for {service}' if service else ''}",
        initial_comment=f"The onboarding guide{f' for *{service}*' if service else ''}.",
    )
    return None


def busfactor(bot: Bot, rest: str, where: Where, respond: Respond, command: dict[str, Any]) -> None:
    """`/kb busfactor [SERVICE]`: truck factor and who alone knows what."""
    report = bot.kb.busfactor.report(service=rest or None)
    _report(respond, report.to_markdown(), f"Bus factor{f' of {rest}' if rest else ''}")


SUBCOMMANDS: dict[str, Callable[[Bot, str, Where, Respond, dict[str, Any]], None]] = {
    "ask": ask,
    "incident": incident,
    "who": who,
    "map": service_map,
    "remember": remember,
    "onboarding": onboarding,
    "busfactor": busfactor,
    "bus-factor": busfactor,
}
