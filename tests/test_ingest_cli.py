"""`kb ingest` as a user runs it: incremental runs, bad input, history-only, concurrent reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from gitrepo import GIT_ENV, build_history_repo, git
from sqlalchemy import select

from kb.app import KB
from kb.settings import Settings
from kb.store.models import Commit, Document


def kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return subprocess.run(
        [sys.executable, "-m", "kb.cli", "--home", str(home), *args],
        capture_output=True, text=True, env=env,
    )  # fmt: skip


def ingest_json(home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    res = kb(home, "ingest", *args, "--json")
    assert res.stdout.strip(), res.stderr
    return res.returncode, json.loads(res.stdout)


def commit_all(repo: Path, message: str, when: str) -> None:
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    for args in (["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=Alex Morgan",
             "-c", "user.email=alex@shop.io", *args],
            check=True, env=env, capture_output=True,
        )  # fmt: skip


GUIDE_V1 = """# Runbook

## Payments

Payment is requested with the order.payment_requested event since INC-2024-03.

## Refunds

Refunds go through the ledger; never call the provider directly.
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "order-service"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "docs").mkdir()
    (path / "docs" / "runbook.md").write_text(GUIDE_V1)
    (path / "docs" / "old.md").write_text("# Old\n\nThe legacy sync client notes.\n")
    commit_all(path, "Add runbook", "2024-03-20T10:00:00+00:00")
    return path


def test_incremental_runs_process_only_what_changed(tmp_path: Path, repo: Path) -> None:
    home = tmp_path / "kb"
    code, first = ingest_json(home, "git", str(repo))
    assert code == 0 and first["commits_written"] == 1 and first["documents_written"] >= 2

    code, again = ingest_json(home, "git", str(repo))
    assert code == 0
    assert (again["commits_written"], again["documents_written"], again["texts_embedded"]) == (
        0, 0, 0,
    )  # fmt: skip

    (repo / "docs" / "runbook.md").write_text(
        GUIDE_V1.replace("never call the provider directly", "use the refund queue")
    )
    (repo / "docs" / "old.md").unlink()
    commit_all(repo, "Refunds use the queue; drop old notes", "2024-04-02T10:00:00+00:00")
    code, third = ingest_json(home, "git", str(repo))
    assert code == 0
    assert third["commits_written"] == 1
    assert third["documents_deleted"] >= 1  # old.md is gone
    assert third["texts_embedded"] <= 2  # only the edited section (and the new commit)
    assert third["chunks_deleted"] >= 1

    app = KB(Settings(home=home))
    with app.store.transaction() as s:
        paths = set(s.scalars(select(Document.path)))
        assert "docs/old.md" not in paths and "docs/runbook.md" in paths
        assert len(s.scalars(select(Commit)).all()) == 2
    assert app.vectors.ids() == app.store.all_chunk_ids()
    app.close()


def test_history_only_stores_no_text_and_never_opens_the_vector_store(tmp_path: Path) -> None:
    repo = build_history_repo(tmp_path / "big", commits=300)
    home = tmp_path / "kb"
    code, summary = ingest_json(home, "git", str(repo), "--history-only")
    assert code == 0 and summary["commits_written"] == 300
    assert summary["documents_written"] == 0 and summary["texts_embedded"] == 0
    assert not (home / "chroma").exists()
    status = json.loads(kb(home, "status", "--json").stdout)
    assert status["commits"] == 300 and status["documents"] == 0 and status["file_changes"] > 0


def test_bad_input_is_reported_by_file_and_the_run_goes_on(tmp_path: Path, repo: Path) -> None:
    (repo / "docs" / "latin1.md").write_bytes("# Caf\xe9\n\nna\xefve notes\n".encode("latin-1"))
    (repo / "docs" / "huge.md").write_text("# Huge\n\n" + "x" * 2_000_000)
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (repo / "docs" / "adr").mkdir()
    (repo / "docs" / "adr" / "0001-use-kafka.md").write_text(
        "# 1. Use Kafka\n\nDate: 2024-01-01\n\n## Context\n\nWe need events.\n"
    )
    os.symlink("does/not/exist.md", repo / "docs" / "broken-link.md")
    commit_all(repo, "Add assorted files", "2024-03-21T10:00:00+00:00")

    code, summary = ingest_json(tmp_path / "kb", "git", str(repo))
    assert code == 3 and summary["ok"] is False
    where = " ".join(f["where"] for f in summary["failures"])
    assert "docs/latin1.md" in where
    assert "docs/adr/0001-use-kafka.md" in where
    assert summary["skipped"], summary
    assert sum(summary["skipped"].values()) >= 3  # huge, binary, symlink
    assert summary["documents_written"] >= 2  # the good files still made it

    human = kb(tmp_path / "kb2", "ingest", "git", str(repo))
    assert human.returncode == 3
    assert "docs/latin1.md" in human.stderr and "Traceback" not in human.stderr


