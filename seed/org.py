"""Compose the demo organisation: story, schedule, git repositories, Slack, manifest."""

from __future__ import annotations

import random
import re
import tempfile
from pathlib import Path

from seed import recurrences, story
from seed.files import analytics, inventory, notification, order, payment, platform, user
from seed.filler import TICKET_PREFIX, FillerEngine
from seed.gitwriter import git_env
from seed.history import RepoHistory, write_history
from seed.logs import write_incident_logs
from seed.manifest import DemoOrg, build_manifest, write_manifest
from seed.model import CommitPlan
from seed.schedule import PROTECTED, REPOS, schedule
from seed.script import Leaks, Script
from seed.slack import write_slack_export
from seed.slack_channels import build_channels
from seed.timeline import AS_OF

_MODULES = {
    "payment-service": payment,
    "order-service": order,
    "inventory-service": inventory,
    "user-service": user,
    "notification-service": notification,
    "analytics-service": analytics,
    "platform": platform,
}
_TICKET = re.compile(r"\b[A-Z]+-\d+\b")


def claim_output_dir(out_dir: Path) -> None:
    """Create out_dir, refusing to write into a directory that already has content."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"{out_dir} exists and is not a directory; choose a new path")
        if any(out_dir.iterdir()):
            raise FileExistsError(
                f"{out_dir} is not empty; the demo org needs a new or empty directory "
                "(delete it or pass another path)"
            )
    out_dir.mkdir(parents=True, exist_ok=True)


def story_plans(
    seed: int,
) -> tuple[list[CommitPlan], Leaks, list[tuple[str, str]], list[CommitPlan]]:
    """All scripted commits, the fake credentials they leak, the co-change pairs, and the
    late ones among them (seed.recurrences: scheduled around, not with)."""
    leaks = Leaks.draw(random.Random(f"{seed}:leaks"))
    script = Script(random.Random(f"{seed}:story"), leaks)
    for repo in REPOS:
        _MODULES[repo].script(script)
    pairs = story.data_pairs(script)
    story.new_hire(script)
    before = len(script.plans)
    recurrences.script(script)
    return script.plans, leaks, pairs, script.plans[before:]


def build_repositories(
    out_dir: Path, seed: int
) -> tuple[dict[str, RepoHistory], Leaks, list[tuple[str, str]]]:
    """Write every git repository under out_dir/repos and return what was written."""
    plans, leaks, pairs, late = story_plans(seed)
    reserved = {t for plan in plans for t in _TICKET.findall(plan.message)}
    early = [plan for plan in plans if plan not in late]
    everything = plans + schedule(early, seed)
    for seq, plan in enumerate(everything):
        plan.seq = seq
    histories: dict[str, RepoHistory] = {}
    with tempfile.TemporaryDirectory(prefix="kb-seed-home-") as home:
        env = git_env(Path(home))
        for repo in REPOS:
            mine = [plan for plan in everything if plan.repo == repo]
            engine = FillerEngine(
                repo,
                random.Random(f"{seed}:fill:{repo}"),
                notes=list(_MODULES[repo].NOTES),
                protected=PROTECTED.get(repo, {}),
                reserved_tickets=reserved,
                anchors=_ticket_anchors(repo, [plan for plan in mine if plan not in late]),
            )
            histories[repo] = write_history(out_dir / "repos" / repo, repo, mine, engine, env)
    return histories, leaks, pairs


def _ticket_anchors(repo: str, plans: list[CommitPlan]) -> list[tuple[int, int]]:
    # The story's own ticket numbers pin down how fast this repo's tracker was counting.
    pattern = re.compile(rf"\b{TICKET_PREFIX[repo]}-(\d+)\b")
    found = sorted(
        (plan.when, int(m.group(1)))
        for plan in plans
        if plan.kind == "story"
        for m in [pattern.search(plan.subject)]
        if m
    )
    anchors = [(min(plan.when for plan in plans), 1)]
    for when, number in found:
        if number > anchors[-1][1]:
            anchors.append((when, number))
    return anchors


def generate_demo_org(out_dir: Path, seed: int = 42) -> DemoOrg:
    """Generate the ShopFast demo organisation under out_dir and return its ground truth."""
    # Absolute: git runs with the repo as its cwd, where a relative path means elsewhere.
    out_dir = Path(out_dir).resolve()
    claim_output_dir(out_dir)
    histories, leaks, pairs = build_repositories(out_dir, seed)
    channels = build_channels(seed, histories, leaks)
    slack = write_slack_export(out_dir, seed, channels)
    manifest = build_manifest(seed, histories, leaks, pairs, slack, channels)
    manifest["logs"] = write_incident_logs(out_dir, seed)
    write_manifest(out_dir, manifest)
    return DemoOrg(root=out_dir.resolve(), seed=seed, as_of=AS_OF, manifest=manifest)
