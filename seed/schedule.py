"""When everyday (filler) commits happen, and by whom: the authorship skew lives here."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from seed.model import CommitPlan
from seed.people import person
from seed.timeline import HISTORY_END, Calendar, is_holiday, working_time

SERVICE_REPOS = (
    "payment-service",
    "order-service",
    "inventory-service",
    "user-service",
    "notification-service",
    "analytics-service",
)
REPOS = (*SERVICE_REPOS, "platform")

# Relative share of everyday commits among the people active on a given day.
AUTHOR_WEIGHTS: dict[str, dict[str, int]] = {
    "payment-service": {"alex": 72, "sofia": 16, "chen": 5, "priya": 4, "maria": 2},
    "order-service": {"alex": 68, "sofia": 22, "priya": 5, "ben": 3, "jamie": 2},
    "inventory-service": {"alex": 74, "ben": 14, "maria": 4, "sofia": 5, "chen": 2},
    "user-service": {"alex": 56, "chen": 22, "priya": 22, "sofia": 2},
    "notification-service": {"maria": 58, "jamie": 14, "priya": 26, "alex": 6, "ben": 2},
    "analytics-service": {"maria": 52, "ben": 36, "jamie": 10, "alex": 4},
    "platform": {"alex": 60, "maria": 14, "sofia": 10, "priya": 8, "ben": 8},
}

FILLER_COUNTS: dict[str, int] = {
    "payment-service": 300,
    "order-service": 290,
    "inventory-service": 230,
    "user-service": 240,
    "notification-service": 200,
    "analytics-service": 200,
    "platform": 28,
}

# Files only some people touch in everyday work (story commits are not limited).
PROTECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "inventory-service": {"src/inventory/legacy/": ()},
    "user-service": {
        "src/users/tokens.py": ("alex", "chen"),
        "src/users/keys.py": ("alex", "chen"),
    },
}

# Priya commits from her personal laptop (personal email) in this period and these repos.
PERSONAL_EMAIL_REPOS = ("user-service", "notification-service")
PERSONAL_EMAIL_PERIOD = (date(2024, 5, 1), date(2025, 9, 30))


def _day(ts: int) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _blocked(story: list[CommitPlan], repo: str) -> list[tuple[int, int]]:
    # Feature branches are written while main stands still, so no filler inside them.
    opened: dict[str, int] = {}
    windows = []
    for plan in story:
        if plan.repo != repo:
            continue
        if plan.branch:
            opened.setdefault(plan.branch, plan.when)
        if plan.merge_branch:
            windows.append((opened[plan.merge_branch] - 3600, plan.when + 3600))
    return windows


def schedule(story: list[CommitPlan], seed: int) -> list[CommitPlan]:
    """Filler and dependabot plans for every repo, never colliding with story commits."""
    calendar = Calendar()
    for plan in story:
        calendar.book(plan.author, plan.when, plan.repo)
    plans: list[CommitPlan] = []
    for repo in REPOS:
        rng = random.Random(f"{seed}:schedule:{repo}")
        first = min(p.when for p in story if p.repo == repo)
        start = _day(first) + timedelta(days=3 if repo != "platform" else 60)
        span = (HISTORY_END - start).days
        blocked = _blocked(story, repo)
        weights = AUTHOR_WEIGHTS[repo]
        for _ in range(FILLER_COUNTS[repo]):
            for _attempt in range(60):
                day = start + timedelta(days=rng.randrange(span + 1))
                if day.weekday() >= 5 and rng.random() < 0.93:
                    continue
                if is_holiday(day) and rng.random() < 0.85:
                    continue
                active = [k for k in sorted(weights) if person(k).active_on(day)]
                if not active:
                    continue
                author = rng.choices(active, [weights[k] for k in active])[0]
                when = working_time(rng, person(author), day)
                if when <= first + 86400 or any(a <= when <= b for a, b in blocked):
                    continue
                if not calendar.is_free(author, when, repo):
                    continue
                break
            else:
                continue
            email = None
            if (
                author == "priya"
                and repo in PERSONAL_EMAIL_REPOS
                and PERSONAL_EMAIL_PERIOD[0] <= day <= PERSONAL_EMAIL_PERIOD[1]
                and rng.random() < 0.45
            ):
                email = person("priya").emails[1]
            calendar.book(author, when, repo)
            plans.append(CommitPlan(repo, when, author, kind="filler", email=email))
        if repo != "platform":
            plans.extend(_dependabot(repo, rng, blocked))
    return plans


def _dependabot(repo: str, rng: random.Random, blocked: list[tuple[int, int]]) -> list:
    plans = []
    day = date(2024, 1, 8) + timedelta(days=rng.randrange(7))
    while day <= HISTORY_END:
        monday = day - timedelta(days=day.weekday())
        when = int(datetime(monday.year, monday.month, monday.day, 4, tzinfo=UTC).timestamp())
        when += rng.randrange(7200)
        if not any(a <= when <= b for a, b in blocked):
            plans.append(
                CommitPlan(repo, when, "dependabot", kind="dependabot", committer="github")
            )
        day += timedelta(days=rng.randint(16, 38))
    return plans
