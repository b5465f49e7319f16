"""The history half of the git connector: commits, file changes and people, oldest first.

Everything comes from one streaming `git log --name-status --find-renames -z` pass, parsed
by `parse_log`, a pure function over the raw bytes (so it can be fed anything in tests).
"""

from __future__ import annotations

import contextlib
import io
import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from connectors.git.people import is_bot_identity
from kb.contract.kinds import ChangeType, DocumentKind
from kb.contract.records import (
    Checkpoint,
    CommitRecord,
    DocumentRecord,
    Failure,
    FileChangeRecord,
    PersonRecord,
    Record,
)

BATCH_SIZE = 500
"""Commits per batch: a Checkpoint follows every BATCH_SIZE commits."""

_READ_SIZE = 1 << 16

# One commit is: RS, eight US-separated header fields, the raw message, GS, then (from
# -z) a NUL; if files changed, "\n" and NUL-terminated name-status fields follow. The
# message goes last so a stray US inside it cannot shift the other fields, and no
# message or path can contain NUL, so "NUL RS" is an unambiguous commit boundary.
LOG_FORMAT = "%x1e%H%x1f%P%x1f%aN%x1f%aE%x1f%at%x1f%cN%x1f%cE%x1f%ct%x1f%B%x1d"
_BOUNDARY = b"\0\x1e"
_HEADER_FIELDS = 9

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_PARENTS = re.compile(r"(?:[0-9a-f]{40}(?:[0-9a-f]{24})?(?: |$))*")
_HEX = re.compile(r"[0-9a-fA-F]{4,64}")

_SIMPLE_CHANGES = {
    "A": ChangeType.ADD,
    "M": ChangeType.MODIFY,
    "T": ChangeType.MODIFY,  # type change (file <-> symlink): still a modification
    "D": ChangeType.DELETE,
}

_FIX_SUBJECT = re.compile(
    r"\b(?:fix(?:e[sd]|ing)?|bug(?:s|fix(?:es)?)?|hotfix(?:es)?|regressions?|patch(?:e[sd])?"
    r"|incidents?)\b|\bINC-\d",
    re.IGNORECASE,
)
_TICKET = re.compile(r"\b([A-Z][A-Z0-9]{1,14}-\d+(?:-\d+)?)\b")
# Upper-case "WORD-123" tokens that are standards and versions, not tickets.
_NOT_TICKETS = frozenset(
    {
        "UTF", "UCS", "ISO", "SHA", "MD", "AES", "RSA", "DES", "HTTP", "HTTPS", "TLS", "SSL",
        "TCP", "UDP", "IPV", "GPT", "COVID", "X86", "CP", "WIN", "ECMA", "ES", "PEP", "ASCII",
    }
)  # fmt: skip
_CO_AUTHOR = re.compile(
    r"^co-authored-by:[ \t]*(.*?)[ \t]*<([^<>\n]*)>[ \t]*$", re.IGNORECASE | re.MULTILINE
)

# Commits that never explain anything, whatever their body says.
_TRIVIAL_SUBJECT = re.compile(
    r"(?:[a-z]+(?:\([^)]*\))?!?:\s*)?"  # an optional conventional-commit prefix
    # "Bump x from 1 to 2" and "bump version to 2.1", but not "Bump timeout to 30s because…"
    r"(?:wip\b|fixup!|squash!|amend!|bump\s+\S+(?:\s+from\s+\S+)?\s+to\s+\S+(?:\s+in\s+\S+)?\s*$"
    r"|update dependency\b"
    r"|(?:fix(?:e[sd])?\s+)?typos?\b|(?:fix\s+)?(?:lint|formatting|whitespace)\b|format\b"
    r"|reformat\b)",
    re.IGNORECASE,
)
_DEFAULT_MERGE = re.compile(
    r"merge (?:branch|remote-tracking branch|pull request|tag|commit|changes)\b", re.IGNORECASE
)
_EXPLAINS = re.compile(
    r"\b(?:because|so that|since|due to|instead of|in order to|to avoid|to prevent)\b",
    re.IGNORECASE,
)
_TRAILER = re.compile(r"[A-Za-z][A-Za-z0-9-]*:\s")
_ALWAYS_TRAILER = re.compile(
    r"(?:signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|reported-by|cc"
    r"|change-id):|\(cherry picked from commit ",
    re.IGNORECASE,
)
_MIN_BODY_WORDS = 5
_MIN_BODY_CHARS = 30


