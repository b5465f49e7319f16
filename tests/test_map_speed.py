"""bench/map_speed.py builds an N-service map through kb's store and times `kb map --json`."""

from __future__ import annotations

import json
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
