"""A small builder for the scripted (story) commits of every repository."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date

from seed.model import CommitPlan, Op
from seed.people import person
from seed.timeline import epoch, working_time


@dataclass(frozen=True)
class Leaks:
    """Fake credentials with realistic shapes, drawn from the seeded RNG."""

    aws_access_key_id: str
    aws_secret_access_key: str
    stripe_live_key: str
    orders_db_password: str
    slack_bot_token: str
    github_token: str

    @classmethod
    def draw(cls, rng: random.Random) -> Leaks:
        """Generate one set of credentials."""
        upper = string.ascii_uppercase + string.digits
        alnum = string.ascii_letters + string.digits

        def pick(chars: str, n: int) -> str:
            return "".join(rng.choice(chars) for _ in range(n))

        return cls(
            aws_access_key_id="AKIA" + pick(upper, 16),
            aws_secret_access_key=pick(alnum + "/+", 40),
            stripe_live_key="sk_live_" + pick(alnum, 24),
            orders_db_password=pick(alnum, 18),
            slack_bot_token=f"xoxb-{pick(string.digits, 12)}-{pick(string.digits, 13)}-"
            + pick(alnum, 24),
            github_token="ghp_" + pick(alnum, 36),
        )


# Most commits touch a handful of files; bigger changes are pushed as several commits.
MAX_FILES = 6


class Script:
    """Collects scripted commits; times are exact UTC stamps or a day (working hours)."""

    def __init__(self, rng: random.Random, leaks: Leaks) -> None:
        self.rng = rng
        self.leaks = leaks
        self.plans: list[CommitPlan] = []

    def when(self, stamp: str | int, author: str) -> int:
        """Epoch of 'YYYY-MM-DD HH:MM' (UTC), a working-hours time on 'YYYY-MM-DD', or as is."""
        if isinstance(stamp, int):
            return stamp
        if " " in stamp:
            return epoch(stamp)
        return working_time(self.rng, person(author), date.fromisoformat(stamp))

    def commit(
        self, repo: str, stamp: str | int, author: str, message: str, ops: list[Op], **extra
    ) -> CommitPlan:
        """Add one commit plan and return it."""
        plan = CommitPlan(repo, self.when(stamp, author), author, message, list(ops), **extra)
        self.plans.append(plan)
        return plan

    def series(
        self, repo: str, stamp: str | int, author: str, parts: list[tuple[str, list[Op]]]
    ) -> list[CommitPlan]:
        """Several commits by one person minutes apart (a skeleton pushed as small commits)."""
        when = self.when(stamp, author)
        plans = []
        for message, ops in parts:
            plans.append(self.commit(repo, when, author, message, ops))
            when += 60 * self.rng.randint(4, 17)
        return plans

    def skeleton(
        self, repo: str, stamp: str | int, author: str, subject: str, ops: list[Op]
    ) -> list[CommitPlan]:
        """A new repo pushed as a few small commits: README, source, then build and tests."""
        top = [op for op in ops if op.path in ("README.md", ".gitignore")]
        code = [op for op in ops if op.path.startswith("src/") and op not in top]
        rest = [op for op in ops if op not in top and op not in code]
        parts = [("Initial commit", top)]
        for i in range(0, len(code), MAX_FILES):
            parts.append(
                (subject if i == 0 else "Add the remaining modules", code[i : i + MAX_FILES])
            )
        parts.append(("Add Dockerfile, requirements and first tests", rest))
        return self.series(repo, stamp, author, [p for p in parts if p[1]])

    def split(
        self, repo: str, stamp: str | int, author: str, subjects: list[str], ops: list[Op]
    ) -> list[CommitPlan]:
        """One change pushed as len(subjects) commits, ops shared out in order."""
        size = -(-len(ops) // len(subjects))
        return self.series(
            repo,
            stamp,
            author,
            [(m, ops[i * size : (i + 1) * size]) for i, m in enumerate(subjects)],
        )