def git_log_command(repo_path: Path, rev_range: str) -> list[str]:
    """The one `git log` invocation whose output `parse_log` reads."""
    return [
        "git",
        "-C",
        str(repo_path),
        # Find renames in commits of any size, as the truck-factor reference tool does
        # (git's default limit turns a large move into deletes and adds).
        "-c",
        "diff.renameLimit=999999",
        "log",
        # Parents before children, oldest first: a checkpoint at sha X then means every
        # ancestor of X is stored, which is what `X..HEAD` on the next run assumes.
        "--reverse",
        "--date-order",
        "--use-mailmap",
        "--encoding=UTF-8",
        "--name-status",
        "--find-renames",
        "--root",
        "-z",
        f"--format={LOG_FORMAT}",
        # Neutralise user config that would change the bytes we parse.
        "--no-color",
        "--no-show-signature",
        "--no-relative",
        rev_range,
        "--",
    ]


def _timestamp(raw: str) -> datetime:
    return datetime.fromtimestamp(int(raw), UTC)


def is_revert(subject: str, message: str) -> bool:
    """Whether a commit reverts another (git's default revert message, or `revert:`)."""
    return (
        subject.startswith('Revert "')
        or "This reverts commit" in message
        or subject[:7].lower() in ("revert:", "revert(")
    )


def is_fix(subject: str) -> bool:
    """Whether a commit's subject says it fixes something (fix, bug, hotfix, INC-…)."""
    return _FIX_SUBJECT.search(subject) is not None


def find_tickets(message: str) -> tuple[str, ...]:
    """Ticket ids (SHOP-412, INC-2024-03) a message mentions, first mention first."""
    found = _TICKET.findall(message)
    if not found:
        return ()
    return tuple(dict.fromkeys(t for t in found if t.split("-", 1)[0] not in _NOT_TICKETS))


def find_co_authors(message: str) -> tuple[tuple[str, str], ...]:
    """(name, email) of each `Co-authored-by:` trailer, once each."""
    if "-by:" not in message and "-BY:" not in message.upper():
        return ()
    pairs = [(n.strip(), e.strip()) for n, e in _CO_AUTHOR.findall(message)]
    return tuple(dict.fromkeys(p for p in pairs if p[0] or p[1]))


def _parse_changes(raw: str, problems: list[str]) -> list[FileChangeRecord]:
    # raw: "\n" + NUL-separated "STATUS\0path" or "R100\0old\0new" fields.
    if not raw:
        return []
    if raw[0] != "\n":
        problems.append("unexpected bytes after the message")
        return []
    fields = raw[1:].split("\0")
    if fields and not fields[-1]:
        fields.pop()
    changes: list[FileChangeRecord] = []
    add = changes.append
    simple = _SIMPLE_CHANGES
    i, n = 0, len(fields)
    while i < n:
        status = fields[i]
        kind = simple.get(status)
        if kind is not None and i + 1 < n and fields[i + 1]:
            add(FileChangeRecord(kind, fields[i + 1]))
            i += 2
            continue
        letter = status[:1]
        if letter in ("R", "C") and status[1:].isdigit() and i + 2 < n and fields[i + 2]:
            kind = ChangeType.RENAME if letter == "R" else ChangeType.COPY
            add(FileChangeRecord(kind, fields[i + 2], fields[i + 1]))
            i += 3
            continue
        problems.append(f"unreadable file-change status {status[:16]!r}; later changes skipped")
        break
    return changes


