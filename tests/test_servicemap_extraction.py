"""The service map's extraction (connectors.git.servicemap) on real files.

The polyglot monorepo (tests/polyglot.py) is ingested into a kb and its stored map compared
with EXPECTED_MAP; each detector (services, settings, HTTP calls, gRPC, topics, tables,
libraries, infrastructure) is then checked on small files written into tmp_path, and so is
the bad input: what cannot be read is reported with file:line and the map is built from the
rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gitrepo import git
from polyglot import (
    EXPECTED_MAP,
    FORBIDDEN_EDGES,
    REPO_NAME,
    SYMMETRIC_KINDS,
    build_polyglot_monorepo,
)

from connectors.git.code import comment_syntax
from connectors.git.content import load_content
from connectors.git.references import code_lines
from connectors.git.servicemap import discover, map_records
from connectors.git.servicemap.deploy import dockerfile_env, interpolate
from connectors.git.servicemap.facts import file_facts
from connectors.git.servicemap.vocab import infra_kind
from kb import KB
from kb.contract.connector import SourceConfig
from kb.contract.identity import service_key
from kb.contract.kinds import ComponentKind, DependencyKind, EventRole, InfraKind
from kb.contract.records import (
    Checkpoint,
    DependencyRecord,
    EventTopicRecord,
    Evidence,
    Failure,
    InfrastructureRecord,
    Record,
    RepoRecord,
    ServiceMapSet,
    ServiceRecord,
)
from kb.settings import Settings


def _edge_key(edge: dict[str, Any]) -> str:
    ends = [edge["from"], edge["to"]]
    if edge["kind"] in SYMMETRIC_KINDS:
        ends.sort()
    return json.dumps({**edge, "from": ends[0], "to": ends[1]}, sort_keys=True)


def _by_name(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda s: s["name"])


# --------------------------------------------------------------------------- the fixture


def test_polyglot_monorepo_gives_the_expected_map_and_reports_what_it_could_not_read(
    kb_app: KB, tmp_path: Path, isolated_git: None
) -> None:
    repo = build_polyglot_monorepo(tmp_path / REPO_NAME)
    report = kb_app.ingest(SourceConfig("git", REPO_NAME, str(repo), {}))
    failures = {f["where"]: f["message"] for f in report.failures}
    assert f"{REPO_NAME}:deploy/k8s/broken.yaml:5" in failures
    assert failures[f"{REPO_NAME}:proto/legacy/broken.proto:6"] == (
        "invalid proto: unclosed '('; skipped"
    )
    assert report.skipped["too large"] == 1  # the generated client naming orders-service

    got = kb_app.servicemap.graph().to_json()
    assert set(got) == {"services", "edges", "infrastructure"}
    assert _by_name(got["services"]) == _by_name(EXPECTED_MAP["services"])
    assert got["infrastructure"] == EXPECTED_MAP["infrastructure"]
    assert sorted(map(_edge_key, got["edges"])) == sorted(map(_edge_key, EXPECTED_MAP["edges"]))
    pairs = {(e["from"], e["to"]) for e in got["edges"]}
    assert not pairs & set(FORBIDDEN_EDGES)

    # The gateway stops calling checkout: the next ingest forgets that edge and its evidence.
    main = repo / "services/gateway/main.go"
    main.write_text(main.read_text().replace('os.Getenv("CHECKOUT_URL")', '""'))
    compose = repo / "docker-compose.yml"
    compose.write_text(
        compose.read_text().replace("      CHECKOUT_URL: http://checkoutservice:8080\n", "")
    )
    git(repo, "-c", "user.name=Ana Lima", "-c", "user.email=ana.lima@polyglot.example",
        "commit", "-qam", "Gateway no longer proxies checkout")  # fmt: skip
    kb_app.ingest(SourceConfig("git", REPO_NAME, str(repo), {}))
    again = kb_app.servicemap.graph().to_json()
    pairs = {(e["from"], e["to"]) for e in again["edges"]}
    assert ("gateway", "checkout") not in pairs and ("gateway", "orders") in pairs
    assert len(again["edges"]) == len(EXPECTED_MAP["edges"]) - 1
    assert again["infrastructure"] == EXPECTED_MAP["infrastructure"]


def _content(repo: Path, map_extraction: bool) -> list[Record]:
    head = git(repo, "rev-parse", "HEAD").strip()
    return list(load_content(repo, REPO_NAME, head, None, 1_000_000, {}, map_extraction))


def test_map_extraction_can_be_switched_off(
    tmp_path: Path, isolated_git: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = build_polyglot_monorepo(tmp_path / REPO_NAME)
    on = _content(repo, True)
    assert sum(isinstance(r, ServiceMapSet) for r in on) == 1
    assert {r.kind for r in on if isinstance(r, DependencyRecord)} == {
        DependencyKind.SYNC_HTTP, DependencyKind.GRPC, DependencyKind.SHARED_DB,
        DependencyKind.LIBRARY,
    }  # fmt: skip
    off = _content(repo, False)
    assert not [r for r in off if isinstance(r, (ServiceMapSet, InfrastructureRecord))]
    assert not [r for r in off if isinstance(r, DependencyRecord) and r.kind is DependencyKind.GRPC]
    monkeypatch.setenv("KB_MAP_EXTRACTION", "0")
    assert Settings().map_extraction is False
    monkeypatch.delenv("KB_MAP_EXTRACTION")
    assert Settings().map_extraction is True


def test_a_service_option_still_names_a_folder(tmp_path: Path, isolated_git: None) -> None:
    repo = build_polyglot_monorepo(tmp_path / REPO_NAME)
    head = git(repo, "rev-parse", "HEAD").strip()
    options = {"services": {"services/orders": "order-desk"}}
    records = list(load_content(repo, REPO_NAME, head, None, 1_000_000, options))
    grpc = [r for r in records if isinstance(r, DependencyRecord) and r.kind is DependencyKind.GRPC]
    assert [(r.from_service, r.to_service) for r in grpc] == [("order-desk", "payment")]


# --------------------------------------------------------------------------- detectors


class Files:
    """Files written into a folder, read back the way the map reads a repository."""

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self.root = root
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        self.paths = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def text(self, path: str) -> str | None:
        f = self.root / path
        return f.read_text() if f.is_file() else None

    def records(self) -> list[Record]:
        layout = discover(self.paths, self.text)
        return map_records("r", layout, self.paths, self.text)


def _edges(records: list[Record]) -> dict[tuple[str, str], DependencyRecord]:
    return {(r.from_service, r.to_service): r for r in records if isinstance(r, DependencyRecord)}


def _line(files: dict[str, str], path: str, needle: str) -> int:
    return next(i for i, ln in enumerate(files[path].splitlines(), 1) if needle in ln)


DOCKERFILE = "FROM scratch\n"


def test_services_come_from_compose_k8s_helm_catalog_and_build_files(tmp_path: Path) -> None:
    files = {
        "compose.yaml": "services:\n  cart_svc:\n    build: ./apps/cart\n"
        "  queue:\n    image: rabbitmq:3\n  web:\n    build:\n      context: .\n"
        "      dockerfile: apps/web/Dockerfile\n",
        "apps/cart/package.json": '{"name": "cart", "scripts": {"start": "node ."}}\n',
        "apps/web/Dockerfile": DOCKERFILE,
        "apps/web/index.js": "console.log(1)\n",
        "apps/billing/go.mod": "module example.com/shop/billing\n",
        "apps/billing/main.go": "package main\n\nfunc main() {}\n",
        "apps/ledger/Ledger.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web"></Project>\n',
        "apps/stock/src/pom.xml": "<project><artifactId>stock</artifactId>"
        "<plugin>spring-boot-maven-plugin</plugin></project>\n",
        "apps/redis/Dockerfile": "FROM redis:7\n",
        "deploy/billing.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: billing-service\nspec:\n  template:\n    spec:\n      containers:\n"
        "        - name: app\n          image: shop/billing:1\n",
        "charts/ledger/Chart.yaml": "apiVersion: v2\nname: ledger-svc\n",
        "charts/ledger/templates/deploy.yaml": "kind: Deployment\nmetadata:\n"
        "  name: {{ .Chart.Name }}\n",
        "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
        "  name: cart-service\nspec:\n  type: service\n  owner: group:team-cart\n",
        "libs/money/pyproject.toml": '[project]\nname = "money"\n',
        "tests/e2e/package.json": "{}\n",
    }
    layout = discover(Files(tmp_path, files).paths, Files(tmp_path, {}).text)
    comps = {c.name: c for c in layout.components}
    assert {n for n, c in comps.items() if c.kind is ComponentKind.SERVICE} == {
        "cart", "web", "billing", "ledger", "stock"
    }  # fmt: skip
    assert comps["cart"].aliases == ["cart_svc", "cart-service"]
    assert comps["cart"].owner == "team-cart"
    assert comps["billing"].aliases == ["billing-service"]
    assert comps["ledger"].aliases == ["ledger-svc", "Ledger"]
    assert comps["stock"].path == "apps/stock"  # a build in src/ is its folder's
    assert comps["money"].kind is ComponentKind.LIBRARY
    assert {(i.name, i.kind) for i in layout.infra} == {
        ("queue", InfraKind.BROKER), ("redis", InfraKind.CACHE)
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "code", "needle"),
    [
        ("main.go", 'package main\n\nimport "net/http"\n\nfunc f() {\n'
         '\tbase := os.Getenv("STOCK_URL")\n\thttp.Get(base + "/items")\n}\n', "http.Get"),
        ("app.py", "import os, requests\n\nSTOCK = os.environ.get('STOCK_URL')\n\n\ndef f():\n"
         "    return requests.get(f\"{STOCK}/items\")\n", "requests.get"),
        ("Client.java", "class Client {\n  String base = System.getenv(\"STOCK_URL\");\n"
         "  void f() { restTemplate.getForObject(base + \"/items\", String.class); }\n}\n",
         "getForObject"),
        ("Client.kt", "val base = System.getenv(\"STOCK_URL\")\n"
         "fun f() = client.get(base + \"/items\")\n", "client.get"),
        ("client.ts", "const base = process.env.STOCK_URL;\n"
         "export const f = () => fetch(`${base}/items`);\n", "fetch"),
        ("Client.cs", "var stockUrl = Environment.GetEnvironmentVariable(\"STOCK_URL\");\n"
         "var r = await http.GetAsync(stockUrl + \"/items\");\n", "GetAsync"),
    ],
)  # fmt: skip
def test_http_calls_through_settings_in_each_language(
    tmp_path: Path, path: str, code: str, needle: str
) -> None:
    files = {
        f"svc/shop/{path}": code,
        "svc/shop/Dockerfile": DOCKERFILE,
        "svc/stock/Dockerfile": DOCKERFILE,
        "compose.yml": "services:\n  shop:\n    build: svc/shop\n    environment:\n"
        "      STOCK_URL: http://stock-service:80\n  stock-service:\n    build: svc/stock\n",
    }
    edge = _edges(Files(tmp_path, files).records())[("shop", "stock")]
    assert (edge.kind, edge.detail) == (DependencyKind.SYNC_HTTP, "STOCK_URL")
    assert [(e.path, e.line) for e in edge.evidence()] == [
        (f"svc/shop/{path}", _line(files, f"svc/shop/{path}", needle)),
        ("compose.yml", 5),
    ]


def test_a_setting_named_after_a_service_or_defaulting_to_it_is_a_call(tmp_path: Path) -> None:
    files = {
        "a/Dockerfile": "FROM scratch\nENV USER_HOST=users\n",
        "a/server.js": "var catalogueHost = process.env.CATALOGUE_HOST || 'catalogue'\n"
        "const userHost = process.env.USER_HOST\n",
        "a/default.conf.template": "location /api/ {\n  proxy_pass http://${RATINGS_HOST}:80/;\n}\n",
        "catalogue/Dockerfile": DOCKERFILE,
        "users/Dockerfile": DOCKERFILE,
        "ratings/Dockerfile": DOCKERFILE,
        "redis/Dockerfile": "FROM redis\n",
        "a/cache.js": "const r = process.env.REDIS_HOST || 'redis'\n",
    }
    edges = _edges(Files(tmp_path, files).records())
    assert set(edges) == {("a", "catalogue"), ("a", "users"), ("a", "ratings")}
    assert [(e.path, e.line) for e in edges[("a", "users")].evidence()] == [
        ("a/server.js", 2), ("a/Dockerfile", 2)
    ]  # fmt: skip
    assert edges[("a", "ratings")].evidence_path == "a/default.conf.template"


def test_grpc_clients_of_proto_services_in_each_language(tmp_path: Path) -> None:
    proto = 'syntax = "proto3";\nservice CartService {\n  rpc Get(Req) returns (Res);\n}\n'
    files = {
        "protos/cart.proto": proto,
        "src/cartservice/Dockerfile": DOCKERFILE,
        "src/front/Dockerfile": DOCKERFILE,
        "src/front/rpc.go": "package main\n\nfunc c() { pb.NewCartServiceClient(conn) }\n",
        "src/recs/Dockerfile": DOCKERFILE,
        "src/recs/server.py": "stub = demo_pb2_grpc.CartServiceStub(channel)\n",
        "src/ads/Dockerfile": DOCKERFILE,
        "src/ads/Ads.java": "class Ads { Object s = CartServiceGrpc.newBlockingStub(ch); }\n",
        "src/pay/Dockerfile": DOCKERFILE,
        "src/pay/Pay.cs": "var c = new CartService.CartServiceClient(channel);\n",
        "src/pay/gen/CartGrpc.cs": "public class CartServiceClient { }\n",  # generated
        "src/cartservice/client_test_tool.py": "s = CartServiceStub(channel)\n",  # its own
    }
    edges = _edges(Files(tmp_path, files).records())
    assert set(edges) == {(s, "cartservice") for s in ("front", "recs", "ads", "pay")}
    assert {(e.kind, e.detail) for e in edges.values()} == {(DependencyKind.GRPC, "CartService")}


def test_grpc_dial_targets_give_the_address_evidence(tmp_path: Path) -> None:
    files = {
        "p.proto": "service PaymentService {\n  rpc Charge(A) returns (B);\n}\n",
        "orders/Dockerfile": DOCKERFILE,
        "orders/app.py": "import grpc, os\n"
        'ch = grpc.insecure_channel(os.environ.get("PAYMENT_ADDR", "payment:50051"))\n'
        "stub = payment_pb2_grpc.PaymentServiceStub(ch)\n",
        "payment/Dockerfile": DOCKERFILE,
    }
    edge = _edges(Files(tmp_path, files).records())[("orders", "payment")]
    assert (edge.kind, edge.detail) == (DependencyKind.GRPC, "PaymentService")
    assert [e.line for e in edge.evidence()] == [3, 2]


def _topics(records: list[Record]) -> set[tuple[str, str, EventRole]]:
    return {(r.service, r.topic, r.role) for r in records if isinstance(r, EventTopicRecord)}


def test_topics_of_kafka_rabbitmq_and_nats_producers_and_consumers(tmp_path: Path) -> None:
    files = {
        "orders/Dockerfile": DOCKERFILE,
        "orders/app.py": 'producer.send("order.placed", b"{}")\n',
        "ship/Dockerfile": DOCKERFILE,
        "ship/Main.kt": 'fun main() { consumer.subscribe(listOf("order.placed")) }\n',
        "mail/Dockerfile": DOCKERFILE,
        "mail/index.js": "await consumer.subscribe({ topic: 'order.placed' });\n"
        "await producer.send({ topic: 'mail.sent', messages });\n",
        "pay/Dockerfile": DOCKERFILE,
        "pay/rabbit.py": "class P:\n    ROUTING_KEY = 'orders'\n\n    def go(self):\n"
        "        self.ch.basic_publish(exchange='shop',\n"
        "                              routing_key=self.ROUTING_KEY, body=b'')\n",
        "dispatch/Dockerfile": DOCKERFILE,
        "dispatch/main.go": 'package main\n\nfunc f() { ch.Consume("orders", "", true) }\n',
        "audit/Dockerfile": DOCKERFILE,
        "audit/main.go": 'package main\n\nfunc f() { nc.Subscribe("mail.sent", h) }\n',
    }
    assert _topics(Files(tmp_path, files).records()) == {
        ("orders", "order.placed", EventRole.PUBLISH),
        ("ship", "order.placed", EventRole.SUBSCRIBE),
        ("mail", "order.placed", EventRole.SUBSCRIBE),
        ("mail", "mail.sent", EventRole.PUBLISH),
        ("pay", "orders", EventRole.PUBLISH),
        ("dispatch", "orders", EventRole.SUBSCRIBE),
        ("audit", "mail.sent", EventRole.SUBSCRIBE),
    }


def test_shared_database_needs_the_same_database_and_a_common_table(tmp_path: Path) -> None:
    db = "postgresql://u:p@pg:5432/{}"
    files = {
        "compose.yml": "services:\n"
        + "".join(
            f"  {s}:\n    build: ./{s}\n    environment:\n      DATABASE_URL: {db.format(d)}\n"
            for s, d in (("a", "shop"), ("b", "shop"), ("c", "shop"), ("d", "other"))
        )
        + "  pg:\n    image: postgres:16\n",
        "a/app.py": 'db.execute("INSERT INTO orders (id) VALUES (1)")\n',
        "b/app.py": 'x = 1\ndb.execute("SELECT count(*) FROM orders")\n',
        "c/app.py": 'db.execute("SELECT * FROM invoices")\n',  # same database, no common table
        "d/app.py": 'db.execute("SELECT * FROM orders")\n',  # another database
    }
    for s in "abcd":
        files[f"{s}/Dockerfile"] = DOCKERFILE
    edges = _edges(Files(tmp_path, files).records())
    assert set(edges) == {("a", "b")}
    edge = edges[("a", "b")]
    assert (edge.kind, edge.detail) == (DependencyKind.SHARED_DB, "shop (orders)")
    assert [(e.path, e.line) for e in edge.evidence()] == [("a/app.py", 1), ("b/app.py", 2)]


def test_libraries_by_import_and_by_project_reference(tmp_path: Path) -> None:
    files = {
        "src/Api/Api.csproj": '<Project Sdk="Microsoft.NET.Sdk.Web">\n'
        '  <ProjectReference Include="..\\EventBus\\EventBus.csproj" />\n</Project>\n',
        "src/EventBus/EventBus.csproj": '<Project Sdk="Microsoft.NET.Sdk"></Project>\n',
        "src/worker/Dockerfile": DOCKERFILE,
        "src/worker/main.py": "from shopcommon.db import connect\n",
        "libs/shopcommon/pyproject.toml": '[project]\nname = "shopcommon"\n',
    }
    edges = _edges(Files(tmp_path, files).records())
    assert {(k, e.kind) for k, e in edges.items()} == {
        (("Api", "EventBus"), DependencyKind.LIBRARY),
        (("worker", "shopcommon"), DependencyKind.LIBRARY),
    }
    assert (edges[("Api", "EventBus")].evidence_path, edges[("Api", "EventBus")].evidence_line) == (
        "src/Api/Api.csproj", 2
    )  # fmt: skip


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (("kafka",), InfraKind.BROKER),
        (("events", "bitnami/kafka:3.7"), InfraKind.BROKER),
        (("orders-db",), InfraKind.DATABASE),
        (("redis-cart",), InfraKind.CACHE),
        (("frontend-proxy",), InfraKind.PROXY),
        (("otel-collector",), InfraKind.COLLECTOR),
        (("load-gen",), InfraKind.LOADGEN),
        (("spring-petclinic-discovery-server",), InfraKind.REGISTRY),
        (("config-server",), InfraKind.CONFIG),
        (("flagd",), InfraKind.FEATURE_FLAGS),
        (("checkout",), None),
        (("frontend",), None),
    ],
)
def test_infrastructure_is_known_by_its_name_or_image(
    names: tuple[str, ...], kind: InfraKind | None
) -> None:
    assert infra_kind(*names) == kind


def test_service_names_match_however_spelled() -> None:
    spellings = ["checkout", "checkoutservice", "checkout-service", "checkout_service",
                 "CheckoutService", "Checkout"]  # fmt: skip
    assert {service_key(s) for s in spellings} == {"checkout"}
    assert service_key("Catalog.API") == service_key("catalog-api")
    assert service_key("redis-cart") != service_key("cart")


def test_comments_and_docs_are_not_calls(tmp_path: Path) -> None:
    code = "# calls http://stock-service/items some day\nx = 1\n"
    lines = code_lines(code, comment_syntax("a.py"), python=True)  # type: ignore[arg-type]
    assert file_facts("a.py", lines).hosts == []


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_reported_with_its_line_and_the_rest_is_mapped(tmp_path: Path) -> None:
    files = {
        "a/Dockerfile": DOCKERFILE,
        "a/main.go": 'package main\n\nfunc f() { http.Get("http://b-service/x") }\n',
        "b/Dockerfile": DOCKERFILE,
        "k8s/broken.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  labels: {app: x\n  name: y\n",
        "protos/broken.proto": 'syntax = "proto3";\nservice X {\n  rpc A(B returns (C);\n}\n',
        "chart/Chart.yaml": "apiVersion: v2\nname: b\n",
        "chart/values.yaml": "image: b:1\n",
        "chart/templates/deploy.yaml": "kind: Deployment\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - env:\n            - name: A_URL\n"
        '              value: {{ include "a.url" . }}\n',
        "k8s/templated.yaml": "apiVersion: v1\nkind: Deployment\nmetadata:\n  name: {{ x }}\n",
        "b/package.json": '{"name": "b",\n  "version": }\n',
    }
    records = Files(tmp_path, files).records()
    failures = {r.where: r.message for r in records if isinstance(r, Failure)}
    assert set(failures) == {
        "r:k8s/broken.yaml:4", "r:protos/broken.proto:3", "r:chart/templates/deploy.yaml:8",
        "r:k8s/templated.yaml:4", "r:b/package.json:2",
    }  # fmt: skip
    assert failures["r:k8s/broken.yaml:4"].startswith("invalid YAML: ")
    assert failures["r:protos/broken.proto:3"] == "invalid proto: unclosed '('; skipped"
    assert failures["r:chart/templates/deploy.yaml:8"] == (
        "templated Helm value not filled from values.yaml; skipped"
    )
    assert failures["r:b/package.json:2"].startswith("invalid JSON: ")
    assert set(_edges(records)) == {("a", "b")}


APP_HOST = """\
var builder = DistributedApplication.CreateBuilder(args);
var redis = builder.AddRedis("redis");
var bus = builder.AddRabbitMQ("eventbus");
var postgres = builder.AddPostgres("postgres");
var orderDb = postgres.AddDatabase("orderingdb");
var identityApi = builder.AddProject<Projects.Identity_API>("identity-api");
var identityEndpoint = identityApi.GetEndpoint("https");
var orderingApi = builder.AddProject<Projects.Ordering_API>("ordering-api")
    .WithReference(bus)
    .WithReference(orderDb)
    .WithEnvironment("Identity__Url", identityEndpoint);
