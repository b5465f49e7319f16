"""Files of the ingested repositories at the commit kb ingested, read back for an audit.

The store keeps what the map needs (edges, topics, contract summaries) but not every file's
text; `kb contracts` reads the specs and the calling code again, from each repository's git
objects at its ingested HEAD (so later edits of a working copy do not shift lines). What
cannot be read (a repository moved away, a file gone) is said, not guessed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

MAX_BYTES = 2_000_000  # a generated client larger than this is not read


class RepoFiles:
    """`text(repo, path)`: a file at the repository's ingested commit, or None."""

    def __init__(self, checkouts: Mapping[str, tuple[str, str | None]]) -> None:
        self.checkouts = checkouts
        self._cache: dict[tuple[str, str], str | None] = {}
        self.unreadable: dict[str, str] = {}  # "repo:path" -> why

    def text(self, repo: str, path: str) -> str | None:
        """The file's text (None when it cannot be read; the reason is in `unreadable`)."""
        key = (repo, path)
        if key not in self._cache:
            self._cache[key] = self._read(repo, path)
        return self._cache[key]

    def _read(self, repo: str, path: str) -> str | None:
        where = f"{repo}:{path}"
        location, head = self.checkouts.get(repo, ("", None))
        if not location:
            self.unreadable[where] = "repository not ingested"
            return None
        rev = f"{head or 'HEAD'}:{path}"
        try:
            size = subprocess.run(
                ["git", "-C", location, "cat-file", "-s", rev],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.strip()  # fmt: skip
            if int(size or 0) > MAX_BYTES:
                self.unreadable[where] = f"{int(size):,} bytes, too large to read"
                return None
            blob = subprocess.run(
                ["git", "-C", location, "cat-file", "blob", rev],
                capture_output=True, timeout=30, check=True,
            ).stdout  # fmt: skip
        except (OSError, subprocess.SubprocessError, ValueError):
            self.unreadable[where] = f"not readable at {location} ({(head or 'HEAD')[:10]})"
            return None
        return blob.decode("utf-8", errors="replace")