def _parse_entry(raw: bytes, repo: str, position: int) -> Iterator[CommitRecord | Failure]:
    # One decode per commit: the separators are ASCII, so splitting the text is safe.
    entry = raw.decode("utf-8", "replace")
    head, _, rest = entry.partition("\0")
    fields = head[:-1].split("\x1f", _HEADER_FIELDS - 1)
    sha = fields[0] if _SHA.fullmatch(fields[0]) else ""
    where = f"{repo}: commit {sha}" if sha else f"{repo}: git log entry #{position}"
    if not head.endswith("\x1d") or len(fields) != _HEADER_FIELDS or not sha:
        yield Failure(where, "malformed or truncated git log entry; skipped")
        return
    if not _PARENTS.fullmatch(fields[1]):
        yield Failure(where, "unreadable parent list in git log output; skipped")
        return
    try:
        authored_at = _timestamp(fields[4])
        committed_at = _timestamp(fields[7])
    except (ValueError, OverflowError, OSError):
        yield Failure(where, "unreadable author/commit date in git log output; skipped")
        return
    parents = tuple(fields[1].split())
    message = fields[8].rstrip()
    subject = message.partition("\n")[0].strip()
    merge = len(parents) > 1
    problems: list[str] = []
    # git log shows no diff for merges by default; ignore one if config forced it.
    changes = [] if merge else _parse_changes(rest, problems)
    for problem in problems:
        yield Failure(where, problem)
    yield CommitRecord(
        repo=repo,
        sha=sha,
        parents=parents,
        author_name=fields[2],
        author_email=fields[3],
        authored_at=authored_at,
        committer_name=fields[5] or None,
        committer_email=fields[6] or None,
        committed_at=committed_at,
        message=message,
        is_merge=merge,
        is_revert=is_revert(subject, message),
        is_fix=is_fix(subject),
        co_authors=find_co_authors(message),
        tickets=find_tickets(message),
        changes=changes,
    )


def _chunks(stream: Iterable[bytes] | BinaryIO) -> Iterator[bytes]:
    # A file is read in blocks (iterating it would split on "\n", which means nothing here).
    read = getattr(stream, "read1", None) or getattr(stream, "read", None)
    if read is not None:
        yield from iter(lambda: read(_READ_SIZE), b"")
    else:
        yield from stream


def parse_log(
    stream: Iterable[bytes] | BinaryIO, repo: str = ""
) -> Iterator[CommitRecord | Failure]:
    """Commits parsed from `git log` output in LOG_FORMAT; bad entries become Failures."""
    # A virtual NUL in front makes the first commit's RS a boundary like all the others;
    # anything before it is junk.
    buf = bytearray(b"\0")
    position = 0
    for chunk in _chunks(stream):
        if not chunk:
            continue
        # Only look at the new bytes (and the one before, for a boundary split across
        # two chunks), so a huge commit arriving in many chunks costs linear time.
        start = len(buf) - 1
        buf += chunk
        if buf.find(_BOUNDARY, start) < 0:
            continue
        parts = bytes(buf).split(_BOUNDARY)
        buf = bytearray(parts.pop())
        for part in parts:
            yield from _parse_part(part, repo, position)
            position += 1
    tail = bytes(buf)
    if tail not in (b"", b"\0"):
        yield from _parse_part(tail, repo, position)


def _parse_part(part: bytes, repo: str, position: int) -> Iterator[CommitRecord | Failure]:
    if position == 0:
        # Bytes before the first commit: none in real output (empty) or junk.
        if part and part != b"\0":
            yield Failure(
                f"{repo}: git log output start", "unexpected bytes before the first commit"
            )
        return
    yield from _parse_entry(part, repo, position)


def _message_body(message: str, is_merge: bool) -> str:
    # The explanatory text: lines after the subject minus trailers (Signed-off-by & co).
    paragraphs = message.strip().split("\n\n")
    body = paragraphs[1:]
    if body and all(_TRAILER.match(line) for line in body[-1].splitlines()):
        body.pop()
    lines = [ln for p in body for ln in p.splitlines() if not _ALWAYS_TRAILER.match(ln)]
    if is_merge and lines:
        lines.pop(0)  # GitHub's merge body starts with the pull request's title
    return "\n".join(lines).strip()


def explains_something(commit: CommitRecord) -> bool:
    """Whether a commit message is worth keeping as a document (it says why, not just what)."""
    subject = commit.message.partition("\n")[0].strip()
    if commit.is_revert:
        return True
    if _TRIVIAL_SUBJECT.match(subject):
        return False
    merge_default = commit.is_merge and _DEFAULT_MERGE.match(subject) is not None
    body = _message_body(commit.message, merge_default)
    if len(body) >= _MIN_BODY_CHARS and len(body.split()) >= _MIN_BODY_WORDS:
        return True
    if merge_default:
        return False
    if commit.is_fix and (commit.tickets or "incident" in subject.lower()):
        return True
    return _EXPLAINS.search(subject) is not None


