"""kb's Mermaid service maps parse and render with the official `mermaid` package; its DOT
renders with Graphviz.

The package (npm, tests/js, installed by `make install`) runs in Debian's headless chromium,
as the dashboard's browser test does: no browser and nothing else is downloaded at test
time. Sync edges must come out solid, event and shared-data edges dotted.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import uibrowser as ub
from maptools import MERMAID_JS, graphviz_dot, missing

from kb.analysis.servicemap.graph import Edge, Infra, Location, ServiceGraph, ServiceNode
from kb.analysis.servicemap.render import ServiceMap
from kb.app import KB

_RENDER = """async (text) => {
    mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});
    await mermaid.parse(text);
    const {svg} = await mermaid.render('kbmap', text);
    return svg;
}"""


@pytest.fixture(scope="module")
def mermaid_page() -> Any:
    absent = [p for p in (ub.CHROMIUM, MERMAID_JS) if not p.exists()]
    if absent:
        missing(f"no {absent[0]}: `make install` installs chromium and tests/js (npm ci)")
    with ub.browser() as browser:
        page = browser.new_page()
        page.set_content("<html><body></body></html>")
        page.add_script_tag(path=str(MERMAID_JS))
        yield page


def _render(page: Any, text: str) -> list[str]:
    """The line pattern (solid | dotted | ...) of each drawn edge, in order."""
    svg = page.evaluate(_RENDER, text)
    links = re.findall(r'<path[^>]*class="([^"]*flowchart-link[^"]*)"', svg)
    return [re.search(r"edge-pattern-(\w+)", c).group(1) for c in links]  # type: ignore[union-attr]


def _loc(path: str, line: int) -> list[Location]:
    return [Location("shop", path, line)]


def test_every_kind_of_edge_and_awkward_labels_render(mermaid_page: Any) -> None:
    graph = ServiceGraph(
        services=[ServiceNode(n, "shop", f"services/{n}", None) for n in
                  ("gateway", "orders", "payment", 'say "hi"', "inventory")],
        edges=[
            Edge("gateway", "orders", "sync_http", "POST /orders/{id}|x", _loc("a.go", 3)),
            Edge("orders", "payment", "grpc", "PaymentService", _loc("b.py", 4)),
            Edge("orders", 'say "hi"', "async_event", "order.placed", _loc("b.py", 9)),
            Edge("inventory", "orders", "shared_db", "shop (orders, stock)", _loc("c.py", 1)),
            Edge("orders", "shopcommon", "library", "libs/shopcommon", _loc("b.py", 1)),
        ],
        infrastructure=[Infra("kafka", "broker"), Infra("postgres", "database")],
    )  # fmt: skip
    patterns = _render(mermaid_page, ServiceMap(graph).to_mermaid())
    assert patterns == ["solid", "solid", "dotted", "dotted", "solid"]


def test_the_demo_map_renders_sync_solid_and_events_dotted(
    mermaid_page: Any, demo_kb: tuple[KB, list[Any]]
) -> None:
    smap = demo_kb[0].servicemap.map()
    patterns = _render(mermaid_page, smap.to_mermaid())
    kinds = [e["kind"] for e in smap.to_json()["edges"]]
    assert patterns == ["solid" if k == "sync_http" else "dotted" for k in kinds]
    # The markdown `kb map` prints (and `make demo` writes to map.md) holds the same drawing.
    assert "```mermaid\n" + smap.to_mermaid() in smap.to_markdown()


def test_dot_draws_each_kind_in_its_style_and_renders(tmp_path: Path) -> None:
    dot = graphviz_dot()
    graph = ServiceGraph(
        services=[ServiceNode(n, "shop", f"services/{n}", None) for n in
                  ("gateway", "orders", "payment", "inventory")],
        edges=[
            Edge("gateway", "orders", "sync_http", 'POST "/orders"', _loc("a.go", 3)),
            Edge("orders", "payment", "grpc", "PaymentService", _loc("b.py", 4)),
            Edge("orders", "inventory", "async_event", "order.placed", _loc("b.py", 9)),
            Edge("inventory", "orders", "shared_db", "shop (orders, stock)", _loc("c.py", 1)),
        ],
        infrastructure=[Infra("kafka", "broker")],
    )  # fmt: skip
    svg = subprocess.run([dot, "-Tsvg"], input=ServiceMap(graph).to_dot(), capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    edges = re.findall(r'<g id="edge\d+" class="edge">(.*?)</g>', svg, re.S)
    assert len(edges) == 4
    dashes = [re.search(r'stroke-dasharray="([^"]+)"', e) for e in edges]
    assert [d.group(1) if d else "solid" for d in dashes] == ["solid", "solid", "5,2", "1,5"]
    assert "kafka" in svg and "POST &quot;/orders&quot;" in svg
