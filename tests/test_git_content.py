"""The content half of the git connector, on real repositories built in tmp_path."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.git.code import comment_syntax, danger_comments, find_comments, header_prose
from connectors.git.content import load_content
from connectors.git.docs import doc_title
from connectors.git.postmortem import parse_postmortem
from connectors.git.references import code_lines, service_calls, topic_uses
from kb.contract.records import (
    Checkpoint,
    CodeOwnerRecord,
    DependencyRecord,
    DocumentRecord,
    DocumentSet,
    EventTopicRecord,
    Failure,
    IncidentRecord,
    Record,
    ServiceRecord,
    Skipped,
    WisdomRecord,
)
from kb.store.models import (
    AdrStatus,
    DependencyKind,
    DocumentKind,
    EventRole,
    Severity,
    WisdomKind,
    WisdomStatus,
)

REPO = "order-service"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Alice Doe",
    "GIT_AUTHOR_EMAIL": "alice@example.com",
    "GIT_COMMITTER_NAME": "Alice Doe",
    "GIT_COMMITTER_EMAIL": "alice@example.com",
    "GIT_AUTHOR_DATE": "2024-03-20T10:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-03-20T10:00:00+00:00",
}
MAX_BYTES = 20_000
R = TypeVar("R")


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    # load_content runs git itself: isolate it from the user's config too.
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def git(repo: Path, *args: str) -> str:
    res = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, check=True, env=os.environ
    )
    return res.stdout.decode().strip()


def commit(repo: Path, files: dict[str, str | bytes], delete: tuple[str, ...] = ()) -> str:
    for path, content in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    for path in delete:
        (repo / path).unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    return git(repo, "rev-parse", "HEAD")


def run(repo: Path, previous: dict[str, Any] | None = None, **options: Any) -> list[Record]:
    head = git(repo, "rev-parse", "HEAD")
    return list(load_content(repo, REPO, head, previous, MAX_BYTES, options))


def of(records: list[Record], kind: type[R]) -> list[R]:
    return [r for r in records if isinstance(r, kind)]


def by_id(records: list[Record]) -> dict[str, DocumentRecord | WisdomRecord]:
    return {r.external_id: r for r in records if isinstance(r, (DocumentRecord, WisdomRecord))}


def fid(path: str, part: str) -> str:
    return f"git:{REPO}:file:{path}#{part}"


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --- the fixture repository -------------------------------------------------------------------

README = """# order-service

Takes orders from checkout and tracks them until they are delivered.

## Running

    make run
"""

GUIDE = """# Operations guide

## Deploys

Deploy with the pipeline; never by hand.

## Rollbacks

Roll back by redeploying the previous tag.
"""

ADR_1 = """# 1. Record architecture decisions

Date: 2023-11-06

## Status

Accepted

## Context

We need to record decisions.

## Decision

We use Nygard ADRs.

## Consequences

Decisions are reviewed like code.
"""

ADR_2 = """# 2. Synchronous payment calls

Date: 2023-11-09

## Status

Superseded by [ADR-0003](0003-async-payments.md) on 2024-03-19

## Context

Checkout must know whether the payment went through.

## Decision

order-service calls payment-service over HTTP with a 30 second timeout.

## Consequences

Checkout latency includes the provider's latency.
"""

ADR_3 = """# 3. Asynchronous payment via events

Date: 2024-03-15

## Status

Accepted

Supersedes [ADR-0002](0002-sync-payments.md)

## Context

INC-2024-03: a slow provider took checkout down.

## Decision

Publish order.payment_requested and wait for payment.completed.

## Consequences

Payments are eventually consistent.
"""

ADR_NO_STATUS = """# 4. Cache the catalogue

Date: 2024-05-01

## Context

The catalogue is slow.

## Decision

Cache it for five minutes.
"""

ADR_ODD_STATUS = """# 5. Split the monolith

## Status

Pending review

## Context

It is big.

## Decision

Split it.
"""

MADR_3 = """---
status: accepted
date: 2024-03-15
deciders: Alex Morgan, Chen Wei
---
# Use idempotency keys for every provider call

## Context and Problem Statement

Retries created duplicate charges. How do we charge at most once?

## Considered Options

* Stripe idempotency keys
* Deduplicate in our database

## Decision Outcome

Chosen option: "Stripe idempotency keys", because it covers timeouts too.

### Consequences

* Good, because a retry returns the original outcome.
* Bad, because Stripe forgets keys after 24 hours.
"""

MADR_2 = """# Store money as integer minor units

* Status: accepted
* Deciders: Alex Morgan
* Date: 2024-04-02

## Context and Problem Statement

Which representation avoids rounding drift?

## Decision Outcome

