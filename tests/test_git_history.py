"""The history half of the git connector, on real repositories built in tmp_path."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from gitrepo import ALICE, GIT_ENV, T0, Repo, build_history_repo
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.git.history import (
    LogStream,
    commit_document,
    explains_something,
    find_tickets,
    git_log_command,
    is_fix,
    load_history,
    parse_log,
    start_log,
)
from connectors.git.people import is_bot_identity
from kb.contract.records import (
    Checkpoint,
    CommitRecord,
    DocumentRecord,
    Failure,
    FileChangeRecord,
    PersonRecord,
    Record,
)
from kb.store.models import ChangeType, DocumentKind

BOB = ("Bob Roe", "bob@example.com")
DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
COPILOT = ("Copilot", "198982749+Copilot@users.noreply.github.com")
SHANNON = ("Claude Shannon", "claude@bell-labs.com")
ZOE = ("Zoë Ünal", "zoe@example.com")


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    # load_history runs git itself, so the process environment must be isolated too.
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def commits(records: Sequence[Record]) -> list[CommitRecord]:
    return [r for r in records if isinstance(r, CommitRecord)]


def subjects(records: Sequence[Record]) -> list[str]:
    return [c.message.partition("\n")[0] for c in commits(records)]


def by_subject(records: Sequence[Record], subject: str) -> CommitRecord:
    (found,) = [c for c in commits(records) if c.message.partition("\n")[0] == subject]
    return found


def failures(records: Sequence[Record]) -> list[Failure]:
    return [r for r in records if isinstance(r, Failure)]


def documents(records: Sequence[Record]) -> dict[str, DocumentRecord]:
    return {r.title: r for r in records if isinstance(r, DocumentRecord)}


def history(
    repo: Repo, since: str | None = None, with_text: bool = True, batch_size: int = 500
) -> list[Record]:
    return list(load_history(repo.path, "shop", since, with_text, batch_size=batch_size))


# -- one rich repository, built once ---------------------------------------------------------

ODD = "odd\nname.txt"
UNICODE = "src/ünïcode ✓/naïve file.py"
SPACED = "docs/read me.md"
FIX_MESSAGE = (
    "fix: retry payment timeouts (SHOP-412)\n\n"
    "During INC-2024-03 the gateway timed out; DATA-101 tracks the backfill.\n"
    "SHOP-412 again, and UTF-8 or SHA-256 are not tickets."
)


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Repo, list[Record], bytes]]:
    """A repository with every case the parser must get right, its records and raw log."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in GIT_ENV.items():
            mp.setenv(key, value)
        repo = Repo(tmp_path_factory.mktemp("rich") / "shop")
        plus_two = datetime(2024, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=2)))
        repo.commit(
            "Initial commit",
            {
                "a.txt": "alpha\n" * 20,
                SPACED: "read me\n",
                UNICODE: "print('hi')\n",
                ODD: "odd\n",
                ".mailmap": "Alice Doe <alice@example.com> al <al@old-laptop>\n",
            },
            when=plus_two,
        )
        repo.commit("Update a", {"a.txt": "alpha\n" * 20 + "beta\n"})
        repo.clock += timedelta(hours=1)
        repo.git("mv", "a.txt", "b.txt")
        repo.commit("Rename a to b")
        repo.commit("Remove old readme", {SPACED: None})
        repo.git("checkout", "-q", "-b", "side")
        repo.commit("Side work", {"side.txt": "side\n"})
        repo.git("checkout", "-q", "main")
        repo.commit("Main work", {"main.txt": "main\n"})
        repo.clock += timedelta(hours=1)
        repo.git("merge", "-q", "--no-ff", "--no-edit", "side")
        repo.commit(FIX_MESSAGE, {"pay.py": "retry = 3\n"})
        repo.commit("Add prefix handling to the debug logger", {"log.py": "x\n"})
        hotfix = repo.commit("Hotfix INC-2024-07 checkout outage", {"pay.py": "retry = 5\n"})
        repo.clock += timedelta(hours=1)
        repo.git("revert", "--no-edit", hotfix)
        repo.commit(
            "Pair on the ledger\n\nCo-authored-by: Bob Roe <bob@example.com>\n"
            "Co-authored-by: Claude <noreply@anthropic.com>",
            {"ledger.py": "ledger\n"},
        )
        repo.commit("Use a queue instead of HTTP calls", {"queue.py": "q\n"})
        repo.commit(
            "Bump requests from 2.31.0 to 2.32.0\n\n"
            "Bumps [requests](https://github.com/psf/requests) from 2.31.0 to 2.32.0.\n"
            "- [Release notes](https://github.com/psf/requests/releases)\n\n"
            "Signed-off-by: dependabot[bot] <support@github.com>",
            {"requirements.txt": "requests==2.32.0\n"},
            author=DEPENDABOT,
        )
        repo.commit("Add information theory notes", {"notes.md": "bits\n"}, author=SHANNON)
        repo.commit("Support crème brûlée orders", {"menu.txt": "brûlée\n"}, author=ZOE)
        repo.commit("wip", {"notes.md": "bits and bytes\n"})
        repo.commit("fix typo", {"notes.md": "bits and bites\n"})
        repo.commit(
            "Weekend tweak", {"notes.md": "nibbles\n"}, author=("Alice Doe", "alice@home.dev")
        )
        repo.commit("Laptop commit", {"laptop.txt": "l\n"}, author=("al", "al@old-laptop"))
        repo.commit("Add tests for ledger", {"test_ledger.py": "t\n"}, author=COPILOT)
        repo.commit(
            "Refactor retries\n\nThe client retried non-idempotent POSTs, which double-charged "
            "customers whenever the gateway timed out.\n\nSigned-off-by: Alice Doe "
            "<alice@example.com>",
            {"pay.py": "retry = 1\n"},
        )
        records = list(load_history(repo.path, "shop", None, True))
        raw = subprocess.run(
            git_log_command(repo.path, "HEAD"), capture_output=True, check=True
        ).stdout
        yield repo, records, raw


