"""Who is behind a git identity: bots and AI coding agents versus people."""

from __future__ import annotations

import re

# Names that are only ever automation, compared lower-cased and stripped.
_BOT_NAMES = frozenset(
    {
        "dependabot",
        "dependabot-preview",
        "renovate",
        "renovate-bot",
        "renovatebot",
        "github-actions",
        "github actions",
        "github action",
        "snyk-bot",
        "snyk bot",
        "greenkeeper",
        "greenkeeperio-bot",
        "mergify",
        "imgbot",
        "pre-commit-ci",
        "semantic-release-bot",
        "allcontributors",
        "codecov",
        "pyup-bot",
        "pyup.io bot",
        "whitesource-bolt",
        # AI coding agents under names no person has.
        "copilot",
        "github copilot",
        "copilot-swe-agent",
        "claude code",
        "claude-code",
        "openai codex",
        "chatgpt-codex-connector",
        "devin-ai-integration",
        "cursor agent",
        "cursoragent",
        "sweep-ai",
    }
)

# GitHub logins of automation, as they appear in `<id>+<login>@users.noreply.github.com`.
_BOT_LOGINS = _BOT_NAMES | {"copilot-pull-request-reviewer"}

# Addresses that only automation commits with.
_BOT_EMAILS = frozenset(
    {
        "support@dependabot.com",
        "bot@renovateapp.com",
        "renovate@whitesourcesoftware.com",
        "action@github.com",
        "github-actions@github.com",
        "snyk-bot@snyk.io",
        "support@greenkeeper.io",
        "noreply@anthropic.com",
        "cursoragent@cursor.com",
    }
)

# Agent names that are also people's first names (Claude Shannon, Devin Booker): these
# are automation only together with a no-reply or vendor address.
_AGENT_FIRST_NAMES = frozenset({"claude", "devin", "codex", "cursor"})
_AGENT_DOMAINS = frozenset(
    {"anthropic.com", "openai.com", "cognition.ai", "cognition-labs.com", "cursor.com"}
)
_NOREPLY = re.compile(r"no-?reply", re.IGNORECASE)
_GITHUB_NOREPLY = "@users.noreply.github.com"


def is_bot_identity(name: str | None, email: str | None) -> bool:
    """Whether a commit identity belongs to a bot or AI agent rather than a person."""
    lname = (name or "").strip().lower()
    lemail = (email or "").strip().lower()
    if lname.endswith("[bot]") or "[bot]@" in lemail:
        return True
    if lname in _BOT_NAMES or lemail in _BOT_EMAILS:
        return True
    local, _, domain = lemail.rpartition("@")
    if lemail.endswith(_GITHUB_NOREPLY):
        # `12345+login@users.noreply.github.com`: a human's private address unless the
        # login is a known automation account.
        login = local.rpartition("+")[2]
        if login in _BOT_LOGINS:
            return True
    if lname in _AGENT_FIRST_NAMES:
        return bool(_NOREPLY.search(local)) or domain in _AGENT_DOMAINS
    return False
