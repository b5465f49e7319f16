"""Incident channels (opt-in): one brief, kept current, for the services the channel names.

When the bot joins a channel whose name matches KB_SLACK_INCIDENT_CHANNELS (`inc-*`,
`incident-*`), it reads the services named in the channel's name, topic and first messages,
posts a brief for them, and afterwards `chat.update`s that same message whenever the
services named change (a message naming another one, a new topic or name). The message it
keeps is stored, so a restart updates it rather than posting another.

The brief is kb's incident plan when this kb has the service for it; otherwise it is put
together from kb's service page, incident log, danger zones and experts.
"""

from __future__ import annotations

import fnmatch
import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.answering import Bot, Where
from bot.render import context, fallback, sections
from kb.contract.kinds import WisdomKind

log = logging.getLogger("kb.bot")

FIRST_MESSAGES = 20  # how far into the channel's history services are looked for


def is_incident_channel(bot: Bot, name: str) -> bool:
    """Briefs are on and the channel's name matches an incident pattern."""
    if not bot.settings.slack_incident_briefs:
        return False
    patterns = [p.strip() for p in bot.settings.slack_incident_channels.split(",") if p.strip()]
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns)


def channel_services(bot: Bot, channel: dict[str, Any]) -> list[str]:
    """The services named in the channel's name, topic, purpose and first messages."""
    texts = [channel.get("name", "").replace("-", " ").replace("_", " ")]
    texts += [(channel.get(k) or {}).get("value", "") for k in ("topic", "purpose")]
    try:
        history = bot.client.conversations_history(
            channel=channel["id"], limit=FIRST_MESSAGES, oldest="0"
        )
        posted: list[dict[str, Any]] = history.get("messages", [])
        texts += [m.get("text", "") for m in posted if not m.get("bot_id")]
    except SlackApiError as exc:
        log.warning("could not read %s: %s", channel.get("name"), exc.response.get("error"))
    return bot.kb.services_named("\n".join(texts))


def brief_markdown(bot: Bot, services: list[str]) -> str:
    """The brief: kb's incident plan per service, or what kb knows of each."""
    if not services:
        return (
            "🚨 *Incident brief*\n\nNo service named yet: name one here "
            "(e.g. `payment-service returns 502s`) and this brief fills in."
        )
    plans = getattr(bot.kb, "incidents", None)
    parts = [f"🚨 *Incident brief* — {', '.join(services)}"]
    for service in services:
        if plans is not None:
            parts.append(plans.plan(service).to_markdown())
        else:
            parts.append(_known(bot, service))
    return "\n\n".join(parts)


def _known(bot: Bot, service: str) -> str:
    """What kb knows for an incident in one service (without the incident-plan service)."""
    kb = bot.kb
    lines = [f"## {service}"]
    page = kb.service(service)
    users = ", ".join(f"{e.service} ({e.kind})" for e in page.used_by) or "none known"
    deps = ", ".join(f"{e.service} ({e.kind})" for e in page.depends_on) or "none known"
    lines += [f"**Blast radius:** used by {users}", f"**Depends on:** {deps}"]
    log_entries = kb.incident_log(service).incidents[:3]
    if log_entries:
        lines.append("**Similar past incidents:**")
        for entry in log_entries:
            row = entry.row
            fix = f" — resolved by: {row.resolution}" if row.resolution else ""
            lines.append(f"- {row.label}: {row.title}{fix}")
        changes = [c for entry in log_entries for c in entry.changes][:3]
        if changes:
            lines.append("**Correlated changes then:**")
            lines += [f"- `{c['repo']}@{c['sha'][:10]}` {c['subject']}" for c in changes]
    zones = kb.staleness.entries(service=service, kind=WisdomKind.DANGER_ZONE).entries[:3]
    if zones:
        lines.append("**Danger zones:**")
        lines += [f"- {z.title.splitlines()[0]}" for z in zones]
    people = [p for p in kb.experts.who(service).people if not p.departed][:3]
    if people:
        lines.append("**Who to page:** " + ", ".join(p.name for p in people))
    return "\n".join(lines)


def refresh(bot: Bot, channel_id: str, force: bool = False) -> None:
    """Post the channel's brief, or update it when the services it names changed."""
    info = bot.client.conversations_info(channel=channel_id)["channel"]
    if not is_incident_channel(bot, info.get("name", "")):
        return
    key = f"slack:brief:{channel_id}"
    kept = bot.kb.deliveries.get(key)
    services = channel_services(bot, info)
    if kept is not None and kept.get("services") == services and not force:
        return
    blocks = sections(brief_markdown(bot, services))[:45]  # one message, kept current
    blocks.append(context("Kept current by kb as the services named here change."))
    text = fallback(f"Incident brief: {', '.join(services) or 'no service named yet'}")
    if kept is not None and kept.get("ts"):
        bot.client.chat_update(channel=channel_id, ts=kept["ts"], blocks=blocks, text=text)
        ts = kept["ts"]
    else:
        ts = bot.client.chat_postMessage(channel=channel_id, blocks=blocks, text=text)["ts"]
    bot.kb.deliveries.put(key, {"ts": ts, "services": services})


def on_join(bot: Bot, event: dict[str, Any]) -> None:
    """The bot was invited to a channel: brief it if it is an incident channel."""
    if event.get("user") != bot.user_id:
        return
    try:
        refresh(bot, event["channel"])
    except Exception as exc:
        where = Where(channel=event["channel"], user=event.get("inviter") or "", thread_ts=None)
        log.error("incident brief failed in %s: %s", event["channel"], exc, exc_info=exc)
        if where.user:
            bot.fail(where, "I couldn't write the incident brief", exc)


def on_message(bot: Bot, event: dict[str, Any]) -> None:
    """A message in a briefed channel: update the brief if it names other services."""
    channel = event.get("channel", "")
    kept = bot.kb.deliveries.get(f"slack:brief:{channel}")
    if kept is None:
        return
    subtype = event.get("subtype")
    named = set(bot.kb.services_named(event.get("text", "")))
    if subtype in ("channel_topic", "channel_purpose", "channel_name") or named - set(
        kept.get("services", [])
    ):
        try:
            refresh(bot, channel)
        except Exception as exc:
            log.error("incident brief update failed in %s: %s", channel, exc, exc_info=exc)
