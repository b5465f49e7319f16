"""The git connector: a local repository's whole history, then its content at HEAD."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from connectors.git.files import head_tree
from connectors.git.history import LogStream, load_history, start_log
from kb.contract.connector import SourceConfig
from kb.contract.records import Checkpoint, Record, RepoRecord, RepoTreeRecord
from kb.contract.weblinks import forge_of, web_url_of_remote
from kb.errors import SourceError
from kb.settings import Settings


class RepoFacts(NamedTuple):
    """What the repository says of itself: HEAD, its branch, its remote, where it is browsed."""

    head: str | None
    branch: str | None
    remote: str | None
    web_url: str | None
    forge: str | None


class GitConnector:
    """Ingests a local git repository: commits and changes first, then text at HEAD.

    Cursor: {"last_commit": sha of the newest commit ingested, "tree_head": HEAD whose file
    list was last stored, "content_head": HEAD whose content was last ingested, "files":
    {path: blob sha} of the files read at that HEAD}.
    """

    kind: ClassVar[str] = "git"

    def __init__(self, source: SourceConfig, settings: Settings) -> None:
        self.source = source
        self.settings = settings
        self.path = Path(source.location).expanduser()
        self.history_only = bool(source.options.get("history_only", False))
        # History alone is cheap to redo: bigger batches, fewer commits of the transaction.
        self.default_batch = 5000 if self.history_only else 500
        self._prefetched: LogStream | None = None

    def prefetch(self, cursor: dict[str, Any]) -> None:
        """Start `git log` from `cursor` now, so git reads history while kb loads its store.

        `load` uses it when handed the same cursor. Errors are left for `load` to report.
        """
        if self._prefetched is None and self.path.is_dir():
            with contextlib.suppress(OSError):
                self._prefetched = start_log(self.path, cursor.get("last_commit"))

    def _open(self) -> RepoFacts:
        """Open and validate the repository (GitPython), read HEAD, its branch and remote.

        GitPython reads `.git` itself: no git process is started for this.
        """
        import git as gitpython

        if not self.path.exists():
            raise SourceError(f"{self.path}: no such directory")
        try:
            repo = gitpython.Repo(self.path)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
            raise SourceError(f"{self.path} is not a git repository ({exc!r})") from exc
        try:
            if repo.bare:
                raise SourceError(f"{self.path} is a bare repository; kb needs a work tree")
            try:
                # The sha HEAD points to, read from the refs: no object is loaded.
                head: str | None = gitpython.SymbolicReference.dereference_recursive(repo, "HEAD")
            except ValueError:
                head = None  # an empty repository: no commit yet
            branch = None
            if head and not repo.head.is_detached:
                branch = repo.head.reference.name
            remote = None
            with contextlib.suppress(ValueError, IndexError, AttributeError):
                remote = repo.remote("origin").url or None
        finally:
            repo.close()
        web_url = self.source.options.get("web_url") or web_url_of_remote(remote)
        forge = forge_of(web_url, self.source.options.get("forge")) if web_url else None
        return RepoFacts(head, branch, remote, web_url, forge)

    def _take_prefetched(self) -> LogStream | None:
        stream, self._prefetched = self._prefetched, None
        return stream

    def load(self, cursor: dict[str, Any]) -> Iterator[Record]:
        """Yield the repo, its new commits, then its changed content at HEAD."""
        facts = self._open()
        head = facts.head
        repo = self.source.name
        yield RepoRecord(
            name=repo,
            location=str(self.path.resolve()),
            remote_url=facts.remote,
            web_url=facts.web_url,
            forge=facts.forge,
            default_branch=facts.branch,
            head_commit=head,
        )
        if head is None:
            yield Checkpoint({**cursor})
            return
        state = dict(cursor)
        for record in load_history(
            self.path,
            repo,
            since=state.get("last_commit"),
            with_text=not self.history_only,
            batch_size=int(self.source.options.get("batch_size") or self.default_batch),
            prefetched=self._take_prefetched(),
        ):
            if isinstance(record, Checkpoint):
                state.update(record.cursor)
                yield Checkpoint(dict(state))
            else:
                yield record
        if state.get("tree_head") != head:
            # The file list at HEAD, in both modes: knowledge-risk analyses need it.
            yield RepoTreeRecord(repo=repo, head=head, files=head_tree(self.path, head))
            state["tree_head"] = head
            yield Checkpoint(dict(state))
        if self.history_only:
            return
        # Imported here: the parsers of docs, code and contracts are no part of a
        # --history-only run, which is the quick bus-factor path.
        from connectors.git.content import load_content

        for record in load_content(
            self.path,
            repo,
            head=head,
            previous=state if state.get("content_head") else None,
            max_file_bytes=self.settings.max_file_bytes,
            options=self.source.options,
            map_extraction=self.settings.map_extraction,
        ):
            if isinstance(record, Checkpoint):
                state.update(record.cursor)
                yield Checkpoint(dict(state))
            else:
                yield record
