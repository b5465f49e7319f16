"""kb's commands print exactly what they printed when the golden files were recorded.

A structural change must not change behaviour: the demo KB's `ask --json` answers,
bus-factor (both modes, with a leaver), `who`, `hotspots`, `wisdom --stale` and `gaps` are
compared with `tests/golden/`. Rewrite them with `python tests/golden.py` only for an
intended change, and read the diff.

Everything is compared exactly except retrieval scores and confidences: two builds of the
same demo KB differ there by up to a few hundredths (float arithmetic of the embedder, and
the vector index's approximate candidates, which set the scale of the full-text part of a
score), never in the order, the text or the sources.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from golden import COMMANDS, QUESTIONS, read_golden

FLOAT_KEYS = {"score", "confidence"}
TOLERANCE = 0.05


def _differences(golden: Any, now: Any, where: str = "") -> list[str]:
    if isinstance(golden, dict) and isinstance(now, dict):
        if list(golden) != list(now):
            return [f"{where}: keys {list(golden)} != {list(now)}"]
        found = []
        for key in golden:
            if key in FLOAT_KEYS and isinstance(golden[key], float | int):
                if not isinstance(now[key], float | int) or abs(golden[key] - now[key]) > TOLERANCE:
                    found.append(f"{where}.{key}: {golden[key]} != {now[key]}")
                continue
            found.extend(_differences(golden[key], now[key], f"{where}.{key}"))
        return found
    if isinstance(golden, list) and isinstance(now, list):
        if len(golden) != len(now):
            return [f"{where}: {len(golden)} items != {len(now)}"]
        return [
            d
            for i, (g, n) in enumerate(zip(golden, now, strict=True))
            for d in _differences(g, n, f"{where}[{i}]")
        ]
    return [] if golden == now else [f"{where}: {golden!r} != {now!r}"]


def test_golden_files_cover_every_command() -> None:
    names = set(read_golden())
    assert {f"ask-{n:02d}" for n in range(1, len(QUESTIONS) + 1)} <= names
    assert set(COMMANDS) | {"gaps"} <= names


def test_outputs_match_the_golden_files(demo_golden: dict[str, str]) -> None:
    golden = read_golden()
    assert set(demo_golden) == set(golden)
    problems = []
    for name in sorted(golden):
        found = _differences(json.loads(golden[name]), json.loads(demo_golden[name]))
        if found:
            diff = difflib.unified_diff(
                golden[name].splitlines(), demo_golden[name].splitlines(),
                f"golden/{name}.json", "now", lineterm="", n=1,
            )  # fmt: skip
            problems.append("\n".join([*found[:5], *list(diff)[:30]]))
    assert not problems, "\n\n".join(problems)


def test_the_comparison_catches_a_change() -> None:
    golden = {"answer": "a", "citations": [{"score": 1.5, "title": "t"}]}
    assert _differences(golden, {"answer": "a", "citations": [{"score": 1.51, "title": "t"}]}) == []
    assert _differences(golden, {"answer": "b", "citations": [{"score": 1.5, "title": "t"}]})
    assert _differences(golden, {"answer": "a", "citations": [{"score": 1.6, "title": "t"}]})
    assert _differences(golden, {"answer": "a", "citations": []})
