"""inventory-service: docs, contracts and scripted history (INC-2025-07 deadlock)."""

from __future__ import annotations

from seed.deps import requirements
from seed.files import adrs, postmortems
from seed.files import inventory_src as src
from seed.files.common import GITIGNORE, dockerfile, init_module
from seed.model import append, replace, write
from seed.script import Script

REPO = "inventory-service"

README = """# inventory-service

Stock levels per SKU and warehouse, and the reservations that hold stock while an
order is being paid.

## API

- `GET /stock/{sku}` — stock per warehouse
- `POST /reservations` — hold stock for an order (called by order-service during checkout)
- `DELETE /reservations/{id}` — release it

Contract: [openapi.yaml](openapi.yaml).

## Data

Schema changes are plain SQL files in `migrations/`, applied in order by the deploy
pipeline. The ERP stock export is loaded nightly by `src/inventory/legacy/stock_sync.py`.

## Local development

    pip install -r requirements.txt -r requirements-dev.txt
    PYTHONPATH=src uvicorn inventory.app:app --reload --port 8083
"""

OPENAPI = """openapi: 3.0.3
info:
  title: inventory-service
  version: 1.0.0
servers:
  - url: http://inventory-service:8080
paths:
  /stock/{sku}:
    get:
      summary: Stock of a SKU per warehouse
      operationId: getStock
      parameters:
        - {name: sku, in: path, required: true, schema: {type: string}}
      responses:
        '200': {description: Stock levels}
  /reservations:
    post:
      summary: Reserve stock for an order
      operationId: createReservation
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [order_id, lines]
              properties:
                order_id: {type: string}
                lines:
                  type: array
                  items:
                    type: object
                    properties:
                      sku: {type: string}
                      warehouse_id: {type: string}
                      qty: {type: integer}
      responses:
        '201': {description: Reserved; expires after 15 minutes unless confirmed}
        '409': {description: Out of stock}
  /reservations/{reservation_id}:
    delete:
      summary: Release a reservation
      operationId: deleteReservation
      parameters:
        - {name: reservation_id, in: path, required: true, schema: {type: string}}
      responses:
        '204': {description: Released}
"""

CODEOWNERS = """*                   @shopfast/orders @alex-morgan
migrations/         @alex-morgan
src/inventory/legacy/  @bokafor
"""

NOTES = [
    (
        "docs/operations.md",
        "# Operating inventory-service\n\n## Reservation expiry job\n\n"
        "`release_expired` runs every minute from a Kubernetes CronJob. Suspending it is\n"
        "safe for a short time: reservations simply expire late.\n",
    ),
    (
        "docs/operations.md",
        "\n## Stock looks wrong after the nightly sync\n\nThe ERP "
        "export sometimes arrives truncated. Check the row count logged by\n`stock_sync` "
        "against yesterday's before re-running it.\n",
    ),
    (
        "docs/operations.md",
        "\n## Adding a warehouse\n\nInsert the row in `warehouses` "
        "first, then ask the ERP team to include it in\nthe export; the sync ignores "
        "unknown warehouses.\n",
    ),
]


