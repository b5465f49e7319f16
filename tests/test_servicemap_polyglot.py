"""The service map's analyses on real files: the polyglot monorepo (tests/polyglot.py) with
gRPC, Kafka, HTTP, a shared database and a shared library, ingested once per backend; and a
two-repository system written here whose calls and topics break their contracts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gitrepo import Repo
from pgdb import fresh_database
from polyglot import (
    COMPOSE_PATH,
    EXPECTED_MAP,
    INVENTORY_MAIN,
    ORDERS_APP,
    REPO_NAME,
    build_polyglot_monorepo,
    line_of,
)

from kb.app import KB
from kb.cli import cli
from kb.contract.connector import SourceConfig
from kb.errors import NotFoundError
from kb.settings import Settings


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def poly(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[KB]:
    """A kb holding the polyglot monorepo, on SQLite and on PostgreSQL."""
    root = tmp_path_factory.mktemp("poly")
    repo = build_polyglot_monorepo(root / REPO_NAME)
    with _database(request) as url:
        app = KB(Settings(home=root / "kb", database_url=url), embedder=embedder)
        app.init()
        app.ingest(SourceConfig("git", REPO_NAME, str(repo), {}))
        yield app
        app.close()


class _database:
    """No URL for SQLite (kb's own file under its home), a fresh database for PostgreSQL."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self._ctx: Any = None

    def __enter__(self) -> str | None:
        if self.request.param == "sqlite":
            return None
        self._ctx = fresh_database(self.request.getfixturevalue("pg_server"))
        return str(self._ctx.__enter__())

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


def _json(app: KB, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"], obj={"kb": app}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _where(path: str, needle: str) -> dict[str, Any]:
    return {"repo": REPO_NAME, "path": path, "line": line_of(path, needle)}


def test_blast_radius_follows_grpc_and_http_and_queues_across_kafka(poly: KB) -> None:
    data = _json(poly, "blast-radius", "PaymentService")  # an alias of payment
    assert data["service"] == "payment"
    assert data["fails"] == ["orders", "gateway"]
    assert data["queues"] == ["notifications", "shipping"]
    hops = {h["service"]: h for h in data["dependents"]}
    assert hops["gateway"]["path"] == ["payment", "orders", "gateway"]
    assert hops["gateway"]["kinds"] == ["grpc", "sync_http"]
    assert hops["orders"]["evidence"] == [_where(ORDERS_APP, "PaymentServiceStub(channel)")]
    assert hops["shipping"]["kinds"] == ["grpc", "async_event"]
    inventory = poly.servicemap.blast_radius("inventory-service")
    assert inventory.fails == ["checkout", "gateway"]
    shared = [h for h in inventory.hops if h.effect == "shares data"]
    assert [(h.service, h.vias) for h in shared] == [("orders", ["shop (orders, stock)"])]
    assert not poly.servicemap.blast_radius("shipping").hops


def test_impact_of_an_rpc_a_topic_an_endpoint_and_a_library(poly: KB) -> None:
    rpc = _json(poly, "impact", "PaymentService/Charge")
    assert (rpc["kind"], rpc["providers"]) == ("rpc", ["payment"])
    assert [c["service"] for c in rpc["consumers"]] == ["orders"]
    assert _where(ORDERS_APP, '"payment:50051"') in rpc["consumers"][0]["evidence"]
    assert rpc["audience"][0]["owner"] == "team-orders"
    # Defined where the .proto says `rpc Charge` (the broken legacy .proto is skipped).
    assert rpc["files"] == [_where("proto/payment.proto", "rpc Charge")]
    qualified = poly.servicemap.impact("shop.payment.v1.PaymentService/Charge")
    assert [c.service for c in qualified.consumers] == ["orders"]

    topic = poly.servicemap.impact("order.placed")
    assert topic.kind == "topic" and topic.providers == ["orders"]
    assert sorted(c.service for c in topic.consumers) == ["notifications", "shipping"]

    endpoint = poly.servicemap.impact("POST /orders")
    assert [(c.service, c.provider) for c in endpoint.consumers] == [("gateway", "orders")]
    loc = endpoint.consumers[0].evidence[0]
    gateway = "services/gateway/main.go"
    assert (loc.path, loc.line) == (gateway, line_of(gateway, 'ordersURL+"/orders"'))

    lib = poly.servicemap.impact("libs/shopcommon")
    assert lib.kind == "library"
    assert sorted(c.service for c in lib.consumers) == ["inventory", "orders"]
    folder = poly.servicemap.impact(f"{REPO_NAME}:services/payment")
    assert folder.kind == "path" and [c.service for c in folder.consumers] == ["orders"]
    with pytest.raises(NotFoundError):
        poly.servicemap.impact("no.such.thing")


def test_coupling_in_one_monorepo_counts_service_folders_and_flags_shared_tables(
    poly: KB,
) -> None:
    data = _json(poly, "coupling", "--min-support", "1")
    pairs = {tuple(p["services"]): p for p in data["pairs"]}
    shared = pairs[("inventory", "orders")]
    assert shared["undeclared"] and shared["shared_tables"] == ["shop (orders, stock)"]
    # The first commit wrote gateway, orders and payment: one change set across three folders.
    assert pairs[("gateway", "orders")]["support"] == 1
    assert pairs[("gateway", "orders")]["declared_kinds"] == ["sync_http"]
    assert not pairs[("gateway", "orders")]["undeclared"]
    assert pairs[("orders", "payment")]["declared_kinds"] == ["grpc"]
    assert pairs[("gateway", "payment")]["evidence"][0]["why"] == "one commit"
    # With the default minimum, one shared commit is no coupling: only the shared tables stay.
    default = poly.servicemap.coupling().to_json()["pairs"]
    assert [p["services"] for p in default] == [["inventory", "orders"]]


def test_map_around_a_service_and_its_drawings(poly: KB) -> None:
    around = _json(poly, "map", "--service", "orders-service", "--depth", "1")
    assert {s["name"] for s in around["services"]} == {
        "orders", "gateway", "payment", "shipping", "notifications", "inventory",
    }  # fmt: skip
    assert around["infrastructure"] == EXPECTED_MAP["infrastructure"]
    whole = poly.servicemap.map()
    dot, mermaid = whole.to_dot(), whole.to_mermaid()
    for e in whole.to_json()["edges"]:
        assert f'"{e["from"]}" -> "{e["to"]}"' in dot
    assert mermaid.count("-.->") == 2  # order.placed to shipping and to notifications
    assert mermaid.count("-.-|") == 1  # the shared database
    assert mermaid.count("--o") == 2  # the shared library
    assert "[(" in mermaid and "kafka (broker)" in mermaid
    # The markdown says what the map could not read, with file:line.
    text = whole.to_markdown()
    assert f"`{REPO_NAME}:deploy/k8s/broken.yaml:5`: invalid YAML" in text
    assert f"`{REPO_NAME}:proto/legacy/broken.proto:6`" in text
    assert "```mermaid\n" + mermaid in text


def test_assess_names_shared_tables_and_keeps_services_without_other_signals(poly: KB) -> None:
    data = _json(poly, "assess", "inventory")
    (one,) = data["services"]
    assert one["service"] == "inventory" and one["verdict"] == "keep separate"
    assert one["stack"] == "Python" and one["active_people"] == ["Lena Vogel"]
    tables = [r for r in one["reasons"] if r["signal"] == "shared_tables"]
    assert tables and tables[0]["toward"] == "orders"
    assert (
        f"{REPO_NAME}:{INVENTORY_MAIN}:{line_of(INVENTORY_MAIN, 'SELECT count(*) FROM orders')}"
        in tables[0]["evidence"]
    )
    stacks = {s["service"]: s["stack"] for s in poly.servicemap.assess().to_json()["services"]}
    assert stacks["checkout"] == "C#" and stacks["shipping"] == "Kotlin"
    assert stacks["gateway"] == "Go" and stacks["notifications"] == "JavaScript"


def test_every_evidence_location_of_the_map_exists(poly: KB) -> None:
    from polyglot import FILES

    for e in poly.servicemap.map().to_json()["edges"]:
        for ev in e["evidence"]:
            assert ev["path"] in FILES, ev
            assert 1 <= ev["line"] <= len(FILES[ev["path"]].splitlines()), ev
    assert COMPOSE_PATH in FILES


# -- contracts ------------------------------------------------------------------------------

CATALOG_SPEC = """\
openapi: 3.0.3
info: {title: catalog-service, version: 1.0.0}
servers:
  - url: http://catalog-service:8080/api
paths:
  /items/{item_id}:
    get:
      responses:
        '200': {description: The item}
        '404': {description: No such item}
        '503': {description: Stock system down}
  /items:
    post:
      responses:
        '201': {description: Created}
  /items/{item_id}/price:
    put:
      responses:
        '200': {description: Repriced}
"""

SHOP_CLIENT = """\
import httpx

from shop.config import settings


def item(item_id: str) -> dict | None:
    resp = httpx.get(f"{settings.catalog_service_url}/api/items/{item_id}")
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    return resp.json()


def import_items(rows: list) -> None:
    httpx.post(f"{settings.catalog_service_url}/items/bulk", json=rows).raise_for_status()
"""

ADMIN_CLIENT = """\
import httpx

from admin.config import settings

catalog = httpx.Client(base_url=settings.catalog_service_url)
"""

SHOP_EVENTS = """\
from shop.bus import producer


def cart_updated(cart: dict) -> None:
    producer.send("cart.updated", cart)


def cart_emptied(cart: dict) -> None:
    producer.send("cart.emptied", cart)
"""

SHOP_ASYNCAPI = """\
asyncapi: 2.6.0
info: {title: shop-service, version: 1.0.0}
channels:
  cart.updated:
    subscribe:
      message: {name: CartUpdated}
"""


def test_contracts_find_calls_errors_endpoints_and_topics_off_spec(
    kb_app: KB, tmp_path: Path
) -> None:
    catalog = Repo(tmp_path / "catalog-service")
    catalog.commit("catalog API", {"openapi.yaml": CATALOG_SPEC, "app.py": "print('catalog')\n"})
    shop = Repo(tmp_path / "shop-service")
    files = {"src/shop/catalog_client.py": SHOP_CLIENT, "src/shop/events.py": SHOP_EVENTS}
    shop.commit("shop", {**files, "asyncapi.yaml": SHOP_ASYNCAPI})
    for repo in (catalog, shop):
        kb_app.ingest(SourceConfig("git", repo.path.name, str(repo.path), {}))
    audit = _json(kb_app, "contracts")
    found = {(f["kind"], f["service"], f["subject"]): f for f in audit["findings"]}
    client = "src/shop/catalog_client.py"

    def line(needle: str) -> int:
        return next(i for i, t in enumerate(SHOP_CLIENT.splitlines(), 1) if needle in t)

    bulk = found[("undocumented_call", "shop-service", "POST /items/bulk")]
    assert bulk["location"] == {"repo": "shop-service", "path": client, "line": line("/bulk")}
    assert bulk["spec"] == {"repo": "catalog-service", "path": "openapi.yaml", "line": None}
    # The spec's server path (/api) may be written in the call; 404 is handled, 503 is not.
    down = found[("unhandled_error", "shop-service", "503 on GET /items/{item_id}")]
    assert (
        down["spec"]["line"]
        == CATALOG_SPEC.splitlines().index("        '503': {description: Stock system down}") + 1
    )
    assert ("unhandled_error", "shop-service", "404 on GET /items/{item_id}") not in found
    uncalled = {s for k, _, s in found if k == "uncalled_endpoint"}
    assert uncalled == {"POST /items", "PUT /items/{item_id}/price"}
    topic = found[("undocumented_topic", "shop-service", "publishes cart.emptied")]
    assert topic["location"]["path"] == "src/shop/events.py"
    assert ("undocumented_topic", "shop-service", "publishes cart.updated") not in found
    assert audit["unreadable"] == []
    only = _json(kb_app, "contracts", "--service", "catalog-service")["findings"]
    assert {f["kind"] for f in only} == {"undocumented_call", "unhandled_error",
                                         "uncalled_endpoint"}  # fmt: skip
    assert audit["notes"] == []

    # A caller whose endpoints kb cannot read: "nobody calls" would be a guess, so kb says so.
    admin = Repo(tmp_path / "admin-service")
    admin.commit("admin", {"src/admin/clients.py": ADMIN_CLIENT})
    kb_app.ingest(SourceConfig("git", "admin-service", str(admin.path), {}))
    again = _json(kb_app, "contracts")
    assert not [f for f in again["findings"] if f["kind"] == "uncalled_endpoint"]
    assert again["notes"] == [
        "catalog-service:openapi.yaml: the calls of admin-service name no endpoint kb can read, "
        "so the endpoints of catalog-service nobody calls are not reported"
    ]
