"""Architecture rules of DESIGN.md/STYLE.md, checked on the source tree."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from gitrepo import Repo

from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.settings import Settings

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
    # they name kinds through kb.contract.kinds, never kb.store.models.
    code = (
        "import sys, kb.cli, kb.contract.records, connectors.git, connectors.git.content, "
        "connectors.adr, connectors.slack_export; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'sqlalchemy', 'alembic'} "
        "or m == 'kb.store.models'))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_the_bus_factor_path_loads_no_sqlalchemy(tmp_path: Path) -> None:
    # `kb bus-factor` reads through kb.store.reader (the DBAPI driver): SQLAlchemy and the
    # ORM would cost a fresh process more than a large repository's report.
    repo = Repo(tmp_path / "svc")
    repo.commit("start", {"a.py": "a\n", "b.py": "b\n"})
    app = KB(Settings(home=tmp_path / "kb"))
    app.store.migrate()
    report = app.ingestor().run(SourceConfig("git", "svc", str(repo.path), {"history_only": True}))
    assert report.ok
    app.close()
    code = (
        "import sys; from kb.cli import main; "
        f"sys.argv = ['kb', '--home', {str(tmp_path / 'kb')!r}, 'bus-factor', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'sqlalchemy', 'alembic'} "
        "or m in {'kb.store.models', 'kb.store.store'}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *report_lines, loaded = res.stdout.strip().splitlines()
    assert json.loads("\n".join(report_lines))["repos"][0]["truck_factor"] == 1
    assert loaded == "[]"


def test_kb_has_no_import_cycle() -> None:
    # import-linter's layers keep the packages in order; this keeps every module in order
    # too (a cycle inside a layer is a module that should be split or moved).
    import grimp

    graph = grimp.build_graph("kb", exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.find_modules_directly_imported_by(node)):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    assert cycles == []
