"""SIGKILL an ingest at several points; a re-run must give exactly an uninterrupted run's state."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from gitrepo import build_history_repo

from kb.settings import Settings
from kb.store import Store
from kb.store.vectors import VectorStore

pytestmark = pytest.mark.slow


def _ingest_cmd(home: Path, repo: Path) -> list[str]:
    return [
        sys.executable, "-m", "kb.cli", "--home", str(home), "ingest", "git", str(repo),
        "--name", "shop", "--batch-size", "100", "--json",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KB_")}


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute(f"select count(*) from {table}").fetchone()[0])
    except sqlite3.Error:
        return 0  # schema not created yet


def _snapshot(home: Path) -> dict[str, Any]:
    settings = Settings(home=home)
    store = Store.from_url(settings.effective_database_url)
    db = store.engine.raw_connection()
    try:
        cur = db.cursor()

        def rows(sql: str) -> list[tuple[Any, ...]]:
            cur.execute(sql)
            return sorted(tuple(r) for r in cur.fetchall())

        snap = {
            "commits": rows("select sha, author_email, message from commits"),
            "changes": rows(
                "select c.sha, f.change_type, f.path from file_changes f "
                "join commits c on c.id = f.commit_id"
            ),
            "people": rows("select display_name, first_activity_at, last_activity_at from people"),
            "identities": rows("select kind, value from identities"),
            "documents": rows("select external_id, content_hash from documents"),
            "chunks": rows("select id, content_hash from chunks"),
            "wisdom": rows("select external_id, title from wisdom_entries"),
            "cursor": rows("select cursor from sources"),
        }
    finally:
        db.close()
        store.close()
    vectors = VectorStore.persistent(settings.chroma_path, settings.chroma_collection, 384)
    snap["vectors"] = sorted(vectors.ids())
    return snap


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_history_repo(tmp_path_factory.mktemp("crash") / "shop", commits=600)


@pytest.fixture(scope="module")
def reference(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("reference")
    res = subprocess.run(_ingest_cmd(home, repo), capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr
    snap = _snapshot(home)
    assert len(snap["commits"]) == 600 and snap["documents"] and snap["vectors"]
    return snap


@pytest.mark.parametrize(
    ("table", "threshold"),
    [("commits", 1), ("commits", 300), ("documents", 450)],
    ids=["after-first-batch", "mid-history", "late-history-with-text"],
)
def test_kill_and_rerun_equals_uninterrupted_run(
    repo: Path, reference: dict[str, Any], tmp_path: Path, table: str, threshold: int
) -> None:
    home = tmp_path / "home"
    db = home / "kb.sqlite3"
    proc = subprocess.Popen(
        _ingest_cmd(home, repo), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env()
    )
    deadline = time.monotonic() + 120
    while _count(db, table) < threshold:
        assert proc.poll() is None, f"ingest ended before the kill point: {proc.stderr}"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    interrupted = _snapshot(home)
    assert interrupted != reference  # the kill really cut the run short

    res = subprocess.run(_ingest_cmd(home, repo), capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr
    assert _snapshot(home) == reference
