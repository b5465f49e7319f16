"""Build real git repositories in temp dirs, fast (git fast-import) and deterministic."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Isolated from the user's and the system's git config (signing, hooks, templates).
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}
ALICE = ("Alice Doe", "alice@example.com")
T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)

PEOPLE = [
    ("Alex Morgan", "alex.morgan@shopfast.io"),
    ("Priya Sharma", "priya.sharma@shopfast.io"),
    ("priya sharma", "priya.s.dev@gmail.com"),
    ("Ben Okafor", "ben.okafor@shopfast.io"),
    ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
]


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with the user's configuration shut out."""
    env = {**os.environ, **GIT_ENV}
    res = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return res.stdout


def build_history_repo(path: Path, commits: int, docs_every: int = 50) -> Path:
    """A repo of `commits` commits over a few dozen files, with a markdown doc now and then."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    lines: list[str] = []
    t0 = 1_600_000_000
    for i in range(commits):
        name, email = PEOPLE[(i * 7) % len(PEOPLE)]
        when = t0 + i * 3600
        msg = (
            f"SHOP-{100 + i % 50}: rework module {i % 40} for step {i}\n\n"
            f"Because checkout step {i} timed out under load, module {i % 40} now retries\n"
            "with an idempotency key instead of failing the whole order.\n"
        )
        lines.append("commit refs/heads/main")
        lines.append(f"author {name} <{email}> {when} +0000")
        lines.append(f"committer {name} <{email}> {when} +0000")
        lines.append(f"data {len(msg.encode())}")
        lines.append(msg)
        body = f"value = {i}\n"
        lines.append(f"M 100644 inline src/module_{i % 40}.py")
        lines.append(f"data {len(body.encode())}")
        lines.append(body)
        if i % docs_every == 0:
            doc = f"# Notes {i}\n\n## Why\n\nStep {i} exists because of incident {i // 7}.\n"
            lines.append(f"M 100644 inline docs/notes_{i // docs_every % 10}.md")
            lines.append(f"data {len(doc.encode())}")
            lines.append(doc)
        lines.append("")
    stream = "\n".join(lines) + "\n"
    env = {**os.environ, **GIT_ENV}
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"],
        input=stream.encode(),
        env=env,
        check=True,
    )
    git(path, "checkout", "-q", "-f", "main")
    return path


class Repo:
    """A real git repository in a temp dir, with commits at fixed, increasing times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = T0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(
        self,
        *args: str,
        author: tuple[str, str] = ALICE,
        when: datetime | None = None,
        stdin: bytes | None = None,
    ) -> str:
        stamp = (when or self.clock).isoformat()
        env = {
            **os.environ,
            **GIT_ENV,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
        }
        res = subprocess.run(
            ["git", "-C", str(self.path), *args],
            env=env,
            input=stdin,
            capture_output=True,
            check=True,
        )
        return res.stdout.decode("utf-8", "replace").strip()

    def commit(
        self,
        message: str,
        files: dict[str, str | None] | None = None,
        author: tuple[str, str] = ALICE,
        when: datetime | None = None,
    ) -> str:
        """Write (or, for None, delete) files and commit them; returns the sha."""
        self.clock += timedelta(hours=1)
        for name, text in (files or {}).items():
            target = self.path / name
            if text is None:
                self.git("rm", "-q", "--", name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                self.git("add", "--", name)
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author, when=when)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")
