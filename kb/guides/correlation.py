"""How strongly a change is correlated with an incident, and why: pure scoring.

A change (a commit, or a deploy linked to its commit) scores from four kinds of evidence,
each kept as a reason a person reads:

- time: how long before the incident started it went live (a deploy's time when one was
  announced, else the commit's); the weight halves every `HALF_LIFE_HOURS`;
- distance in the dependency graph: the service itself (0), a direct dependency (1), ...;
- what it touched: a danger zone, a hotspot, a contract, configuration, a migration;
- whether its author has left (nobody who wrote it is there to ask).

A change that touched only documentation or tests cannot break a running service: it keeps
a tenth of its score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

HALF_LIFE_HOURS = 12.0
_TIME, _DISTANCE, _TOUCHED = 0.45, 0.25, 0.30
_DISTANCE_WEIGHT = {0: 1.0, 1: 0.6, 2: 0.35}
TOUCH_WEIGHTS = {
    "danger zone": 0.5,
    "hotspot": 0.3,
    "contract": 0.4,
    "configuration": 0.4,
    "migration": 0.4,
    "dependencies": 0.25,
    "deployed": 0.3,
}
_DOCS = re.compile(r"(^|/)(docs?|tests?|spec|examples?)/|\.(md|rst|adoc)$|(^|/)test_[^/]*$")
_DEPENDENCIES = re.compile(
    r"(^|/)(requirements[^/]*\.txt|pyproject\.toml|setup\.cfg|package\.json|go\.mod|pom\.xml"
    r"|build\.gradle(\.kts)?|Gemfile|Cargo\.toml|[^/]+\.csproj)$"
)
_CONTRACT = re.compile(
    r"(^|/)(openapi|swagger|asyncapi)[^/]*\.(ya?ml|json)$|\.(proto|avsc|graphql|thrift)$"
    r"|(^|/)(schemas?|contracts?)/"
)
_CONFIG = re.compile(
    r"(^|/)(config|settings|conf)(\.[a-z]+)?$|(^|/)(config|settings)[^/]*\.(py|ya?ml|json|toml|ini)$"
    r"|(^|/)(config|conf|deploy|k8s|helm|charts?)/|\.env(\.[a-z]+)?$|(^|/)values[^/]*\.ya?ml$"
    r"|(^|/)(docker-compose|compose)[^/]*\.ya?ml$|(^|/)Dockerfile$"
)
_MIGRATION = re.compile(r"(^|/)(migrations?|alembic|db/migrate|flyway)/|\.sql$")


def path_kinds(path: str) -> set[str]:
    """What a changed path is: contract, configuration, migration, docs (or nothing)."""
    kinds = set()
    if _CONTRACT.search(path):
        kinds.add("contract")
    if _CONFIG.search(path):
        kinds.add("configuration")
    if _MIGRATION.search(path):
        kinds.add("migration")
    if _DEPENDENCIES.search(path):
        kinds.add("dependencies")
    if not kinds and _DOCS.search(path):
        kinds.add("docs")
    return kinds


def only_docs(paths: Iterable[str]) -> bool:
    """True when every path is documentation or a test (and there is at least one)."""
    kinds = [path_kinds(p) for p in paths]
    return bool(kinds) and all(k == {"docs"} for k in kinds)


@dataclass
class ChangeEvidence:
    """What is known of one change, before scoring."""

    live_at: datetime  # deployed, else authored
    distance: int
    touched: dict[str, list[str]] = field(default_factory=dict)  # kind -> what (paths, zones)
    author_departed: bool = False
    docs_only: bool = False


@dataclass
class Correlation:
    """A change's score in [0, 1] and the reasons for it, strongest first."""

    score: float
    reasons: list[str]
    minutes_before: int

    def to_json(self) -> dict[str, Any]:
        """{"score", "minutes_before", "reasons"}."""
        return {
            "score": round(self.score, 3),
            "minutes_before": self.minutes_before,
            "reasons": self.reasons,
        }


def ago(delta: timedelta) -> str:
    """'40 min', '3 h 10 min', '2 days'."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest and hours < 10 else "")
    return f"{round(minutes / 1440)} days"


def correlate(ev: ChangeEvidence, start: datetime, service: str) -> Correlation:
    """Score one change against an incident that started at `start` in `service`."""
    before = start - ev.live_at
    hours = max(0.0, before.total_seconds() / 3600)
    time_w = math.pow(0.5, hours / HALF_LIFE_HOURS)
    dist_w = _DISTANCE_WEIGHT.get(ev.distance, 0.2)
    # Each kind of evidence adds to the others without any reaching past 1 (a noisy-or).
    touched_w = 1.0 - math.prod(1.0 - TOUCH_WEIGHTS.get(k, 0.2) for k in ev.touched)
    score = _TIME * time_w + _DISTANCE * dist_w + _TOUCHED * touched_w
    live = "deployed" if "deployed" in ev.touched else "committed"
    reasons = [f"{live} {ago(before)} before the start"]
    if ev.distance == 0:
        reasons.append(f"in {service} itself")
    else:
        hops = "a direct dependency" if ev.distance == 1 else f"{ev.distance} hops away"
        reasons.append(f"{hops} of {service}")
    for kind in sorted(ev.touched, key=lambda k: -TOUCH_WEIGHTS.get(k, 0.2)):
        if kind == "deployed":
            continue
        what = ev.touched[kind]
        shown = ", ".join(what[:2]) + (f" and {len(what) - 2} more" if len(what) > 2 else "")
        reasons.append(f"touched {_article(kind)}{kind}" + (f": {shown}" if shown else ""))
    if ev.author_departed:
        score += 0.05
        reasons.append("its author has left")
    if ev.docs_only:
        score *= 0.1
        reasons.append("only documentation or tests")
    return Correlation(min(1.0, score), reasons, round(before.total_seconds() / 60))


def _article(kind: str) -> str:
    if kind in ("configuration", "dependencies"):
        return ""
    return "an " if kind[0] in "aeiou" else "a "