def test_commits_come_oldest_first_with_utc_times(rich: tuple[Repo, list[Record], bytes]) -> None:
    repo, records, _ = rich
    assert subjects(records)[:5] == [
        "Initial commit",
        "Update a",
        "Rename a to b",
        "Remove old readme",
        "Side work",
    ]
    assert subjects(records)[-1] == "Refactor retries"
    assert len(commits(records)) == int(repo.git("rev-list", "--count", "HEAD"))
    first = commits(records)[0]
    # Committed at 11:00 +02:00: stored as 09:00 UTC, timezone-aware.
    assert first.authored_at == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    assert first.authored_at.utcoffset() == timedelta(0)
    assert first.committed_at == first.authored_at
    assert first.parents == ()
    assert (first.committer_name, first.committer_email) == ALICE
    assert all(c.repo == "shop" for c in commits(records))
    assert not failures(records)


def test_add_modify_rename_delete_with_odd_paths(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    initial = by_subject(records, "Initial commit")
    assert sorted(c.path for c in initial.changes) == sorted(
        [".mailmap", "a.txt", SPACED, UNICODE, ODD]
    )
    assert {c.change_type for c in initial.changes} == {ChangeType.ADD}
    assert by_subject(records, "Update a").changes == [FileChangeRecord(ChangeType.MODIFY, "a.txt")]
    assert by_subject(records, "Rename a to b").changes == [
        FileChangeRecord(ChangeType.RENAME, "b.txt", "a.txt")
    ]
    assert by_subject(records, "Remove old readme").changes == [
        FileChangeRecord(ChangeType.DELETE, SPACED)
    ]


def test_merge_is_flagged_and_has_no_changes(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    merge = by_subject(records, "Merge branch 'side'")
    assert merge.is_merge
    assert len(merge.parents) == 2
    assert merge.changes == []
    assert by_subject(records, "Side work").sha in merge.parents
    assert not by_subject(records, "Main work").is_merge


def test_fix_revert_and_ticket_classification(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    fix = by_subject(records, "fix: retry payment timeouts (SHOP-412)")
    assert fix.is_fix and not fix.is_revert
    assert fix.tickets == ("SHOP-412", "INC-2024-03", "DATA-101")
    hotfix = by_subject(records, "Hotfix INC-2024-07 checkout outage")
    assert hotfix.is_fix
    assert hotfix.tickets == ("INC-2024-07",)
    revert = by_subject(records, 'Revert "Hotfix INC-2024-07 checkout outage"')
    assert revert.is_revert
    assert f"This reverts commit {hotfix.sha}" in revert.message
    # "prefix" and "debug" contain fix/bug but are not fixes.
    plain = by_subject(records, "Add prefix handling to the debug logger")
    assert not plain.is_fix and not plain.is_revert and plain.tickets == ()


def test_co_authors_become_people(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    pair = by_subject(records, "Pair on the ledger")
    assert pair.co_authors == (BOB, ("Claude", "noreply@anthropic.com"))
    people = {p.emails: p for p in records if isinstance(p, PersonRecord)}
    assert people[("bob@example.com",)].name == "Bob Roe"
    assert not people[("bob@example.com",)].is_bot
    assert people[("noreply@anthropic.com",)].is_bot
    assert people[("bob@example.com",)].seen_at == pair.authored_at


def test_non_ascii_names_and_messages(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    menu = by_subject(records, "Support crème brûlée orders")
    assert (menu.author_name, menu.author_email) == ZOE


def test_mailmap_is_respected(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    laptop = by_subject(records, "Laptop commit")
    assert (laptop.author_name, laptop.author_email) == ALICE
    emails = {e for p in records if isinstance(p, PersonRecord) for e in p.emails}
    assert "al@old-laptop" not in emails


def test_user_config_does_not_change_the_result(
    rich: tuple[Repo, list[Record], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, records, _ = rich
    # Settings a user might have that would change what `git log` prints.
    config = {
        "log.mailmap": "false",
        "diff.renames": "false",
        "diff.relative": "true",
        "log.showRoot": "false",
        "color.ui": "always",
        "i18n.logOutputEncoding": "ISO-8859-1",
    }
    monkeypatch.setenv("GIT_CONFIG_COUNT", str(len(config)))
    for i, (key, value) in enumerate(config.items()):
        monkeypatch.setenv(f"GIT_CONFIG_KEY_{i}", key)
        monkeypatch.setenv(f"GIT_CONFIG_VALUE_{i}", value)
    assert history(repo) == records


def test_bots_and_agents_flagged_but_not_namesake_humans(
    rich: tuple[Repo, list[Record], bytes],
) -> None:
    _, records, _ = rich
    bot_of = {p.name: p.is_bot for p in records if isinstance(p, PersonRecord)}
    assert bot_of["dependabot[bot]"] is True
    assert bot_of["Copilot"] is True
    assert bot_of["Claude"] is True
    assert bot_of["Claude Shannon"] is False
    assert bot_of["Alice Doe"] is False


@pytest.mark.parametrize(
    ("name", "email", "bot"),
    [
        ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", True),
        ("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com", True),
        ("Renovate Bot", "bot@renovateapp.com", True),
        ("github-actions", "41898282+github-actions[bot]@users.noreply.github.com", True),
        ("snyk-bot", "snyk-bot@snyk.io", True),
        ("greenkeeper[bot]", "greenkeeper[bot]@users.noreply.github.com", True),
        ("Copilot", "198982749+Copilot@users.noreply.github.com", True),
        ("Claude", "noreply@anthropic.com", True),
        ("devin-ai-integration[bot]", "1+devin-ai-integration[bot]@users.noreply.github.com", True),
        ("Codex", "codex@openai.com", True),
        ("Claude Shannon", "claude@bell-labs.com", False),
        ("Claude", "claude.monet@example.com", False),
        ("Devin Booker", "devin@example.com", False),
        ("Devin", "devin@shopfast.io", False),
        ("Jan Bot", "jan.bot@example.nl", False),
        ("Alice", "12345+alice@users.noreply.github.com", False),
    ],
)  # fmt: skip
def test_is_bot_identity(name: str, email: str, bot: bool) -> None:
    assert is_bot_identity(name, email) is bot


def test_one_person_two_emails_gives_two_identities(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    alice = {p.emails for p in records if isinstance(p, PersonRecord) and p.name == "Alice Doe"}
    assert alice == {("alice@example.com",), ("alice@home.dev",)}


def test_explanatory_commits_become_documents(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, _ = rich
    docs = documents(records)
    assert set(docs) == {
        "fix: retry payment timeouts (SHOP-412)",  # a body, and a fix with tickets
        "Hotfix INC-2024-07 checkout outage",  # a fix naming an incident
        'Revert "Hotfix INC-2024-07 checkout outage"',  # a revert
        "Use a queue instead of HTTP calls",  # says why in the subject
        "Refactor retries",  # a body of substance
    }
    fix = by_subject(records, "fix: retry payment timeouts (SHOP-412)")
    doc = docs[fix.message.partition("\n")[0]]
    assert doc == commit_document(fix)
    assert doc.external_id == f"git:shop:commit:{fix.sha}"
    assert doc.kind is DocumentKind.COMMIT
    assert doc.body == FIX_MESSAGE
    assert (doc.repo, doc.commit_sha, doc.created_at) == ("shop", fix.sha, fix.authored_at)
    assert (doc.author_name, doc.author_email) == ALICE
    assert doc.meta == {
        "tickets": ["SHOP-412", "INC-2024-03", "DATA-101"],
        "is_revert": False,
        "is_fix": True,
    }


def test_history_only_yields_no_documents(rich: tuple[Repo, list[Record], bytes]) -> None:
    repo, records, _ = rich
    bare = history(repo, with_text=False)
    assert not [r for r in bare if isinstance(r, DocumentRecord)]
    assert [c.sha for c in commits(bare)] == [c.sha for c in commits(records)]


# -- cursors, rewritten and truncated history ------------------------------------------------


def test_checkpoints_close_batches_and_carry_first_and_last_sighting(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    # Author dates out of order inside the first batch: earliest is the 2nd, latest the 3rd.
    shas = [
        repo.commit("one", when=T0 + timedelta(days=2)),
        repo.commit("two", when=T0 + timedelta(days=1)),
        repo.commit("three", when=T0 + timedelta(days=3)),
    ]
    shas += [repo.commit(f"c{i}", when=T0 + timedelta(days=3 + i)) for i in range(1, 5)]
    records = history(repo, batch_size=3)
    checkpoints = [(i, r.cursor) for i, r in enumerate(records) if isinstance(r, Checkpoint)]
    assert [cursor for _, cursor in checkpoints] == [
        {"last_commit": shas[2]},
        {"last_commit": shas[5]},
        {"last_commit": shas[6]},
    ]
    assert checkpoints[-1][0] == len(records) - 1
    first_batch = records[: checkpoints[0][0]]
    assert [c.sha for c in commits(first_batch)] == shas[:3]
    seen = sorted(p.seen_at for p in first_batch if isinstance(p, PersonRecord) and p.seen_at)
    assert seen == [T0 + timedelta(days=d) for d in (1, 2, 3)]
    # Later batches only report what widens the span: each batch's latest time.
    later = [p.seen_at for p in records[checkpoints[0][0] :] if isinstance(p, PersonRecord)]
    assert later == [T0 + timedelta(days=6), T0 + timedelta(days=7)]


def test_since_yields_only_newer_commits(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    for i in range(3):
        repo.commit(f"old {i}")
    since = repo.head()
    new = [repo.commit("new 1"), repo.commit("new 2")]
    records = history(repo, since=since)
    assert [c.sha for c in commits(records)] == new
    assert not failures(records)
    assert records[-1] == Checkpoint({"last_commit": new[-1]})
    # Nothing new: no commits, the cursor stays.
    again = history(repo, since=new[-1])
    assert commits(again) == []
    assert again[-1] == Checkpoint({"last_commit": new[-1]})


def test_rewritten_history_reports_and_rescans(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit("one")
    repo.commit("two")
    stale = repo.commit("three")
    repo.git("commit", "-q", "--amend", "--allow-empty", "-m", "three, amended")
    records = history(repo, since=stale)
    (problem,) = failures(records)
    assert problem.where == "shop"
    assert "not an ancestor" in problem.message or "no longer an ancestor" in problem.message
    assert "re-scanning" in problem.message
    assert subjects(records) == ["one", "two", "three, amended"]
    unknown = history(repo, since="0123456789abcdef0123456789abcdef01234567")
    assert len(failures(unknown)) == 1 and "unknown" in failures(unknown)[0].message
    assert len(commits(unknown)) == 3


def test_shallow_clone_reports_truncation(tmp_path: Path) -> None:
    origin = Repo(tmp_path / "origin")
    for i in range(6):
        origin.commit(f"commit {i}", {"f.txt": f"{i}\n"})
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "3", f"file://{origin.path}", str(clone)],
        env={**os.environ, **GIT_ENV},
        check=True,
    )
    records = list(load_history(clone, "shop", None, False))
    (problem,) = failures(records)
    assert "shallow" in problem.message and "truncated" in problem.message
    assert subjects(records) == ["commit 3", "commit 4", "commit 5"]
    assert commits(records)[0].parents == ()  # the graft point


def test_empty_repository_yields_nothing(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "empty")
    assert history(repo) == []


# -- encodings and damaged output ------------------------------------------------------------


def test_non_utf8_messages_do_not_crash(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    # Declared latin-1: git re-encodes it to UTF-8 for us.
    msg = tmp_path / "msg"
    msg.write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    repo.git(
        "-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "--allow-empty", "-F", str(msg)
    )
    # Undeclared latin-1 bytes and a bogus encoding header, written as raw objects
    # (`git commit` would fix the bytes up): decoded with replacement characters.
    tree = repo.git("write-tree")

    def raw_commit(parent: str, header: bytes, message: bytes) -> str:
        obj = (
            f"tree {tree}\nparent {parent}\n"
            "author Alice Doe <alice@example.com> 1704103200 +0000\n"
            "committer Alice Doe <alice@example.com> 1704103200 +0000\n"
        ).encode()
        return repo.git(
            "hash-object", "-t", "commit", "-w", "--stdin", stdin=obj + header + b"\n" + message
        )

    undeclared = raw_commit(repo.head(), b"", b"Na\xefve bytes\n")
    bogus = raw_commit(undeclared, b"encoding no-such-charset\n", b"Bogus \xff\xfe charset\n")
    repo.git("update-ref", "HEAD", bogus)
    records = history(repo)
    assert not failures(records)
    messages = [c.message for c in commits(records)]
    assert messages[0] == "Café crème"
    assert messages[1] == "Na\ufffdve bytes"
    assert messages[2].startswith("Bogus ") and "\ufffd" in messages[2]


def test_malformed_entry_is_reported_and_skipped(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, records, raw = rich
    good = commits(records)
    victim = good[1].sha.encode()
    # Corrupt the second commit's author timestamp.
    at = raw.index(victim)
    fields = raw[at:].split(b"\x1f", 5)
    damaged = raw[:at] + b"\x1f".join([*fields[:4], b"not-a-time", fields[5]])
    out = list(parse_log([damaged], "shop"))
    (problem,) = failures(out)
    assert problem.where == f"shop: commit {good[1].sha}"
    assert [c.sha for c in commits(out)] == [c.sha for c in good if c is not good[1]]


def test_parse_log_is_independent_of_chunking(rich: tuple[Repo, list[Record], bytes]) -> None:
    _, _, raw = rich
    whole = list(parse_log([raw], "shop"))
    by_byte = list(parse_log([raw[i : i + 1] for i in range(len(raw))], "shop"))
    assert whole == by_byte
    assert len(whole) == len(commits(whole)) > 20


_TOKENS = st.sampled_from(
    [b"\0", b"\x1e", b"\x1f", b"\x1d", b"\n", b"\0\x1e", b"R100", b"C75", b"M", b"A", b"D",
     b"X", b"a" * 40, b"b" * 40 + b" " + b"c" * 40, b"1704103200", b"-1", b"99999999999999999",
     b"\xff\xfe", "é".encode(), b"Co-authored-by: X <x@y>", b"SHOP-1"]
)  # fmt: skip
_FRAGMENTS = st.lists(st.one_of(_TOKENS, st.binary(max_size=16)), max_size=40).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=64), _FRAGMENTS), max_size=6))
def test_parse_log_never_raises_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    for item in parse_log(chunks, "r"):
        assert isinstance(item, CommitRecord | Failure)


@settings(max_examples=200, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 2), st.binary(max_size=3)),
        max_size=6,
    ),
    chunk=st.integers(1, 512),
)
def test_parse_log_survives_mutated_real_output(
    rich: tuple[Repo, list[Record], bytes], edits: list[tuple[float, int, bytes]], chunk: int
) -> None:
    _, _, raw = rich
    data = bytearray(raw)
    for where, op, blob in edits:
        at = int(where * len(data)) if data else 0
        if op == 0:
            data[at : at + 1] = blob  # replace one byte
        elif op == 1:
            data[at:at] = blob  # insert
        else:
            del data[at : at + len(blob) + 1]
    out = list(parse_log([bytes(data[i : i + chunk]) for i in range(0, len(data), chunk)], "r"))
    for item in out:
        assert isinstance(item, CommitRecord | Failure)
        if isinstance(item, CommitRecord):
            assert len(item.sha) == 40 and item.authored_at.tzinfo is not None
    if not edits:
        assert len(commits(out)) == len(commits(list(parse_log([raw], "r"))))


@pytest.mark.parametrize(
    ("message", "parents", "explains"),
    [
        ("Bump timeout to 30s because Stripe p99 is 25s", 1, True),
        ("chore(deps): bump lodash from 4.17.20 to 4.17.21 in /web\n\n" + "Bumps. " * 9, 1, False),
        ("fix typo\n\nThe word receive was misspelt in three places of the guide.", 1, False),
        ("Fix login loop (SHOP-9)", 1, True),
        ("Fix login loop", 1, False),
        ("Add endpoint\n\nSigned-off-by: A <a@x>\nChange-Id: I0123456789", 1, False),
        ("Add endpoint\n\nClients poll it so that the UI can show progress.", 1, True),
        ("Merge branch 'main' into feature", 2, False),
        ("Merge pull request #12 from a/retries\n\nAdd retries to the payment client", 2, False),
        (
            "Merge pull request #12 from a/retries\n\nAdd retries\n\n"
            "Payments time out under load; we retry idempotent calls only.",
            2,
            True,
        ),
    ],
)  # fmt: skip
def test_which_commits_explain_something(message: str, parents: int, explains: bool) -> None:
    subject = message.partition("\n")[0]
    commit = CommitRecord(
        repo="r", sha="a" * 40, parents=("b" * 40,) * parents, author_name="A",
        author_email="a@x", authored_at=T0, committer_name=None, committer_email=None,
        committed_at=None, message=message, is_merge=parents > 1,
        is_fix=is_fix(subject), tickets=find_tickets(message),
    )  # fmt: skip
    assert explains_something(commit) is explains


def test_find_tickets_skips_standards() -> None:
    assert find_tickets("SHOP-412 UTF-8 ISO-8859-1 INC-2024-03 SHOP-412 x-1") == (
        "SHOP-412",
        "INC-2024-03",
    )


# -- reading ahead ---------------------------------------------------------------------------


def _linear_repo(path: Path, commits: int) -> Repo:
    repo = Repo(path)
    for i in range(commits):
        repo.commit(f"change {i}", {f"f{i % 7}.py": f"{i}\n"}, ALICE if i % 2 else BOB)
    return repo


def _commits(records: Sequence[Record]) -> list[str]:
    return [r.sha for r in records if isinstance(r, CommitRecord)]


def test_a_prefetched_log_is_read_when_it_covers_the_run(tmp_path: Path) -> None:
    repo = _linear_repo(tmp_path / "r", 12)
    expected = history(repo, batch_size=5)
    stream = start_log(repo.path, None)
    assert stream is not None
    records = list(load_history(repo.path, "shop", None, True, batch_size=5, prefetched=stream))
    assert records == expected
    assert stream._proc.returncode == 0  # git ran to its end and was waited for


def test_a_prefetched_log_for_another_cursor_is_stopped_not_read(tmp_path: Path) -> None:
    repo = _linear_repo(tmp_path / "r", 12)
    shas = _commits(history(repo))
    stream = start_log(repo.path, None)  # the whole history, but the run resumes at #5
    assert stream is not None
    records = list(load_history(repo.path, "shop", shas[4], False, prefetched=stream))
    assert _commits(records) == shas[5:]
    assert stream._proc.returncode is not None  # not left running


def test_git_is_stopped_when_the_reader_gives_up_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ~1 MB of log against one block of read-ahead: git is still writing when we stop.
    path = build_history_repo(tmp_path / "big", 3000)
    monkeypatch.setattr(LogStream, "READ_AHEAD_CHUNKS", 1)
    stream = LogStream(path, "HEAD")
    records = load_history(path, "shop", None, False, prefetched=stream)
    first = next(r for r in records if isinstance(r, CommitRecord))
    assert first.message.startswith("SHOP-100: rework module 0")
    records.close()  # the consumer stops: the generator's finally stops git
    assert stream._proc.returncode is not None and stream._proc.returncode < 0  # killed
    assert not stream._pump.is_alive()


def test_nothing_to_prefetch_in_an_empty_repository(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "empty")
    assert start_log(repo.path, None) is None