builder.AddProject<Projects.OrderProcessor>("order-processor")
    .WithReference(orderDb);
var webApp = builder.AddProject<Projects.WebApp>("webapp")
    .WithReference(orderingApi);
"""


def test_an_aspire_app_host_names_runs_and_wires_the_projects(tmp_path: Path) -> None:
    web = '<Project Sdk="Microsoft.NET.Sdk.Web"></Project>\n'
    files = {
        "src/Host/Host.csproj": '<Project Sdk="Aspire.AppHost.Sdk/9.0.0"></Project>\n',
        "src/Host/Program.cs": APP_HOST,
        "src/Identity.API/Identity.API.csproj": web,
        "src/Ordering.API/Ordering.API.csproj": web,
        "src/Ordering.API/Events.cs": "bus.AddSubscription<OrderPaidIntegrationEvent, H>();\n",
        "src/OrderProcessor/OrderProcessor.csproj": '<Project Sdk="Microsoft.NET.Sdk.Worker">\n',
        "src/OrderProcessor/Work.cs": 'var sql = "SELECT id FROM ordering.orders";\n'
        "await bus.PublishAsync(new OrderPaidIntegrationEvent(id));\n",
        "src/WebApp/WebApp.csproj": web,
    }
    f = Files(tmp_path, files)
    layout = discover(f.paths, f.text)
    comps = {c.name: c for c in layout.components}
    assert set(comps) == {"Identity.API", "Ordering.API", "OrderProcessor", "WebApp"}
    assert comps["Ordering.API"].aliases == ["ordering-api"]
    assert {(i.name, i.kind) for i in layout.infra} == {
        ("redis", InfraKind.CACHE), ("eventbus", InfraKind.BROKER),
        ("postgres", InfraKind.DATABASE),
    }  # fmt: skip
    records = map_records("r", layout, f.paths, f.text)
    edges = {k: (e.kind, e.detail, e.evidence_line) for k, e in _edges(records).items()}
    assert edges == {
        ("Ordering.API", "Identity.API"): (DependencyKind.SYNC_HTTP, "Identity__Url", 11),
        ("WebApp", "Ordering.API"): (DependencyKind.SYNC_HTTP, "services__ordering-api", 15),
        # the processor's SQL names a table; the API's ORM names none: same database
        ("OrderProcessor", "Ordering.API"): (DependencyKind.SHARED_DB, "orderingdb", 13),
    }
    assert _topics(records) == {
        ("Ordering.API", "OrderPaidIntegrationEvent", EventRole.SUBSCRIBE),
        ("OrderProcessor", "OrderPaidIntegrationEvent", EventRole.PUBLISH),
    }


def test_compose_env_file_copied_shared_code_and_topics_named_by_settings(tmp_path: Path) -> None:
    files = {
        ".env": "FRONTEND_HOST=frontend\nFRONTEND_PORT=8080\n"
        "APP_ENDPOINT=${FRONTEND_HOST}:${FRONTEND_PORT}\nKAFKA_TOPIC=orders\n"
        "AGENT_DOCKERFILE=src/agent/Dockerfile\n",
        "compose.yaml": "services:\n"
        "  agent:\n    build:\n      context: ./\n      dockerfile: ${AGENT_DOCKERFILE}\n"
        "    environment:\n      - APP_ENDPOINT\n"
        "  checkout:\n    build: ./src/checkout\n    environment:\n      - KAFKA_TOPIC\n"
        "  frontend:\n    build: ./src/frontend\n"
        "  flagd-ui:\n    build: ./src/flagd-ui\n",
        "src/agent/Dockerfile": "FROM python:3.12\nCOPY src/agent/run.py .\n"
        "COPY src/shared/tools.py src/agents\n",
        "src/agent/run.py": "print('agent')\n",
        "src/shared/tools.py": "import os\nBASE = os.getenv('APP_ENDPOINT', 'localhost:8080')\n",
        "src/checkout/Dockerfile": DOCKERFILE,
        "src/checkout/producer.go": "package kafka\n\nfunc topic() string {\n"
        '\tif t := os.Getenv("KAFKA_TOPIC"); t != "" {\n\t\treturn t\n\t}\n'
        '\treturn "orders"\n}\n\nfunc send(p sarama.AsyncProducer) {}\n',
        "src/frontend/Dockerfile": DOCKERFILE,
        "src/flagd-ui/Dockerfile": DOCKERFILE,
        "src/flagd-ui/mix.exs": "defmodule FlagdUi.MixProject do\nend\n",
    }
    f = Files(tmp_path, files)
    layout = discover(f.paths, f.text)
    kinds = {c.name: c.kind for c in layout.components}
    assert kinds["shared"] is ComponentKind.LIBRARY
    assert kinds["flagd-ui"] is ComponentKind.SERVICE  # its own code, whatever its name says
    records = map_records("r", layout, f.paths, f.text)
    edges = {
        k: (e.kind, [(x.path, x.line) for x in e.evidence()]) for k, e in _edges(records).items()
    }
    assert edges == {
        ("agent", "frontend"): (
            DependencyKind.SYNC_HTTP, [("src/shared/tools.py", 2), ("compose.yaml", 7)]
        ),
        ("agent", "shared"): (DependencyKind.LIBRARY, [("src/agent/Dockerfile", 3)]),
    }  # fmt: skip
    assert _topics(records) == {("checkout", "orders", EventRole.PUBLISH)}


# --------------------------------------------------------------------------- storing


class _Script:
    """A connector yielding fixed records (a repository's map, written by the pipeline)."""

    kind = "git"

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    def load(self, cursor: dict[str, Any]) -> Any:
        yield from self.records
        yield Checkpoint({"n": len(cursor) + 1})


def test_a_name_from_another_repository_lands_on_the_service_it_spells(kb_app: KB) -> None:
    front = [
        RepoRecord(name="front", location="/r/front"),
        DependencyRecord(
            "front", "orders-service", DependencyKind.SYNC_HTTP, "ORDERS_URL",
            "front", "app.py", 3,
        ),
    ]  # fmt: skip
    kb_app.ingestor().run(SourceConfig("git", "front", "/r/front", {}), connector=_Script(front))
    shop = [
        RepoRecord(name="shop", location="/r/shop"),
        ServiceMapSet("shop"),
        ServiceRecord("orders", "shop", "services/orders/", aliases=("orders-api",)),
        InfrastructureRecord("kafka", InfraKind.BROKER, "shop", "compose.yaml", 9),
        DependencyRecord("orders", "payment", DependencyKind.GRPC, "PaymentService",
                         "shop", "services/orders/app.py", 14,
                         more_evidence=(Evidence("shop", "services/orders/app.py", 13),)),
    ]  # fmt: skip
    kb_app.ingestor().run(SourceConfig("git", "shop", "/r/shop", {}), connector=_Script(shop))
    graph = kb_app.servicemap.graph()
    orders = graph.service("orders")
    assert orders is not None and orders.aliases == ["orders-api", "orders-service"]
    assert graph.service("orders-service") is orders
    edges = {(e.from_, e.to, e.kind): [(x.path, x.line) for x in e.evidence] for e in graph.edges}
    assert edges[("front", "orders", "sync_http")] == [("app.py", 3)]
    assert edges[("orders", "payment", "grpc")] == [
        ("services/orders/app.py", 14), ("services/orders/app.py", 13)
    ]  # fmt: skip
    assert [i.to_json() for i in graph.infrastructure] == [{"name": "kafka", "kind": "broker"}]

    # The next run of shop maps no gRPC call and no broker: both are forgotten.
    again = [RepoRecord(name="shop", location="/r/shop"), ServiceMapSet("shop")]
    kb_app.ingestor().run(SourceConfig("git", "shop", "/r/shop", {}), connector=_Script(again))
    graph = kb_app.servicemap.graph()
    assert [(e.from_, e.to) for e in graph.edges] == [("front", "orders")]
    assert graph.infrastructure == []


def test_dockerfile_env_and_compose_interpolation_keep_each_values_line() -> None:
    text = (
        'FROM node\nENV A=1 \\\n    CATALOGUE_HOST=catalogue \\\n    USER_HOST="user"\n'
        "ENV OLD style\n"
    )
    assert [(b.var, b.value, b.line) for b in dockerfile_env(text, "Dockerfile")] == [
        ("A", "1", 2), ("CATALOGUE_HOST", "catalogue", 3), ("USER_HOST", "user", 4),
        ("OLD", "style", 5),
    ]  # fmt: skip
    assert interpolate("${HOST}:${PORT:-80}/x", {"HOST": "frontend"}) == "frontend:80/x"