def test_sources_that_cannot_be_read_give_one_clear_error(tmp_path: Path) -> None:
    not_repo = tmp_path / "plain"
    not_repo.mkdir()
    res = kb(tmp_path / "kb", "ingest", "git", str(not_repo))
    assert res.returncode == 1 and "not a git repository" in res.stderr
    assert "Traceback" not in res.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    code, summary = ingest_json(tmp_path / "kb", "git", str(empty))
    assert code == 0 and summary["commits_written"] == 0

    missing = kb(tmp_path / "kb", "ingest", "slack-export", str(tmp_path / "nope.zip"))
    assert missing.returncode == 1 and "nope.zip" in missing.stderr


def test_malformed_slack_export_is_reported_by_channel_and_day(tmp_path: Path) -> None:
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as z:
        z.writestr("users.json", json.dumps([{"id": "U1", "name": "alex", "real_name": "Alex"}]))
        z.writestr("channels.json", json.dumps([{"id": "C1", "name": "incidents"}]))
        z.writestr(
            "incidents/2024-03-14.json",
            json.dumps([{"type": "message", "user": "U1", "text": "checkout down",
                         "ts": "1710424920.000100"}]),
        )  # fmt: skip
        z.writestr("incidents/2024-03-15.json", '[{"type": "message", "text": "trunc')
    code, summary = ingest_json(tmp_path / "kb", "slack-export", str(export))
    assert code == 3
    assert any("incidents/2024-03-15.json" in f["where"] for f in summary["failures"])
    assert summary["documents_written"] == 1

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(export.read_bytes()[: len(export.read_bytes()) // 2])
    code, summary = ingest_json(tmp_path / "kb3", "slack-export", str(truncated))
    assert code == 3 and "truncated.zip" in summary["failures"][0]["where"]


def test_readers_never_fail_or_wait_while_an_ingest_writes(tmp_path: Path) -> None:
    repo = build_history_repo(tmp_path / "big", commits=3000, docs_every=100)
    home = tmp_path / "kb"
    assert kb(home, "init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    writer = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "--home", str(home), "ingest", "git", str(repo),
         "--history-only", "--batch-size", "50"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    app = KB(Settings(home=home))
    latencies: list[float] = []
    errors: list[BaseException] = []
    seen: list[int] = []

    def read_loop() -> None:
        while writer.poll() is None:
            t = time.perf_counter()
            try:
                with app.store.transaction() as s:
                    seen.append(len(s.scalars(select(Commit.sha)).all()))
            except BaseException as exc:  # any failure of a reader is the bug
                errors.append(exc)
            latencies.append(time.perf_counter() - t)
            time.sleep(0.01)

    reader = threading.Thread(target=read_loop)
    reader.start()
    writer.wait(timeout=300)
    reader.join()
    app.close()
    assert writer.returncode == 0, writer.stderr
    assert errors == []
    assert len(set(seen)) > 3  # the reader saw the ingest progress batch by batch
    assert max(latencies) < 1.0  # never blocked behind a write transaction


def test_vector_reads_stay_fresh_and_never_fail_while_another_process_writes(
    tmp_path: Path, embedder: Any
) -> None:
    repo = build_history_repo(tmp_path / "big", commits=400, docs_every=20)
    home = tmp_path / "kb"
    assert kb(home, "init").returncode == 0
    app = KB(Settings(home=home), embedder=embedder)
    query = embedder.embed(["why does checkout retry with an idempotency key"])[0]
    assert app.vectors.query(query, k=3) == []  # opened while empty, like a bot at start-up
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    writer = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "--home", str(home), "ingest", "git", str(repo),
         "--batch-size", "50"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    errors: list[str] = []
    counts: list[int] = []
    while writer.poll() is None:
        try:
            app.vectors.query(query, k=5)
            counts.append(app.vectors.count())
        except Exception as exc:  # a failing reader is the bug under test
            errors.append(repr(exc))
        time.sleep(0.02)
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    assert errors == []
    assert len(set(counts)) > 2  # saw the index grow while it was written
    assert app.vectors.count() == len(app.store.all_chunk_ids()) > 0
    app.close()