def commit_document(commit: CommitRecord) -> DocumentRecord:
    """The commit message as a searchable document with a stable id."""
    return DocumentRecord(
        external_id=f"git:{commit.repo}:commit:{commit.sha}",
        kind=DocumentKind.COMMIT,
        title=commit.message.partition("\n")[0].strip(),
        body=commit.message.strip(),
        repo=commit.repo,
        commit_sha=commit.sha,
        author_name=commit.author_name,
        author_email=commit.author_email,
        created_at=commit.authored_at,
        meta={
            "tickets": list(commit.tickets),
            "is_revert": commit.is_revert,
            "is_fix": commit.is_fix,
        },
    )


def _git_out(repo_path: Path, *args: str) -> tuple[int, str]:
    res = subprocess.run(["git", "-C", str(repo_path), *args], capture_output=True, check=False)
    return res.returncode, (res.stdout or res.stderr).decode("utf-8", "replace").strip()


def _rev_range(repo_path: Path, repo: str, since: str | None) -> tuple[str, Failure | None]:
    """`since..HEAD` when since is an ancestor of HEAD, else HEAD with a Failure saying why."""
    if not since:
        return "HEAD", None
    if not _HEX.fullmatch(since):
        why = f"the last ingested commit {since!r} is not a commit id"
    else:
        code, out = _git_out(repo_path, "merge-base", "--is-ancestor", since, "HEAD")
        if code == 0:
            return f"{since}..HEAD", None
        if code == 1:
            why = (
                f"the last ingested commit {since[:12]} is no longer an ancestor of HEAD "
                "(history rewritten or force-pushed)"
            )
        else:
            why = f"the last ingested commit {since[:12]} is unknown to this repository ({out})"
    return "HEAD", Failure(repo, f"{why}; re-scanning the whole history (upserts are idempotent)")


class _Sightings:
    """When identities were seen, so the store learns each one's earliest and latest time.

    An identity's PersonRecord comes before its first commit; after that, a batch repeats
    it only with a time that widens the span already reported in this run (earlier
    batches are committed, so the store has those).
    """

    def __init__(self) -> None:
        self.reported: dict[tuple[str, str], list[datetime]] = {}  # [earliest, latest]
        self.batch: dict[tuple[str, str], list[datetime]] = {}  # this batch's [min, max]
        self.bots: dict[tuple[str, str], bool] = {}

    def is_bot(self, name: str, email: str) -> bool:
        key = (name, email)
        bot = self.bots.get(key)
        if bot is None:
            bot = self.bots[key] = is_bot_identity(name, email)
        return bot

    def see(self, name: str, email: str, when: datetime) -> PersonRecord | None:
        """Note a sighting; a PersonRecord when the run meets the identity for the first time."""
        if not name and not email:
            return None  # nobody to attribute it to
        key = (name, email)
        span = self.batch.get(key)
        if span is None:
            self.batch[key] = [when, when]
        elif when < span[0]:
            span[0] = when
        elif when > span[1]:
            span[1] = when
        if key not in self.reported:
            self.reported[key] = [when, when]
            return self._record(name, email, when)
        return None

    def flush(self) -> Iterator[PersonRecord]:
        """Records for sightings that widen what was reported; starts a new batch."""
        for key, (earliest, latest) in self.batch.items():
            known = self.reported[key]
            if earliest < known[0]:
                known[0] = earliest
                yield self._record(*key, earliest)
            if latest > known[1]:
                known[1] = latest
                yield self._record(*key, latest)
        self.batch.clear()

    def _record(self, name: str, email: str, when: datetime) -> PersonRecord:
        return PersonRecord(
            name=name or None,
            emails=(email,) if email else (),
            is_bot=self.is_bot(name, email),
            seen_at=when,
        )