Chosen option: "Integer minor units", because it is exact.
"""

MADR_BROKEN = """---
status: accepted
date: [2024-04-02
---
# Broken front matter

## Context and Problem Statement

Something.

## Decision Outcome

Chosen option: "x".
"""

CONFIG_PY = '''"""Runtime settings for order-service, read once from the environment at startup.

Every URL has a local default so the service runs without a compose stack.
"""

import os

INVENTORY_SERVICE_URL = os.environ.get("INVENTORY_SERVICE_URL", "http://inventory-service:8080")
DATABASE_URL = os.environ["DATABASE_URL"]
'''

CLIENTS_PY = '''"""HTTP clients of the services order-service calls during checkout."""

import httpx

from order import config

# Talks to http://analytics-service:8080/stats only in a comment: not a dependency.
log = None


def reserve(order_id: str) -> dict:
    """Hold stock. See http://notification-service/docs (a docstring, not a call)."""
    # DO NOT raise this timeout: checkout workers block while we wait
    # (INC-2024-03 took checkout down for 47 minutes).
    return httpx.post(f"{config.INVENTORY_SERVICE_URL}/reservations", timeout=2).json()


def customer(user_id: str) -> dict:
    url = f"http://user-service:8080/users/{user_id}"  # HACK: no client library yet
    return httpx.get(url).json()


def total(order: dict) -> int:
    # FIXME: tax is rounded per line, finance wants it per order
    return sum(line["amount"] for line in order["lines"])


def legacy_total(order: dict) -> int:
    # This is the legacy v1 pricing path; careful, partners still call it.
    return total(order)


def fine(x: int) -> int:
    # A legacy_client variable name, but nothing warns here: warnings_total is fine.
    return x
'''

EVENTS_PY = '''"""Order events on Kafka."""

from order.bus import publish, subscribe


async def order_created(order: dict) -> None:
    await publish("order.created", order, key=order["id"])


@subscribe("payment.completed")
async def on_payment_completed(event: dict) -> None:
    topic = "order.confirmed"
    await publish(topic, event["data"], key=event["data"]["order_id"])
'''

GO_FILE = """// Package ledger keeps the order ledger consistent with payments and refunds.
package ledger

// WARNING: amounts are minor units; never divide by 100 blindly.
const Scale = 100

var s = "// DO NOT this is a string, not a comment"
"""

SQL_FILE = """-- DO NOT reorder these statements: the view depends on the table.
CREATE TABLE orders (id text primary key);
CREATE VIEW open_orders AS SELECT * FROM orders;
"""

SETTINGS_YAML = """retries:
  # careful: retries without idempotency keys charge twice
  payment: 0
description: don't touch the defaults
"""

OPENAPI = """openapi: 3.0.3
info:
  title: order-service
  version: 1.2.0
  description: Orders for ShopFast checkout.
paths:
  /orders:
    post:
      summary: Place an order
  /orders/{order_id}:
    get:
      summary: Get an order
"""

ASYNCAPI = """asyncapi: 2.6.0
info:
  title: order-service events
  version: 1.0.0
channels:
  order.created:
    description: An order was placed.
    subscribe:
      operationId: publishOrderCreated
  payment.completed:
    description: Published by payment-service.
    publish:
      operationId: onPaymentCompleted
"""

CATALOG = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: order-service
  description: Orders and checkout
spec:
  type: service
  owner: group:orders
  dependsOn:
    - component:inventory-service
    - resource:orders-db
"""

CODEOWNERS = """# Orders team owns the service
*                @shopfast/orders
src/order/       @alice @bob
"""

COMPOSE = """services:
  postgres:
    image: postgres:15.5
  order-service:
    build: .
    environment:
      DATABASE_URL: postgres://orders@postgres:5432/orders
      PAYMENT_SERVICE_URL: http://payment-service:8080
    depends_on:
      - postgres
      - payment-service
  payment-service:
    image: shopfast/payment-service:latest
  reporting-job:
    build: ./reporting
    environment:
      ORDERS_DB: postgres://reporting@postgres:5432/orders
"""

POSTMORTEM = """# Postmortem: Checkout outage (INC-2024-03)

- **Date:** 2024-03-14
- **Duration:** 47 minutes (14:02–14:49 UTC)
- **Severity:** SEV1
- **Services:** order-service, payment-service

## Summary

Checkout was down while Stripe was slow.

## Timeline (UTC)

- 14:02 PagerDuty: order-service 5xx.
- 14:21 Mitigation: timeout 30 → 5.
- 14:49 Checkout back to baseline. Resolved.

## Root cause

Checkout depended synchronously on the payment provider.

## Resolution

Shorter timeouts and more pods restored checkout.

## Action items

- SHOP-412 Make order→payment asynchronous.
"""

FILES: dict[str, str | bytes] = {
    "README.md": README,
    "docs/guide.md": GUIDE,
    "docs/adr/0001-record-architecture-decisions.md": ADR_1,
    "docs/adr/0002-sync-payments.md": ADR_2,
    "docs/adr/0003-async-payments.md": ADR_3,
    "docs/adr/0004-cache-catalogue.md": ADR_NO_STATUS,
    "docs/adr/0005-split-monolith.md": ADR_ODD_STATUS,
    "docs/adr/README.md": "# Decisions\n\nThe index of our decisions.\n",
    "docs/decisions/0001-use-idempotency-keys.md": MADR_3,
    "docs/decisions/0002-store-amounts-in-minor-units.md": MADR_2,
    "docs/decisions/0003-broken.md": MADR_BROKEN,
    "docs/postmortems/2024-03-14-checkout-outage.md": POSTMORTEM,
    "src/order/__init__.py": '"""order."""\n',
    "src/order/config.py": CONFIG_PY,
    "src/order/clients.py": CLIENTS_PY,
    "src/order/events.py": EVENTS_PY,
    "ledger/ledger.go": GO_FILE,
    "db/001_orders.sql": SQL_FILE,
    "config/settings.yaml": SETTINGS_YAML,
    "openapi.yaml": OPENAPI,
    "asyncapi.yaml": ASYNCAPI,
    "catalog-info.yaml": CATALOG,
    ".github/CODEOWNERS": CODEOWNERS,
    "docker-compose.yml": COMPOSE,
    "tests/test_clients.py": 'URL = "http://fraud-service:8080/check"\n',
    "broken/openapi.yaml": "openapi: 3.0.0\ninfo:\n  title: x\npaths: {\n  /a: [\n",
    "broken/docker-compose.yml": "services:\n  a:\n    image: x\n   b: y\n",
    ".gitattributes": "generated/** linguist-generated\nexternal/** linguist-vendored\n",
    # skipped, each for its reason
    "vendor/github.com/x/y.go": "package y\n// DO NOT EDIT vendored\n",
    "node_modules/left-pad/index.js": "module.exports = 1;\n",
    "external/lib.py": "x = 1\n",
    "package-lock.json": "{}\n",
    "poetry.lock": "# lock\n",
    "go.sum": "x v1 h1:abc\n",
    "logo.png": b"\x89PNG\r\n\x1a\n",
    "data/blob.xyz": b"abc\x00def",
    "docs/huge.txt": "word " * 5000,
    "api/orders_pb2.py": "# generated\n",
    "generated/client.py": "x = 1\n",
    "ledger/models_gen.go": "// Code generated by sqlc. DO NOT EDIT.\npackage ledger\n",
    "deploy/all.yaml": "# Copyright 2024\n#\n# WARNING: This file is autogenerated.\nx: 1\n",
    "scripts/release.sh": "#!/bin/sh\ncat > deploy/all.yaml <<'EOF'\n# DO NOT EDIT\nEOF\n",
    "docs/latin1.md": "caf\xe9 au lait\n".encode("latin-1"),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("repo") / REPO
    path.mkdir()
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "-C", str(path), "init", "-q", "-b", "main"], check=True, env=env)
    for target, content in FILES.items():
        f = path / target
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
    (path / "docs/readme-link.md").symlink_to("../README.md")
    for args in (["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env)
    yield path


@pytest.fixture(scope="module")
def records(repo: Path) -> list[Record]:
    mp = pytest.MonkeyPatch()
    for key, value in GIT_ENV.items():
        mp.setenv(key, value)
    try:
        return run(repo)
    finally:
        mp.undo()


# --- docs -------------------------------------------------------------------------------------


def test_docs_carry_their_source(records: list[Record], repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    docs = by_id(records)
    guide = docs[fid("docs/guide.md", "doc")]
    assert isinstance(guide, DocumentRecord)
    assert guide.kind is DocumentKind.DOC
    assert guide.title == "Operations guide"
    assert (guide.repo, guide.path, guide.commit_sha, guide.url) == (
        REPO,
        "docs/guide.md",
        head,
        None,
    )
    assert guide.service == REPO
    assert "Roll back by redeploying" in guide.body
    assert guide.chunks is None  # the pipeline chunks by headings
    readme = docs[fid("README.md", "doc")]
    assert readme.title == "order-service"
    # An ADR folder's index is a doc, not an ADR.
    index = docs[fid("docs/adr/README.md", "doc")]
    assert isinstance(index, DocumentRecord) and index.kind is DocumentKind.DOC


# --- ADRs -------------------------------------------------------------------------------------


def test_nygard_adrs_with_a_superseded_chain(records: list[Record]) -> None:
    docs = by_id(records)
    adr2 = docs[fid("docs/adr/0002-sync-payments.md", "adr")]
    adr3 = docs[fid("docs/adr/0003-async-payments.md", "adr")]
    assert isinstance(adr2, DocumentRecord) and isinstance(adr3, DocumentRecord)
    assert adr2.kind is DocumentKind.ADR
    assert adr2.title == "ADR-0002: Synchronous payment calls"
    assert adr2.status is AdrStatus.SUPERSEDED
    assert adr2.meta["number"] == 2 and adr2.meta["date"] == "2023-11-09"
    assert adr2.meta["style"] == "nygard"
    assert adr2.meta["superseded_by"] == [fid("docs/adr/0003-async-payments.md", "adr")]
    assert adr3.status is AdrStatus.ACCEPTED
    assert adr3.meta["supersedes"] == [fid("docs/adr/0002-sync-payments.md", "adr")]

    why2 = docs[fid("docs/adr/0002-sync-payments.md", "rationale")]
    assert isinstance(why2, WisdomRecord)
    assert why2.kind is WisdomKind.DESIGN_RATIONALE
    assert why2.status is WisdomStatus.SUPERSEDED
    assert why2.superseded_by_external_id == fid("docs/adr/0003-async-payments.md", "rationale")
    assert why2.title == "ADR-0002: Synchronous payment calls"
    assert why2.document_external_id == adr2.external_id
    assert why2.service == REPO
    assert why2.created_at == datetime(2023, 11, 9, tzinfo=UTC)
    assert "30 second timeout" in why2.body and why2.body.startswith("Context:")
    why3 = docs[fid("docs/adr/0003-async-payments.md", "rationale")]
    assert isinstance(why3, WisdomRecord)
    assert why3.status is WisdomStatus.ACTIVE and why3.superseded_by_external_id is None
    why1 = docs[fid("docs/adr/0001-record-architecture-decisions.md", "rationale")]
    assert isinstance(why1, WisdomRecord) and why1.status is WisdomStatus.ACTIVE


def test_madr_3_and_madr_2(records: list[Record]) -> None:
    docs = by_id(records)
    madr = docs[fid("docs/decisions/0001-use-idempotency-keys.md", "adr")]
    assert isinstance(madr, DocumentRecord)
    assert madr.status is AdrStatus.ACCEPTED
    assert madr.title == "ADR-0001: Use idempotency keys for every provider call"
    assert madr.meta["style"] == "madr"
    assert madr.meta["deciders"] == ["Alex Morgan", "Chen Wei"]
    assert madr.meta["date"] == "2024-03-15"
    why = docs[fid("docs/decisions/0001-use-idempotency-keys.md", "rationale")]
    assert "Chosen option" in why.body and "forgets keys after 24 hours" in why.body
    assert "How do we charge at most once?" in why.body
    madr2 = docs[fid("docs/decisions/0002-store-amounts-in-minor-units.md", "adr")]
    assert isinstance(madr2, DocumentRecord)
    assert madr2.status is AdrStatus.ACCEPTED
    assert (madr2.meta["style"], madr2.meta["date"]) == ("madr", "2024-04-02")
    assert madr2.meta["deciders"] == ["Alex Morgan"]


def test_malformed_adrs_fail_with_path_and_line_and_stay_searchable(
    records: list[Record],
) -> None:
    failures = {f.where: f.message for f in of(records, Failure)}
    no_status = f"{REPO}:docs/adr/0004-cache-catalogue.md:1"
    assert "no status" in failures[no_status]
    doc = by_id(records)[fid("docs/adr/0004-cache-catalogue.md", "doc")]
    assert isinstance(doc, DocumentRecord) and doc.kind is DocumentKind.DOC
    assert "Cache it for five minutes" in doc.body
    assert fid("docs/adr/0004-cache-catalogue.md", "adr") not in by_id(records)

    # YAML error on line 3 of the file (inside the front matter).
    broken = [w for w in failures if w.startswith(f"{REPO}:docs/decisions/0003-broken.md:")]
    assert broken == [f"{REPO}:docs/decisions/0003-broken.md:3"]
    assert "front matter" in failures[broken[0]]
    assert fid("docs/decisions/0003-broken.md", "doc") in by_id(records)

    # An unknown status is kept as UNKNOWN, with a failure naming the status line.
    odd = by_id(records)[fid("docs/adr/0005-split-monolith.md", "adr")]
    # A status written as real repositories write it is read, kept as written, and reported
    # as no failure.
    assert isinstance(odd, DocumentRecord) and odd.status is AdrStatus.PROPOSED
    assert odd.meta["status_raw"] == "Pending review"
    assert f"{REPO}:docs/adr/0005-split-monolith.md:5" not in failures


# --- code -------------------------------------------------------------------------------------


def test_danger_comments_with_lines_and_severities(records: list[Record]) -> None:
    dangers = [w for w in of(records, WisdomRecord) if w.kind is WisdomKind.DANGER_ZONE]
    found = {(w.path_glob, w.line): w for w in dangers}
    clients = "src/order/clients.py"
    expected = {
        (clients, line_of(CLIENTS_PY, "DO NOT raise")): Severity.HIGH,
        (clients, line_of(CLIENTS_PY, "HACK:")): Severity.MEDIUM,
        (clients, line_of(CLIENTS_PY, "FIXME")): Severity.LOW,
        (clients, line_of(CLIENTS_PY, "legacy v1")): Severity.MEDIUM,
        ("ledger/ledger.go", line_of(GO_FILE, "WARNING")): Severity.MEDIUM,
        ("db/001_orders.sql", 1): Severity.HIGH,
        ("config/settings.yaml", line_of(SETTINGS_YAML, "careful")): Severity.MEDIUM,
    }
    assert {k: w.severity for k, w in found.items()} == expected
    block = found[(clients, line_of(CLIENTS_PY, "DO NOT raise"))]
    assert block.title.startswith("DO NOT raise this timeout")
    assert "(INC-2024-03 took checkout down" in block.body  # the whole comment block
    assert "httpx.post(" in block.body  # and the code it sits on
    assert block.origin.value == "extracted" and block.repo == REPO and block.service == REPO
    assert block.external_id.startswith(fid(clients, "danger:"))
    hack = found[(clients, line_of(CLIENTS_PY, "HACK:"))]
    assert 'url = f"http://user-service:8080' in hack.body


def test_comment_scanner_ignores_markers_in_strings() -> None:
    py = 'x = "# DO NOT"  # real\ns = """\n# WARNING in a string\n"""\n'
    assert [(c.line, c.text) for c in find_comments(py, comment_syntax("a.py"))] == [(1, "real")]
    js = "const a = `// HACK not a comment`; /* HACK: a\n * block */ f();\n"
    dangers = danger_comments(js, comment_syntax("a.ts"))
    assert [(d.line, d.body.splitlines()[:2]) for d in dangers] == [(1, ["HACK: a", "block"])]


def test_module_docstrings_become_code_documents(records: list[Record]) -> None:
    docs = by_id(records)
    config = docs[fid("src/order/config.py", "code")]
    assert isinstance(config, DocumentRecord) and config.kind is DocumentKind.CODE
    assert config.body.startswith("Runtime settings for order-service")
    assert config.chunks and config.chunks[0].start_line == 1
    go = docs[fid("ledger/ledger.go", "code")]
    assert "keeps the order ledger consistent" in go.body
    # Too little prose to be worth a document.
    assert fid("src/order/__init__.py", "code") not in docs
    assert fid("src/order/events.py", "code") not in docs  # "Order events on Kafka."


# --- ownership, services, dependencies --------------------------------------------------------


def test_codeowners_and_catalog_and_service(records: list[Record]) -> None:
    owners = {(o.pattern, o.owner, o.line) for o in of(records, CodeOwnerRecord)}
    assert owners == {
        ("*", "@shopfast/orders", 2),
        ("src/order/", "@alice", 3),
        ("src/order/", "@bob", 3),
    }
    services = of(records, ServiceRecord)
    assert services == [
        ServiceRecord(
            name=REPO,
            repo=REPO,
            path_prefix="",
            owner_team="orders",
            owner=None,
            description="Takes orders from checkout and tracks them until they are delivered.",
        )
    ]
    assert records.index(services[0]) < min(
        records.index(r) for r in records if isinstance(r, (DocumentRecord, WisdomRecord))
    )
    catalog = [d for d in of(records, DependencyRecord) if d.evidence_path == "catalog-info.yaml"]
    assert catalog == [
        DependencyRecord(
            REPO, "inventory-service", DependencyKind.SYNC_HTTP, "", REPO, "catalog-info.yaml", 10
        )
    ]


def deps(records: list[Record]) -> set[tuple[str, str, str, str, str, int | None]]:
    return {
        (d.from_service, d.to_service, d.kind.value, d.detail, d.evidence_path or "",
         d.evidence_line)
        for d in of(records, DependencyRecord)
    }  # fmt: skip


def test_dependencies_from_code_with_evidence(records: list[Record]) -> None:
    found = deps(records)
    config, clients = "src/order/config.py", "src/order/clients.py"
    sync = DependencyKind.SYNC_HTTP.value
    assert (REPO, "inventory-service", sync, "", config, line_of(CONFIG_PY, "INVENTORY")) in found
    reserve = line_of(CLIENTS_PY, "/reservations")
    assert (REPO, "inventory-service", sync, "POST /reservations", clients, reserve) in found
    users = line_of(CLIENTS_PY, "http://user-service")
    assert (REPO, "user-service", sync, "/users/{user_id}", clients, users) in found
    targets = {d[1] for d in found}
    # Comments, docstrings and test fixtures are no evidence; nothing depends on itself.
    assert not targets & {"analytics-service", "notification-service", "fraud-service"}
    assert all(d[0] != d[1] for d in found)


def test_compose_dependencies(records: list[Record]) -> None:
    compose = {d for d in deps(records) if d[4] == "docker-compose.yml"}
    # One record per edge: the URL in the environment wins over depends_on.
    assert compose == {
        (REPO, "payment-service", "sync_http", "", "docker-compose.yml",
         line_of(COMPOSE, "PAYMENT_SERVICE_URL")),
        ("reporting-job", REPO, "shared_db", "database orders", "docker-compose.yml",
         line_of(COMPOSE, "ORDERS_DB")),
    }  # fmt: skip


def test_event_topics_from_code_and_asyncapi(records: list[Record]) -> None:
    topics = {
        (t.topic, t.role, t.evidence_path, t.evidence_line, t.contract_path)
        for t in of(records, EventTopicRecord)
    }
    events = "src/order/events.py"
    assert topics == {
        ("order.created", EventRole.PUBLISH, events, line_of(EVENTS_PY, '"order.created"'), None),
        ("payment.completed", EventRole.SUBSCRIBE, events, line_of(EVENTS_PY, "@subscribe"),
         None),
        ("order.confirmed", EventRole.PUBLISH, events, line_of(EVENTS_PY, "publish(topic"),
         None),
        # AsyncAPI 2: a `subscribe` operation means the service publishes, and vice versa.
        ("order.created", EventRole.PUBLISH, "asyncapi.yaml", 6, "asyncapi.yaml"),
        ("payment.completed", EventRole.SUBSCRIBE, "asyncapi.yaml", 10, "asyncapi.yaml"),
    }  # fmt: skip
    assert {t.service for t in of(records, EventTopicRecord)} == {REPO}


def test_contracts_are_readable_documents(records: list[Record]) -> None:
    docs = by_id(records)
    api = docs[fid("openapi.yaml", "contract")]
    assert isinstance(api, DocumentRecord) and api.kind is DocumentKind.CONTRACT
    assert "`POST /orders`: Place an order" in api.body
    assert "`GET /orders/{order_id}`: Get an order" in api.body
    assert api.meta["endpoints"] == ["POST /orders", "GET /orders/{order_id}"]
    events = docs[fid("asyncapi.yaml", "contract")]
    assert "`order.created`: this service publishes it. An order was placed." in events.body


def test_postmortem_becomes_an_incident(records: list[Record]) -> None:
    path = "docs/postmortems/2024-03-14-checkout-outage.md"
    doc = by_id(records)[fid(path, "postmortem")]
    assert isinstance(doc, DocumentRecord) and doc.kind is DocumentKind.POSTMORTEM
    [incident] = of(records, IncidentRecord)
    assert incident.external_id == "incident:INC-2024-03"
    assert incident.title == "Postmortem: Checkout outage (INC-2024-03)"
    assert incident.started_at == datetime(2024, 3, 14, 14, 2, tzinfo=UTC)
    assert incident.ended_at == datetime(2024, 3, 14, 14, 49, tzinfo=UTC)
    assert incident.severity is Severity.CRITICAL
    assert incident.services == ("order-service", "payment-service")
    assert incident.root_cause == "Checkout depended synchronously on the payment provider."
    assert incident.resolution and "Shorter timeouts" in incident.resolution
    assert incident.postmortem_external_id == doc.external_id
    lesson = by_id(records)[fid(path, "lesson")]
    assert isinstance(lesson, WisdomRecord) and lesson.kind is WisdomKind.INCIDENT
    assert "depended synchronously" in lesson.body and "SHOP-412" in lesson.body
    assert lesson.document_external_id == doc.external_id


# --- skips and failures -----------------------------------------------------------------------


def test_skips_are_counted_by_reason(records: list[Record]) -> None:
    counts = {s.reason: s.count for s in of(records, Skipped)}
    assert counts == {
        "vendored": 3,  # vendor/, node_modules/, .gitattributes linguist-vendored
        "lock file": 3,
        "binary": 2,  # by extension, by a NUL byte
        "too large": 1,
        # *_pb2.py, linguist-generated, "Code generated ... DO NOT EDIT", an autogenerated banner
        "generated": 4,
        "symlink": 1,
    }
    symlink = next(s for s in of(records, Skipped) if s.reason == "symlink")
    assert symlink.where == f"{REPO}:docs/readme-link.md"
    # A banner written by a script, inside a here-document, is no warning about the script.
    assert not [w for w in of(records, WisdomRecord) if w.path_glob == "scripts/release.sh"]
    indexed = {r.path for r in of(records, DocumentRecord)} | {
        w.path_glob for w in of(records, WisdomRecord)
    }
    assert not indexed & {"vendor/github.com/x/y.go", "ledger/models_gen.go", "docs/huge.txt"}


def test_non_utf8_file_is_a_failure_naming_the_path(records: list[Record]) -> None:
    failure = next(f for f in of(records, Failure) if f.where == f"{REPO}:docs/latin1.md")
    assert failure.message == "not UTF-8 text (invalid byte 0xe9 at offset 3); skipped"


def test_a_file_that_breaks_a_parser_is_a_failure_with_its_line(records: list[Record]) -> None:
    failures = {f.where: f.message for f in of(records, Failure)}
    assert failures[f"{REPO}:broken/openapi.yaml:5"].startswith("invalid YAML:")
    assert failures[f"{REPO}:broken/docker-compose.yml:4"].startswith("invalid YAML:")
    # ... and the rest of the repo is still read.
    assert fid("openapi.yaml", "contract") in by_id(records)


def test_first_run_ends_with_the_checkpoint(records: list[Record], repo: Path) -> None:
    assert not of(records, DocumentSet)  # nothing stored yet, nothing to delete
    checkpoint = records[-1]
    assert isinstance(checkpoint, Checkpoint)
    head = git(repo, "rev-parse", "HEAD")
    assert checkpoint.cursor["content_head"] == head
    tree = git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert sorted(checkpoint.cursor["files"]) == sorted(tree)
    assert checkpoint.cursor["adr_supersedes"] == {
        "docs/adr/0003-async-payments.md": ["docs/adr/0002-sync-payments.md"]
    }


# --- incremental ------------------------------------------------------------------------------


def test_same_head_yields_only_a_checkpoint(records: list[Record], repo: Path) -> None:
    cursor = of(records, Checkpoint)[-1].cursor
    assert run(repo, cursor) == [Checkpoint(cursor)]


def test_same_head_with_other_service_options_is_read_again(
    records: list[Record], repo: Path
) -> None:
    cursor = of(records, Checkpoint)[-1].cursor
    again = run(repo, cursor, service="orders")
    assert [s.name for s in of(again, ServiceRecord)] == ["orders"]
    assert by_id(again)[fid("docs/guide.md", "doc")].service == "orders"
    # A full re-read, closed by one set over the repo that keeps exactly what was re-read.
    [everything] = of(again, DocumentSet)
    assert everything.prefix == f"git:{REPO}:file:"
    assert everything.external_ids == set(by_id(again)) == set(by_id(records))


def test_changed_and_deleted_files(tmp_path: Path) -> None:
    repo = tmp_path / REPO
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {k: FILES[k] for k in ("README.md", "docs/guide.md", "src/order/clients.py")})
    first = run(repo)
    cursor = of(first, Checkpoint)[-1].cursor
    clients = "src/order/clients.py"
    changed = CLIENTS_PY.replace(
        "    # FIXME: tax is rounded per line, finance wants it per order\n", ""
    )
    commit(repo, {clients: changed}, delete=("docs/guide.md",))
    second = run(repo, cursor)

    # Nothing from the unchanged README; the changed file's records and its set.
    assert {r.path for r in of(second, DocumentRecord)} <= {clients}
    assert not of(second, ServiceRecord)
    sets = {s.prefix: s.external_ids for s in of(second, DocumentSet)}
    now = {w.external_id for w in of(second, WisdomRecord)} | {
        d.external_id for d in of(second, DocumentRecord)
    }
    assert sets[fid(clients, "")] == now
    assert fid(clients, "code") in now
    assert len([i for i in now if "#danger:" in i]) == 3  # the FIXME is gone
    old_dangers = {w.external_id for w in of(first, WisdomRecord) if "#danger:" in w.external_id}
    assert len(old_dangers - now) == 1  # the stale one is dropped by the set
    assert sets[fid("docs/guide.md", "")] == frozenset()
    assert set(sets) == {fid(clients, ""), fid("docs/guide.md", "")}
    final = of(second, Checkpoint)[-1].cursor
    assert "docs/guide.md" not in final["files"]


def test_a_new_adr_supersedes_an_unchanged_one(tmp_path: Path) -> None:
    repo = tmp_path / REPO
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    adr1 = "docs/adr/0001-record-architecture-decisions.md"
    commit(repo, {adr1: ADR_1})
    cursor = of(run(repo), Checkpoint)[-1].cursor
    new = ADR_3.replace("# 3.", "# 2.").replace(
        "Supersedes [ADR-0002](0002-sync-payments.md)", "Supersedes ADR-0001"
    )
    commit(repo, {"docs/adr/0002-events.md": new})
    second = run(repo, cursor)
    old = by_id(second)[fid(adr1, "rationale")]  # re-emitted although its blob is unchanged
    assert isinstance(old, WisdomRecord) and old.status is WisdomStatus.SUPERSEDED
    assert old.superseded_by_external_id == fid("docs/adr/0002-events.md", "rationale")
    # Deleting the new ADR makes the old one current again.
    cursor = of(second, Checkpoint)[-1].cursor
    commit(repo, {}, delete=("docs/adr/0002-events.md",))
    third = run(repo, cursor)
    again = by_id(third)[fid(adr1, "rationale")]
    assert isinstance(again, WisdomRecord) and again.status is WisdomStatus.ACTIVE
    assert DocumentSet(fid("docs/adr/0002-events.md", ""), frozenset()) in third


def test_options_name_the_service_or_map_a_monorepo(tmp_path: Path) -> None:
    repo = tmp_path / "platform"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo,
        {
            "docker-compose.yml": COMPOSE,
            "README.md": "# platform\n\nThe local stack.\n",
            "services/billing/README.md": "# billing\n\nBills customers every month.\n",
            "services/billing/app.py": "# careful: month ends are in UTC\nX = 1\n",
        },
    )
    # A repo of compose files and docs is not a service by default ...
    only_compose = [d for d in deps(run(repo)) if d[0] == "platform"]
    assert only_compose == []
    # ... while a monorepo maps services by path prefix.
    records = run(repo, services={"services/billing": "billing-service"})
    [svc] = of(records, ServiceRecord)
    assert (svc.name, svc.path_prefix, svc.description) == (
        "billing-service",
        "services/billing/",
        "Bills customers every month.",
    )
    [danger] = [w for w in of(records, WisdomRecord) if w.kind is WisdomKind.DANGER_ZONE]
    assert danger.service == "billing-service"
    assert by_id(records)[fid("README.md", "doc")].service is None
    # {"service": false} says a repo holds no service even when it has code.
    assert not of(run(repo, service=False), ServiceRecord)


def test_reference_scanner_ignores_comments_and_docstrings() -> None:
    src = (
        '"""Calls http://docs-service/x."""\n'
        "# http://comment-service/y\n"
        'resp = client.get(f"{settings.user_service_url}/users/{uid}")\n'
        'producer.send("audit.log", b"x")\n'
        'consumer.subscribe(["a.b", "c.d"])\n'
    )
    lines = code_lines(src, comment_syntax("x.py"), python=True)
    assert [(c.target, c.detail, c.line) for c in service_calls(lines)] == [
        ("user-service", "GET /users/{uid}", 3)
    ]
    assert [(t.topic, t.role.value, t.line) for t in topic_uses(lines)] == [
        ("audit.log", "publish", 4),
        ("a.b", "subscribe", 5),
        ("c.d", "subscribe", 5),
    ]


# --- the demo organisation --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Record]]:
    """The seeded demo org and everything the content loader yields for its repos."""
    pytest.importorskip("seed")
    from seed import generate_demo_org

    mp = pytest.MonkeyPatch()
    for key, value in GIT_ENV.items():
        mp.setenv(key, value)
    try:
        org = generate_demo_org(tmp_path_factory.mktemp("demo") / "org")
        found: list[Record] = []
        for name in org.manifest["repos"]:
            path = org.repo_path(name)
            head = git(path, "rev-parse", "HEAD")
            found.extend(load_content(path, name, head, None, 1_000_000, {}))
    finally:
        mp.undo()
    return org.manifest, found


def test_demo_org_adrs_and_danger_zones(demo: tuple[dict[str, Any], list[Record]]) -> None:
    manifest, found = demo
    adrs = {(d.repo, d.path): d for d in of(found, DocumentRecord) if d.kind is DocumentKind.ADR}
    rationale = {(w.repo, w.path_glob): w for w in of(found, WisdomRecord)}
    assert len(adrs) == len(manifest["adrs"])
    for truth in manifest["adrs"]:
        doc = adrs[(truth["repo"], truth["path"])]
        assert (doc.status.value if doc.status else None, doc.meta["number"]) == (
            truth["status"],
            truth["number"],
        )
        assert doc.meta["style"] == truth["style"] and doc.title.endswith(truth["title"])
        why = rationale[(truth["repo"], truth["path"])]
        if truth["superseded_by"]:
            assert why.status is WisdomStatus.SUPERSEDED
            assert f"/{truth['superseded_by']:04d}-" in (why.superseded_by_external_id or "")
    dangers = {
        (w.repo, w.path_glob, w.line): w.severity.value
        for w in of(found, WisdomRecord)
        if w.kind is WisdomKind.DANGER_ZONE
    }
    assert dangers == {
        (z["repo"], z["path"], z["line"]): z["severity"] for z in manifest["danger_zones"]
    }


def test_demo_org_dependencies(demo: tuple[dict[str, Any], list[Record]]) -> None:
    manifest, found = demo
    deps = of(found, DependencyRecord)
    topics = of(found, EventTopicRecord)
    for truth in manifest["declared_dependencies"]:
        src, dst, via, evidence = truth["from"], truth["to"], truth["via"], truth["evidence"]
        if truth["kind"] == "sync_http":
            assert any(
                (d.from_service, d.to_service, d.kind.value, d.evidence_repo, d.evidence_path)
                == (src, dst, "sync_http", evidence["repo"], evidence["path"])
                for d in deps
            ), truth
        else:  # the pipeline derives async edges from subscriber and publisher topics
            assert any(
                (t.service, t.topic, t.role, t.evidence_path)
                == (src, via, EventRole.SUBSCRIBE, evidence["path"])
                for t in topics
            ), truth
            assert any(
                (t.service, t.topic, t.role) == (dst, via, EventRole.PUBLISH) for t in topics
            )
    # The undeclared coupling (a shared table) must not be invented from anything in git.
    hidden = set(manifest["undeclared_dependency"]["services"])
    assert not [d for d in deps if {d.from_service, d.to_service} == hidden]
    published = {t.topic for t in topics if t.service in hidden and t.role is EventRole.PUBLISH}
    subscribed = {t.topic for t in topics if t.service in hidden and t.role is EventRole.SUBSCRIBE}
    assert not published & subscribed
    services = {s.name: s.owner_team for s in of(found, ServiceRecord)}
    assert services == {name: s["team"] for name, s in manifest["services"].items()}


def test_demo_org_postmortems(demo: tuple[dict[str, Any], list[Record]]) -> None:
    manifest, found = demo
    incidents = {i.external_id: i for i in of(found, IncidentRecord)}
    for truth in manifest["incidents"]:
        if truth["postmortem"] is None:
            continue
        incident = incidents[f"incident:{truth['id']}"]
        assert incident.started_at and incident.started_at.isoformat() == truth["start"]
        assert incident.ended_at and incident.ended_at.isoformat() == truth["end"]
        assert sorted(incident.services) == sorted(truth["services"])
    assert not of(found, Failure)


def test_through_the_git_connector(tmp_path: Path) -> None:
    from connectors.git import GitConnector
    from kb.contract.connector import SourceConfig
    from kb.settings import Settings

    repo = tmp_path / REPO
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    head = commit(
        repo, {k: FILES[k] for k in ("README.md", "docs/adr/0001-record-architecture-decisions.md")}
    )
    source = SourceConfig(kind="git", name=REPO, location=str(repo))
    connector = GitConnector(source, Settings(home=tmp_path / "kb"))
    first = list(connector.load({}))
    assert fid("docs/adr/0001-record-architecture-decisions.md", "rationale") in by_id(first)
    cursor = of(first, Checkpoint)[-1].cursor
    assert cursor["content_head"] == head and cursor["last_commit"] == head
    again = list(connector.load(cursor))
    assert not of(again, DocumentRecord) and not of(again, WisdomRecord)


def test_an_unreadable_blob_is_a_failure_and_is_retried(tmp_path: Path) -> None:
    repo = tmp_path / REPO
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"README.md": README, "docs/guide.md": GUIDE})
    blob = git(repo, "rev-parse", "HEAD:docs/guide.md")
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # a corrupt clone
    records = run(repo)
    [failure] = of(records, Failure)
    assert failure.where == f"{REPO}:docs/guide.md" and blob in failure.message
    assert fid("README.md", "doc") in by_id(records)
    cursor = of(records, Checkpoint)[-1].cursor
    assert "docs/guide.md" not in cursor["files"]  # so the next run reads it again
    # A full re-read with an unreadable file closes file by file, keeping what it had stored.
    cursor["content_settings"] = cursor["content_fingerprint"] = "from an older loader"
    again = run(repo, cursor)
    assert [s.prefix for s in of(again, DocumentSet)] == [fid("README.md", "")]


_CODE_BITS = st.sampled_from(
    ["#", "//", "/*", "*/", "--", '"', "'", '"""', "`", "\\", "\n", " ", "DO NOT", "HACK:",
     "publish(", "subscribe([", "f\"{USER_SERVICE_URL}/x", "http://a-service:1/p", "## Root cause",
     "14:02", "SEV1", "INC-2024-03", "- **Date:** 2024-02-30", "Duration: 3 h"]
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(_CODE_BITS, st.text(max_size=8)), max_size=40), st.sampled_from(
    ["a.py", "a.ts", "a.go", "a.sql", "a.yaml", "a.sh", "Dockerfile", "a.rb"]))  # fmt: skip
def test_extractors_never_raise_on_arbitrary_text(bits: list[str], path: str) -> None:
    text = "".join(bits)
    syntax = comment_syntax(path)
    assert syntax is not None
    for d in danger_comments(text, syntax):
        assert 1 <= d.line <= max(1, len(text.splitlines()))
    header_prose(text, path)
    lines = code_lines(text, syntax, python=path.endswith(".py"))
    assert len(lines) == text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    service_calls(lines)
    topic_uses(lines)
    parse_postmortem(text, doc_title(text, "x.md"))
