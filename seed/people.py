"""The people of ShopFast: identities, time zones and when they were around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Person:
    """One contributor (or bot) and every identity they appear under."""

    key: str
    name: str
    emails: tuple[str, ...]
    github: str
    slack_name: str
    title: str
    zone: str
    tz_name: str
    joined: date
    left: date | None = None
    is_bot: bool = False
    alt_name: str | None = None

    @property
    def email(self) -> str:
        """The primary (work) email."""
        return self.emails[0]

    def name_for(self, email: str) -> str:
        """The display name used with a given email (Priya's laptop config is lower-case)."""
        if self.alt_name and email != self.emails[0]:
            return self.alt_name
        return self.name

    def active_on(self, day: date) -> bool:
        """Whether the person worked here on that day."""
        return self.joined <= day and (self.left is None or day <= self.left)


PEOPLE: tuple[Person, ...] = (
    Person(
        "alex",
        "Alex Morgan",
        ("alex.morgan@shopfast.io",),
        "alex-morgan",
        "alex.morgan",
        "Principal Engineer",
        "eu_london",
        "Europe/London",
        date(2023, 11, 1),
    ),
    Person(
        "priya",
        "Priya Sharma",
        ("priya.sharma@shopfast.io", "priya.s.dev@gmail.com"),
        "priya-sharma",
        "priya",
        "Software Engineer",
        "ist",
        "Asia/Kolkata",
        date(2024, 1, 15),
        alt_name="priya sharma",
    ),
    Person(
        "ben",
        "Ben Okafor",
        ("ben.okafor@shopfast.io",),
        "bokafor",
        "ben.okafor",
        "Senior Data Engineer",
        "wat",
        "Africa/Lagos",
        date(2023, 11, 1),
        left=date(2025, 6, 27),
    ),
    Person(
        "chen",
        "Chen Wei",
        ("chen.wei@shopfast.io",),
        "chenwei-dev",
        "chen.wei",
        "Senior Engineer, Identity",
        "cst",
        "Asia/Shanghai",
        date(2023, 11, 1),
        left=date(2025, 1, 17),
    ),
    Person(
        "maria",
        "Maria Garcia",
        ("maria.garcia@shopfast.io",),
        "mgarcia",
        "maria.garcia",
        "Staff Engineer, Data & Comms",
        "eu_central",
        "Europe/Madrid",
        date(2024, 2, 5),
    ),
    Person(
        "sofia",
        "Sofia Rossi",
        ("sofia.rossi@shopfast.io",),
        "sofia-rossi",
        "sofia.rossi",
        "Software Engineer",
        "eu_central",
        "Europe/Rome",
        date(2024, 6, 3),
    ),
    Person(
        "tom",
        "Tom Becker",
        ("tom.becker@shopfast.io",),
        "tbecker",
        "tom.becker",
        "Software Engineer",
        "eu_central",
        "Europe/Berlin",
        date(2026, 9, 7),
    ),
    Person(
        "jamie",
        "Jamie Lee",
        ("jamie.lee@shopfast.io",),
        "jamielee",
        "jamie.lee",
        "Software Engineer",
        "us_eastern",
        "America/New_York",
        date(2023, 11, 1),
        left=date(2024, 8, 9),
    ),
    Person(
        "dependabot",
        "dependabot[bot]",
        ("49699333+dependabot[bot]@users.noreply.github.com",),
        "dependabot",
        "dependabot",
        "GitHub App",
        "utc",
        "UTC",
        date(2024, 1, 8),
        is_bot=True,
    ),
)

# Slack-only integrations: they post in channels but never commit.
SLACK_BOTS: tuple[Person, ...] = (
    Person(
        "pagerduty",
        "PagerDuty",
        ("pagerduty@shopfast.io",),
        "",
        "pagerduty",
        "Integration",
        "utc",
        "UTC",
        date(2023, 11, 1),
        is_bot=True,
    ),
    Person(
        "deploybot",
        "deploybot",
        ("deploybot@shopfast.io",),
        "",
        "deploybot",
        "Integration",
        "utc",
        "UTC",
        date(2023, 11, 1),
        is_bot=True,
    ),
)

# GitHub's web-flow identity commits merges and bot pull requests.
GITHUB_NAME = "GitHub"
GITHUB_EMAIL = "noreply@github.com"

BY_KEY: dict[str, Person] = {p.key: p for p in PEOPLE + SLACK_BOTS}


def person(key: str) -> Person:
    """Look a person up by key."""
    return BY_KEY[key]
