"""Architecture rules of DESIGN.md/STYLE.md, checked on the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_kb_never_imports_bot_ui_or_a_concrete_connector() -> None:
    offenders = []
    for path in (ROOT / "kb").rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] in {"bot", "ui", "connectors"}:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for package in ("kb", "connectors", "bot", "ui"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "settings.py":
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                reads = (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"getenv", "get"}
                    and ast.unparse(node.func.value) in {"os", "os.environ"}
                ) or (
                    isinstance(node, ast.Subscript)
                    and isinstance(node.ctx, ast.Load)
                    and ast.unparse(node.value) == "os.environ"
                )
                if reads:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_sql_lives_in_the_store_layer() -> None:
    offenders = []
    sql_calls = {"select", "insert", "update", "delete", "text"}
    for path in (ROOT / "kb").rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[1] == "store" or path.name == "models.py":
            continue
        for name in _imports(path):
            if name.startswith("sqlalchemy"):
                tree = ast.parse(path.read_text())
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and node.module == name:
                        bad = {a.name for a in node.names} & sql_calls
                        if bad:
                            offenders.append(f"{rel} imports {sorted(bad)} from {name}")
    assert offenders == []


def test_the_cli_and_the_connectors_load_without_the_orm() -> None:
    # `kb --help`, `kb --version` and the parsers must not pay for SQLAlchemy (~0.25 s):
    # they name kinds through kb.kinds, never kb.models.
    code = (
        "import sys, kb.cli, kb.records, connectors.git, connectors.git.content, "
        "connectors.adr, connectors.slack_export; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'sqlalchemy', 'alembic'} "
        "or m == 'kb.models'))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"
