"""Shared fixtures: real SQLite/PostgreSQL, real chromadb, the real bundled model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pgdb import fresh_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kb.app import KB
from kb.embedding.embedder import SentenceTransformerEmbedder
from kb.settings import Settings
from kb.store import Store

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once per test session (import costs seconds)."""
    model = SentenceTransformerEmbedder()
    model.embed(["warm up"])
    return model


def _pg_admin_url() -> str:
    return os.environ.get("KB_TEST_DATABASE_URL", DEFAULT_PG)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """URL of a reachable PostgreSQL; skipped (with the reason) only when there is none."""
    url = _pg_admin_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        reason = f"PostgreSQL unreachable at {make_url(url).render_as_string()}: {exc}"
        if os.environ.get("KB_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (KB_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    return url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    s = Store.from_url(db_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def kb_app(db_url: str, tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[KB]:
    """A whole KB in a temp home (persistent chromadb, real model), on SQLite and PostgreSQL."""
    database_url = None if db_url.startswith("sqlite") else db_url
    app = KB(Settings(home=tmp_path / "kb", database_url=database_url), embedder=embedder)
    app.init()
    yield app
    app.close()


@pytest.fixture(scope="session")
def demo_org(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo organisation (seed 42), generated once per test session."""
    from seed import generate_demo_org

    return generate_demo_org(tmp_path_factory.mktemp("demo") / "org", seed=42)


def ingest_demo(app: KB, org: Any) -> list[Any]:
    """Ingest every demo repo and the Slack export into `app`; returns the run reports."""
    from kb.contract.connector import SourceConfig

    reports = []
    for name in sorted(org.manifest["repos"]):
        path = org.repo_path(name)
        reports.append(app.ingestor().run(SourceConfig("git", name, str(path), {})))
    reports.append(
        app.ingestor().run(SourceConfig("slack-export", "shopfast", str(org.slack_zip), {}))
    )
    return reports


@pytest.fixture(scope="session")
def _demo_build(
    demo_org: Any, embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[KB, list[Any], dict[str, str], Path]]:
    """The demo KB, the golden outputs captured before any test could teach it anything,
    and a closed copy of its home that tests which write take their own copies from.

    Copying files SQLite has open in this process would drop the process's locks on them
    (closing any descriptor of a file releases them all), so nothing copies the live home.
    """
    from golden import capture

    home = tmp_path_factory.mktemp("demo-kb") / "kb"
    built = KB(Settings(home=home), embedder=embedder)
    built.init()
    reports = ingest_demo(built, demo_org)
    outputs = capture(built)
    built.close()
    pristine = tmp_path_factory.mktemp("demo-pristine") / "kb"
    shutil.copytree(home, pristine)
    app = KB(Settings(home=home), embedder=embedder)
    yield app, reports, outputs, pristine
    app.close()


@pytest.fixture(scope="session")
def demo_kb(_demo_build: tuple[KB, list[Any], dict[str, str], Path]) -> tuple[KB, list[Any]]:
    """A KB holding the whole demo organisation, built once per session (read-only use:
    a test that teaches, votes or ingests takes `demo_writable` or `copy_demo_home`)."""
    app, reports, _, _ = _demo_build
    return app, reports


@pytest.fixture(scope="session")
def demo_golden(_demo_build: tuple[KB, list[Any], dict[str, str], Path]) -> dict[str, str]:
    """What the demo KB's commands printed right after it was built (see tests/golden.py)."""
    return _demo_build[2]


@pytest.fixture(scope="session")
def copy_demo_home(
    _demo_build: tuple[KB, list[Any], dict[str, str], Path],
) -> Callable[[Path], Path]:
    """`copy(dest)`: a copy of the demo KB's home as built, at `dest` (returned)."""
    pristine = _demo_build[3]

    def copy(dest: Path) -> Path:
        shutil.copytree(pristine, dest)
        return dest

    return copy


@pytest.fixture
def demo_writable(
    copy_demo_home: Callable[[Path], Path], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> Iterator[KB]:
    """A KB over this test's own copy of the demo organisation: it may teach, vote, ingest."""
    app = KB(Settings(home=copy_demo_home(tmp_path / "demo-kb")), embedder=embedder)
    yield app
    app.close()


@pytest.fixture
def isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """git (run by kb too) with the user's and the system's configuration shut out."""
    from gitrepo import GIT_ENV

    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def history_kb(db_url: str, tmp_path: Path) -> Iterator[KB]:
    """A KB for history-only ingests (no model, no vectors), on SQLite and PostgreSQL."""
    database_url = None if db_url.startswith("sqlite") else db_url
    app = KB(Settings(home=tmp_path / "kb", database_url=database_url))
    app.store.migrate()
    yield app
    app.close()
