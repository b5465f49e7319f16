"""The analyses' read-only driver access (kb.store.reader): URLs, threads, missing databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gitrepo import Repo
from sqlalchemy import select

from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.errors import ConfigError
from kb.settings import Settings
from kb.store.history import source_cursor
from kb.store.models import Repo as RepoRow
from kb.store.models import Source
from kb.store.reader import Reader, _sqlite_path


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////srv/kb/kb.sqlite3", "/srv/kb/kb.sqlite3"),
        ("sqlite:///relative/kb.sqlite3", "relative/kb.sqlite3"),
        ("sqlite:////tmp/with%20space/kb.sqlite3", "/tmp/with space/kb.sqlite3"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
    ],
)
def test_sqlite_urls_name_the_file_sqlalchemy_would_open(url: str, path: str) -> None:
    assert _sqlite_path(url) == path


def test_postgres_urls_lose_the_sqlalchemy_driver_name() -> None:
    reader = Reader("postgresql+psycopg://kb:secret@db.example:5432/kb?sslmode=require")
    assert (reader.dialect, reader.mark) == ("postgresql", "%s")
    assert reader._conninfo == "postgresql://kb:secret@db.example:5432/kb?sslmode=require"
    with pytest.raises(ConfigError, match="mysql"):
        Reader("mysql://kb@db/kb")


def test_reads_what_the_store_wrote_on_both_backends(history_kb: KB) -> None:
    reader = history_kb.reader
    assert history_kb.revision() is not None
    assert reader.has_table("commits") and not reader.has_table("no_such_table")
    with history_kb.store.transaction(write=True) as s:
        s.add(RepoRow(name="r1", location="/r1"))
    # The reader's connection is kept: a later write is seen (autocommit, no old snapshot).
    assert reader.rows("SELECT name FROM repos") == [("r1",)]
    with history_kb.store.transaction(write=True) as s:
        s.add(RepoRow(name="r2", location="/r2"))
    mark = reader.mark
    assert reader.one(f"SELECT count(*) FROM repos WHERE name <> {mark}", ("x",)) == (2,)


def test_each_thread_reads_on_its_own_connection(history_kb: KB) -> None:
    reader = history_kb.reader
    seen: list[object] = []

    def read() -> None:
        assert reader.one("SELECT 1") == (1,)
        seen.append(reader._local.conn)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    read()
    assert len({id(c) for c in seen}) == 4
    reader.close()
    assert reader.one("SELECT 1") == (1,)  # reopens after close


def test_no_database_yet_means_no_revision_and_no_file_created(tmp_path: Path) -> None:
    app = KB(Settings(home=tmp_path / "kb"))
    assert not app.reader.exists()
    assert app.revision() is None
    assert not (tmp_path / "kb" / "kb.sqlite3").exists()
    app.close()


def test_a_source_cursor_reads_as_the_store_saved_it(history_kb: KB, tmp_path: Path) -> None:
    # `kb ingest` starts git from this cursor before the store is loaded (prefetch).
    assert source_cursor(history_kb.reader, "git", "svc") == {}
    repo = Repo(tmp_path / "svc")
    repo.commit("start", {"a.py": "a\n"})
    config = SourceConfig("git", "svc", str(repo.path), {"history_only": True})
    assert history_kb.ingestor().run(config).ok
    with history_kb.store.transaction() as s:
        source_id = s.scalars(select(Source.id).where(Source.name == "svc")).one()
    with history_kb.store.transaction() as s:
        saved = dict(s.get(Source, source_id).cursor)
    assert saved["last_commit"] == repo.head()
    assert source_cursor(history_kb.reader, "git", "svc") == saved
    assert source_cursor(history_kb.reader, "slack", "svc") == {}


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    reader = Reader("postgresql+psycopg://kb:hunter2@127.0.0.1:1/kb")  # nothing listens
    with pytest.raises(ConfigError, match="cannot reach the database") as caught:
        reader.rows("SELECT 1")
    assert "hunter2" not in str(caught.value) and "**********" in str(caught.value)


# Arguments for every read-model query: a new query must be added here, or the test fails.
_QUERY_ARGS: dict[str, tuple[object, ...]] = {
    "repo_names": (),
    "repo_history": ("svc",),
    "people": (),
    "person_by_identity": (),
    "services": (),
    "repos_with_path": ("src/a.py",),
    "commit_paths": ("svc", "abc"),
    "source_cursor": ("git", "svc"),
    "schema_revision": (),
    "latest_activity": (),
    "facts_version": (),
    "kb_version": (),
    "file_sizes": ("svc",),
    "source_rows": (),
    "wisdom_links": (),
    "incident_rows": (),
    "commits_between": (
        ("svc",),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
    ),
    "commits_naming": ("INC-1",),
}
# The service map's read model (kb.store.service_graph), run the same way.
_QUERY_ARGS_MAP: dict[str, tuple[object, ...]] = {
    "service_rows": (),
    "dependency_rows": (),
    "event_rows": (),
    "owner_rule_rows": (),
    "alias_rows": (),
    "infrastructure_rows": (),
    "evidence_rows": (),
    "change_commits": (),
    "changed_paths": ("svc",),
    "commits_touching": ("svc", "src/a_b.py"),
    "commit_files": ([1, 2],),
    "contract_docs": (),
    "repo_checkouts": (),
    "repo_web_links": (),
}


def test_every_read_model_query_names_only_tables_and_columns_of_the_models(db_url: str) -> None:
    # The read model spells out SQL by hand; a database built from the models alone (no
    # migration) must run every query of it, on both backends.
    import inspect

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from kb.store import history, service_graph
    from kb.store.models import Base

    args = {**_QUERY_ARGS, **_QUERY_ARGS_MAP}
    queries = {
        name: fn
        for module in (history, service_graph)
        for name, fn in vars(module).items()
        if inspect.isfunction(fn)
        and fn.__module__ == module.__name__
        and not name.startswith("_")
        and next(iter(inspect.signature(fn).parameters.values())).annotation in (Reader, "Reader")
    }
    assert set(queries) == set(args), "add the new read-model query to _QUERY_ARGS"
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    Base.metadata.create_all(engine)
    with Session(engine) as s:  # a repository, so repo_history runs its commit queries too
        s.add(RepoRow(name="svc", location="/repos/svc"))
        s.commit()
    engine.dispose()
    reader = Reader(db_url)
    try:
        for name, fn in queries.items():
            fn(reader, *args[name])  # raises on an unknown table or column
    finally:
        reader.close()
