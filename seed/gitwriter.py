"""Write commits into a fresh git repository through one `git fast-import` stream."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from seed.model import Content


@dataclass(frozen=True)
class Signature:
    """An author or committer line: identity, epoch seconds and git tz offset."""

    name: str
    email: str
    when: int
    tz: str

    def line(self) -> str:
        """The fast-import form."""
        return f"{self.name} <{self.email}> {self.when} {self.tz}"


def git_env(home: Path) -> dict[str, str]:
    """An environment in which no user or system git config can change the output."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
    }


def _git() -> str:
    found = shutil.which("git")
    if found is None:
        raise RuntimeError("git is not installed or not on PATH; install git to build the demo org")
    return found


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [_git(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")


class FastImport:
    """A running `git fast-import` into a new repository whose default branch is main."""

    def __init__(self, repo_dir: Path, env: dict[str, str]) -> None:
        repo_dir.mkdir(parents=True)
        # An empty template dir: no sample hooks, nothing copied from the machine's git install.
        _run(["init", "-q", "-b", "main", "--template=", str(repo_dir)], repo_dir, env)
        self._dir = repo_dir
        self._env = env
        self._marks = 0
        self._proc = subprocess.Popen(
            [_git(), "fast-import", "--quiet", "--date-format=raw"],
            cwd=repo_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def _send(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(data)

    def _data(self, payload: bytes) -> None:
        self._send(b"data %d\n" % len(payload) + payload + b"\n")

    def commit(
        self,
        author: Signature,
        committer: Signature,
        message: str,
        parents: list[int],
        changes: dict[str, Content | None],
    ) -> int:
        """Write one commit on main; `changes` maps path to new content or None (deleted)."""
        self._marks += 1
        mark = self._marks
        head = f"commit refs/heads/main\nmark :{mark}\n"
        head += f"author {author.line()}\ncommitter {committer.line()}\n"
        self._send(head.encode())
        self._data(message.encode())
        if parents:
            self._send(f"from :{parents[0]}\n".encode())
        for parent in parents[1:]:
            self._send(f"merge :{parent}\n".encode())
        for path in sorted(changes):
            content = changes[path]
            if content is None:
                self._send(f"D {path}\n".encode())
                continue
            mode = "100755" if path.endswith(".sh") else "100644"
            self._send(f"M {mode} inline {path}\n".encode())
            self._data(content.encode() if isinstance(content, str) else content)
        self._send(b"\n")
        return mark

    def sha(self, mark: int) -> str:
        """The commit id fast-import assigned to a mark."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._send(f"get-mark :{mark}\n".encode())
        self._proc.stdin.flush()
        line = self._proc.stdout.readline().decode().strip()
        if len(line) != 40:
            raise RuntimeError(f"git fast-import in {self._dir} gave no id for mark {mark}")
        return line

    def finish(self) -> None:
        """Close the stream and check the work tree out at main."""
        _, err = self._proc.communicate()
        if self._proc.returncode != 0:
            raise RuntimeError(f"git fast-import failed in {self._dir}: {err.decode().strip()}")
        _run(["checkout", "-q", "-f", "main"], self._dir, self._env)