def script(s: Script) -> None:
    """Scripted commits of inventory-service (migrations after 0003 come from story.py)."""
    s.skeleton(
        REPO,
        "2023-11-08 10:40",
        "alex",
        "Initial inventory-service: stock levels API",
        [
            write("README.md", README),
            write(".gitignore", GITIGNORE),
            write(
                "requirements.txt",
                requirements(["fastapi", "uvicorn", "pydantic", "sqlalchemy", "psycopg"]),
            ),
            write("requirements-dev.txt", requirements(["pytest"])),
            write("Dockerfile", dockerfile("inventory")),
            write("src/inventory/__init__.py", init_module("inventory", "inventory-service")),
            write("src/inventory/app.py", src.APP),
            write("src/inventory/config.py", src.CONFIG),
            write("src/inventory/db.py", src.DB),
            write("src/inventory/models.py", src.MODELS),
            write("src/inventory/stock.py", src.STOCK),
            write("migrations/0001_create_stock_levels.sql", src.MIGRATION_0001),
        ],
    )
    s.commit(
        REPO,
        "2023-11-13",
        "ben",
        "nightly stock sync from the erp export",
        [
            write("src/inventory/legacy/__init__.py", ""),
            write("src/inventory/legacy/stock_sync.py", src.STOCK_SYNC),
            write("tests/test_stock_sync.py", src.TEST_STOCK_SYNC),
        ],
    )
    s.commit(
        REPO,
        "2023-11-16",
        "alex",
        "INV-6: Stock reservations with row locks\n\n"
        "Lock order is warehouse then SKU everywhere; see ADR-0001.\n",
        [
            write("src/inventory/reservations.py", src.RESERVATIONS),
            write("src/inventory/locks.py", src.LOCKS),
            write("tests/test_reservations.py", src.TEST_RESERVATIONS),
            write("migrations/0002_create_reservations.sql", src.MIGRATION_0002),
            write(adrs.INVENTORY_0001_PATH, adrs.INVENTORY_0001),
            replace(
                "src/inventory/app.py",
                "from fastapi import FastAPI\n",
                "from fastapi import FastAPI, HTTPException\n",
            ),
            replace(
                "src/inventory/app.py",
                "from inventory import stock\nfrom inventory.models import StockLevel\n",
                "from inventory import db, reservations, stock\n"
                "from inventory.models import ReservationRequest, StockLevel\n",
            ),
            append("src/inventory/app.py", src.RESERVATION_ROUTES),
        ],
    )
    s.commit(
        REPO, "2023-11-21", "alex", "INV-8: OpenAPI contract", [write("openapi.yaml", OPENAPI)]
    )
    s.commit(
        REPO,
        "2023-11-27",
        "ben",
        "warehouses table",
        [
            write("src/inventory/warehouses.py", src.WAREHOUSES),
            write("migrations/0003_create_warehouses.sql", src.MIGRATION_0003),
        ],
    )
    s.commit(
        REPO,
        "2024-01-09",
        "alex",
        "INV-19: Add CODEOWNERS",
        [write(".github/CODEOWNERS", CODEOWNERS)],
    )
    _deadlock(s)


def _deadlock(s: Script) -> None:
    s.commit(
        REPO,
        "2025-07-21 16:20",
        "sofia",
        "perf(inventory): lock sku rows first in "
        "release_expired (INV-471)\n\nThe expiry job waits on the warehouse row behind "
        "checkouts; taking the SKU\nrow first lets it start earlier.\n",
        [
            replace("src/inventory/reservations.py", src.RELEASE_LOCKS, src.RELEASE_LOCKS_INVERTED),
        ],
        key="inv-471",
    )
    s.commit(
        REPO,
        "2025-07-22 12:33",
        "alex",
        "Reverting during INC-2025-07: the inverted lock "
        "order deadlocks\nrelease_expired() against reserve() under sale traffic.",
        [],
        revert_of="inv-471",
        key="inv-471-revert",
    )
    s.commit(
        REPO,
        "2025-07-23 10:05",
        "alex",
        "INV-472: Document the lock ordering in "
        "reservations (INC-2025-07)\n\nThe warehouse-before-SKU rule was only in "
        "ADR-0001, and INV-471 broke it in\nreview without anyone noticing. Put it "
        "where the next person will read it,\nand add a regression test.\n",
        [
            replace("src/inventory/reservations.py", src.TTL_LINE, src.LOCK_ORDER_NOTE),
            append("tests/test_reservations.py", src.LOCK_ORDER_TEST),
        ],
        key="lock-order-note",
    )
    s.commit(
        REPO,
        "2025-07-25 14:30",
        "alex",
        "INV-472: Postmortem for INC-2025-07 inventory deadlock",
        [write(postmortems.DEADLOCK_PATH, postmortems.DEADLOCK)],
        key="postmortem-2025-07",
    )
    s.commit(
        REPO,
        "2025-08-05",
        "alex",
        "INV-480: Warn about the legacy stock sync's hidden "
        "readers\n\nBen's handover notes: the analytics stock report reads stock_levels\n"
        "directly through the reporting replica. Nothing in the code said so.\n",
        [
            replace(
                "src/inventory/legacy/stock_sync.py", src.STOCK_SYNC_HEAD, src.STOCK_SYNC_WARNING
            ),
            replace(
                ".github/CODEOWNERS",
                "src/inventory/legacy/  @bokafor\n",
                "src/inventory/legacy/  @alex-morgan @shopfast/data\n",
            ),
        ],
        key="legacy-warning",
    )
