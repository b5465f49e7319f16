"""The chromadb adapter: persistent and server clients, upsert by id, stale deletion."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.errors import ConfigError
from kb.store.vectors import VectorStore


def _unit(*xs: float) -> list[float]:
    norm = sum(x * x for x in xs) ** 0.5
    return [x / norm for x in xs]


def _round_trip(vs: VectorStore) -> None:
    vs.upsert(
        ["c1", "c2", "c3"],
        [_unit(1, 0, 0), _unit(0, 1, 0), _unit(1, 1, 0)],
        ["payment async", "inventory locks", "both"],
        [{"doc": "d1"}, {"doc": "d1"}, {"doc": "d2"}],
    )
    hits = vs.query(_unit(1, 0.05, 0), k=2)
    assert [h.id for h in hits] == ["c1", "c3"]
    assert hits[0].similarity == pytest.approx(0.9988, abs=1e-3)
    assert hits[0].metadata == {"doc": "d1"}
    # Upsert by id replaces, never duplicates.
    vs.upsert(["c1"], [_unit(0, 0, 1)], ["moved"], [{"doc": "d1"}])
    assert vs.count() == 3
    assert vs.query(_unit(0, 0, 1), k=1)[0].id == "c1"
    # Stale chunks of a document are removed, the others kept.
    assert vs.delete_stale("d1", keep_ids=["c1"]) == ["c2"]
    assert vs.ids() == {"c1", "c3"}


def test_persistent_client_round_trips_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    vs = VectorStore.persistent(path, "kb_chunks", dim=3)
    _round_trip(vs)
    stored = vs.get(["c1", "c3"])
    # A new process sees what was written (the data is on disk, not in this client).
    code = (
        "import sys; from kb.store.vectors import VectorStore;"
        "vs = VectorStore.persistent(__import__('pathlib').Path(sys.argv[1]), 'kb_chunks', 3);"
        "print(sorted(vs.ids()), vs.count())"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert res.stdout.strip() == "['c1', 'c3'] 2"
    assert stored["c1"][0] == pytest.approx(_unit(0, 0, 1), abs=1e-6)


def test_dimension_mismatch_is_refused(tmp_path: Path) -> None:
    vs = VectorStore.persistent(tmp_path / "chroma", "kb_chunks", dim=384)
    with pytest.raises(ValueError, match="expected 384"):
        vs.upsert(["x"], [[1.0, 0.0]], ["t"], [{"doc": "d"}])


def test_collection_never_embeds_by_itself(tmp_path: Path) -> None:
    vs = VectorStore.persistent(tmp_path / "chroma", "kb_chunks", dim=3)
    with pytest.raises(ValueError, match="embedding function"):
        vs.collection.add(ids=["x"], documents=["text without a vector"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port."""
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert exe, "the chroma CLI ships with chromadb; reinstall kb"
    port = _free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [
            exe,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"chroma run did not start: {(tmp_path / 'chroma.log').read_text()}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_http_client_round_trips_with_a_real_server(chroma_server: str) -> None:
    vs = VectorStore.remote(chroma_server, "kb_chunks", dim=3)
    _round_trip(vs)
    again = VectorStore.remote(chroma_server, "kb_chunks", dim=3)
    assert again.ids() == {"c1", "c3"}


def test_bad_chroma_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="KB_CHROMA_URL"):
        VectorStore.remote("chroma.internal:8000", "kb_chunks", dim=3)
    with pytest.raises(ConfigError, match="cannot reach"):
        VectorStore.remote(f"http://127.0.0.1:{_free_port()}", "kb_chunks", dim=3)


def test_a_reader_reopening_after_other_writers_keeps_one_index_open(tmp_path: Path) -> None:
    """Each write by another process makes a long-running reader (the bot, the dashboard)
    reopen the index; the index it replaces stops once no store of the process uses it, so
    open files and memory stay flat."""
    import contextlib
    import os
    import random

    path = tmp_path / "chroma"
    reader = VectorStore.persistent(path, "kb_chunks", dim=8)
    other = VectorStore.persistent(path, "kb_chunks", dim=8)  # a second store of the process
    rnd = random.Random(7)
    vectors = [_unit(*(rnd.random() for _ in range(8))) for _ in range(3000)]
    reader.upsert([f"c{i}" for i in range(3000)], vectors, ["t"] * 3000, [{"doc": "d"}] * 3000)
    assert [h.id for h in reader.query(vectors[5], k=1)] == ["c5"]
    code = (
        "import sys, time; from pathlib import Path; from kb.store.vectors import VectorStore;"
        "vs = VectorStore.persistent(Path(sys.argv[1]), 'kb_chunks', 8)\n"
        "for i in range(8):\n"
        "    vs.upsert([f'n{i}'], [[1.0] + [0.0] * 7], ['new'], [{'doc': 'n'}]); time.sleep(0.4)"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(path)])

    def index_files() -> int:
        """Files of this index the process holds open (other tests' threads may open others)."""
        held = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                held += os.readlink(f"/proc/self/fd/{fd}").startswith(str(path))
        return held

    counts = set()
    fds = None  # index files open once both stores run on an index read back from disk
    while writer.poll() is None:
        counts.add(reader.count())
        for store in (reader, other):
            assert [h.id for h in store.query(vectors[5], k=1)] == ["c5"]
        if fds is None and len(counts) == 2:
            fds = index_files()
        time.sleep(0.05)
    assert writer.returncode == 0
    assert reader.count() == 3008 and len(counts) >= 5  # reopened after most writes
    # Both stores run on the index as it is now, and only that one is open.
    assert fds is not None and index_files() <= fds + 4
    # Closing one store leaves the other reading.
    reader.close()
    assert other.count() == 3008
    other.close()
