"""Replay a repository's commit plans in time order and write them with fast-import."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from seed.filler import FillerEngine
from seed.gitwriter import FastImport, Signature
from seed.model import CommitPlan, Content, Op, Tree, apply_ops, inverse_ops
from seed.people import GITHUB_EMAIL, GITHUB_NAME, person
from seed.timeline import git_tz, utc_offset_minutes


@dataclass(frozen=True)
class CommitRecord:
    """What was written: enough to cite a commit later (Slack deploys, the manifest)."""

    sha: str
    repo: str
    author: str
    email: str
    when: int
    subject: str
    kind: str
    key: str | None
    paths: tuple[str, ...]


@dataclass
class RepoHistory:
    """The outcome of writing one repository."""

    name: str
    path: Path
    commits: list[CommitRecord] = field(default_factory=list)
    tree: Tree = field(default_factory=dict)
    creators: dict[str, str] = field(default_factory=dict)
    by_key: dict[str, CommitRecord] = field(default_factory=dict)

    @property
    def head(self) -> str:
        """Sha of the last commit on main."""
        return self.commits[-1].sha


def _signature(key: str, email: str | None, when: int) -> Signature:
    who = person(key)
    email = email or who.email
    offset = utc_offset_minutes(who.zone, datetime.fromtimestamp(when, UTC))
    return Signature(who.name_for(email), email, when, git_tz(offset))


def _diff(before: Tree, after: Tree) -> dict[str, Content | None]:
    changes: dict[str, Content | None] = {}
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            changes[path] = after.get(path)
    return changes


def write_history(
    repo_dir: Path,
    name: str,
    plans: list[CommitPlan],
    engine: FillerEngine,
    env: dict[str, str],
) -> RepoHistory:
    """Materialise filler plans, resolve reverts and merges, and write every commit."""
    out = RepoHistory(name, repo_dir)
    importer = FastImport(repo_dir, env)
    tree: Tree = {}
    main: int | None = None
    branch: tuple[str, int | None, int | None, Tree] | None = None
    applied: dict[str, tuple[list[Op], Tree, str]] = {}
    for plan in sorted(plans, key=lambda p: (p.when, p.seq)):
        where = f"{name} @ {plan.when} ({plan.subject or plan.kind})"
        if plan.kind in ("filler", "dependabot") and not engine.fill(plan, tree, out.creators):
            continue
        if plan.revert_of is not None:
            ops, before, subject = applied[plan.revert_of]
            plan.ops = inverse_ops(ops, before)
            reason = f"\n{plan.message.strip()}\n" if plan.message.strip() else ""
            sha = out.by_key[plan.revert_of].sha
            plan.message = f'Revert "{subject}"\n\nThis reverts commit {sha}.\n{reason}'
        before = dict(tree)
        if plan.merge_branch is not None:
            assert branch is not None and branch[0] == plan.merge_branch, where
            _, fork, tip, snapshot = branch
            parents = [p for p in (fork, tip) if p is not None]
            changes = _diff(snapshot, tree)
            branch = None
        else:
            apply_ops(tree, plan.ops, where)
            changes = _diff(before, tree)
            if not changes:
                raise ValueError(f"{where}: commit changes nothing")
            if plan.branch is not None:
                if branch is None:
                    branch = (plan.branch, main, main, dict(before))
                assert branch[0] == plan.branch, where
                parents = [branch[2]] if branch[2] is not None else []
            else:
                assert branch is None, f"{where}: main moved while {branch and branch[0]} open"
                parents = [main] if main is not None else []
        author = _signature(plan.author, plan.email, plan.when)
        if plan.committer == "github" or plan.merge_branch is not None:
            committer = Signature(GITHUB_NAME, GITHUB_EMAIL, plan.when, "+0000")
        else:
            committer = author
        message = plan.message if plan.message.endswith("\n") else plan.message + "\n"
        mark = importer.commit(author, committer, message, parents, changes)
        if plan.branch is not None and plan.merge_branch is None:
            assert branch is not None
            branch = (branch[0], branch[1], mark, branch[3])
        else:
            main = mark
        for path in changes:
            if path in tree and path not in before:
                out.creators[path] = _creator(plan, path, before, out.creators)
        record = CommitRecord(
            importer.sha(mark),
            name,
            plan.author,
            author.email,
            plan.when,
            plan.subject,
            plan.kind,
            plan.key,
            tuple(changes),
        )
        out.commits.append(record)
        if plan.key is not None:
            out.by_key[plan.key] = record
            applied[plan.key] = (list(plan.ops), before, plan.subject)
    assert branch is None, f"{name}: branch {branch and branch[0]} never merged"
    importer.finish()
    out.tree = tree
    return out


def _creator(plan: CommitPlan, path: str, before: Tree, creators: dict[str, str]) -> str:
    # A renamed file keeps the author who first wrote it.
    for op in plan.ops:
        if op.kind == "rename" and op.target == path and op.path in creators:
            return creators[op.path]
    return plan.author
