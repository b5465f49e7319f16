"""What the service-map rendering tests need from the machine: Graphviz's `dot`, and the
official Mermaid package (tests/js) with Debian's chromium. `make install` installs them as
root (CI runs as root): there a missing tool fails the test; a developer without root who
lacks one gets a skip saying how to install it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

MERMAID_JS = Path(__file__).with_name("js") / "node_modules/mermaid/dist/mermaid.min.js"


def missing(reason: str) -> NoReturn:
    """Fail where the tool should have been installed (CI, root), else skip."""
    if os.environ.get("CI") or os.geteuid() == 0:
        pytest.fail(reason)
    pytest.skip(reason)


def graphviz_dot() -> str:
    """The path of Graphviz's `dot`."""
    found = shutil.which("dot")
    if not found:
        missing("no Graphviz `dot`: `make install` installs Debian's graphviz (as root)")
    return found