class LogStream:
    """A running `git log` (LOG_FORMAT) whose output a thread reads ahead into memory.

    Started early (see GitConnector.prefetch), git works on another core while the
    pipeline is still loading its database layer; the parser then finds the output waiting.
    At most READ_AHEAD_CHUNKS blocks are held: beyond that git waits, as on a pipe.
    """

    READ_AHEAD_CHUNKS = 256  # x 64 KiB

    def __init__(self, repo_path: Path, rev_range: str) -> None:
        self.rev_range = rev_range
        # stderr goes to a file: a pipe nobody drains could fill and stall git.
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._proc = subprocess.Popen(
            git_log_command(repo_path, rev_range), stdout=subprocess.PIPE, stderr=self._errors
        )
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=self.READ_AHEAD_CHUNKS)
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._read, name="kb-git-log", daemon=True)
        self._pump.start()

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert isinstance(stdout, io.BufferedReader)
        read = stdout.read1  # what is there, without waiting for a full block
        try:
            while not self._stop.is_set() and (chunk := read(_READ_SIZE)):
                self._chunks.put(chunk)
        finally:
            if not self._stop.is_set():  # after a stop nobody reads on, and it could block
                self._chunks.put(b"")  # the end

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._chunks.get():
            yield chunk

    def close(self, stop: bool = True) -> tuple[int, str]:
        """Git's exit code and stderr; `stop` kills it first if it still runs (the reader
        gave up early), else it is waited for (all its output was read)."""
        if stop:
            self._stop.set()
            if self._proc.poll() is None:
                self._proc.kill()
            with contextlib.suppress(queue.Empty):  # unblock a pump waiting on a full queue
                while True:
                    self._chunks.get_nowait()
        self._pump.join()
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        code = self._proc.wait()
        self._errors.seek(0)
        detail = self._errors.read().decode("utf-8", "replace").strip()
        self._errors.close()
        return code, detail


def start_log(repo_path: Path, since: str | None) -> LogStream | None:
    """Start reading the history after `since` (None: all of it); None if there is none."""
    code, head = _git_out(repo_path, "rev-parse", "--verify", "-q", "HEAD")
    if code != 0 or not head:
        return None
    rev_range, _ = _rev_range(repo_path, "", since)
    return LogStream(repo_path, rev_range)


def load_history(
    repo_path: Path,
    repo: str,
    since: str | None,
    with_text: bool,
    batch_size: int = BATCH_SIZE,
    prefetched: LogStream | None = None,
) -> Iterator[Record]:
    """Commits (with changes), their people and, if with_text, explanatory messages.

    `prefetched`: a LogStream started earlier (start_log); used if it reads the range this
    run needs, else stopped.
    """
    code, head = _git_out(repo_path, "rev-parse", "--verify", "-q", "HEAD")
    if code != 0 or not head:
        if prefetched is not None:
            prefetched.close()
        return  # no commit yet: nothing to read
    code, shallow = _git_out(repo_path, "rev-parse", "--is-shallow-repository")
    if code == 0 and shallow == "true":
        yield Failure(
            repo,
            "shallow clone: history is truncated, so authorship and bus factor undercount; "
            "run `git fetch --unshallow` and ingest again for the full history",
        )
    rev_range, problem = _rev_range(repo_path, repo, since)
    if problem is not None:
        yield problem
        since = None
    last = since
    in_batch = 0
    people = _Sightings()
    stream = prefetched if prefetched and prefetched.rev_range == rev_range else None
    if prefetched is not None and stream is None:
        prefetched.close()  # started for another cursor: not this run's history
    if stream is None:
        stream = LogStream(repo_path, rev_range)
    finished = False
    try:
        for item in parse_log(stream, repo):
            if isinstance(item, Failure):
                yield item
                continue
            when = item.authored_at
            person = people.see(item.author_name, item.author_email, when)
            if person is not None:
                yield person
            for name, email in item.co_authors:
                person = people.see(name, email, when)
                if person is not None:
                    yield person
            yield item
            if (
                with_text
                and not people.is_bot(item.author_name, item.author_email)
                and explains_something(item)
            ):
                yield commit_document(item)
            last = item.sha
            in_batch += 1
            if in_batch >= batch_size:
                yield from people.flush()
                yield Checkpoint({"last_commit": last})
                in_batch = 0
        finished = True
    finally:
        # Reached when the consumer stops early too: never leave git running then.
        returncode, detail = stream.close(stop=not finished)
    if returncode != 0:
        yield Failure(
            repo,
            f"git log exited with {returncode}: {detail or 'no message'}; "
            f"history after {last or 'the first commit'} was not read",
        )
    yield from people.flush()
    # The end: the cursor moves to the newest commit read, or stays where it was; an
    # empty cursor still closes the batch (failures, people) when nothing was read.
    yield Checkpoint({"last_commit": last} if last else {})
