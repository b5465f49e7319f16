"""bench/map_speed.py builds an N-service map through kb's store and times `kb map --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import map_speed


def test_the_speed_bench_maps_every_service_it_built(capsys: pytest.CaptureFixture[Any]) -> None:
    assert map_speed.main(["--services", "6", "--runs", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["services"] == 6 and result["topics"] == 3
    assert result["map_edges"] == result["edges"] > 0
    assert result["map_ms"]["median"] > 0 and result["version_ms"]["median"] > 0
    assert result["map_cpu_ms"] > 0 and result["target_ms"] == 300


def test_kb_map_json_loads_neither_sqlalchemy_nor_the_orm(tmp_path: Path) -> None:
    # It reads through kb.store.reader (the DBAPI driver); the ORM alone would cost a fresh
    # process more than the whole map.
    map_speed.build(tmp_path / "kb", 4)
    code = (
        "import sys; from kb.cli import main; "
        f"sys.argv = ['kb', '--home', {str(tmp_path / 'kb')!r}, 'map', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'sqlalchemy', 'alembic', "
        "'pydantic'} or m in {'kb.store.models', 'kb.store.store', 'kb.analysis.experts'}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *mapped, loaded = res.stdout.strip().splitlines()
    assert len(json.loads("\n".join(mapped))["services"]) == 4
    assert loaded == "[]"
