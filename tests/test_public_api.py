"""kb's public API: every exported name exists and loads on demand; results render two ways."""

from __future__ import annotations

import subprocess
import sys

import kb


def test_every_exported_name_resolves() -> None:
    for name in kb.__all__:
        assert getattr(kb, name).__name__ == name


def test_importing_kb_loads_nothing_heavy() -> None:
    code = (
        "import sys, kb; from kb import KB, Settings, KBError; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'chromadb', 'torch', 'numpy', 'alembic'}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_every_result_type_renders_json_and_markdown() -> None:
    results = [n for n in kb.__all__ if n not in {"KB", "Settings", "SourceConfig"}]
    results = [n for n in results if not n.endswith("Error")]
    for name in results:
        cls = getattr(kb, name)
        assert callable(getattr(cls, "to_json", None)), name
        assert callable(getattr(cls, "to_markdown", None)), name
