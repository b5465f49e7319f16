"""order-service: docs, contracts and scripted history (ADR-0002 → ADR-0003, SHOP-412)."""

from __future__ import annotations

from seed.deps import requirements
from seed.files import adrs
from seed.files import order_src as src
from seed.files.common import GITIGNORE, dockerfile, events_module, init_module
from seed.model import append, delete, replace, write
from seed.script import Script

REPO = "order-service"

README = """# order-service

Owns ShopFast orders: checkout, order status and the order events the rest of the
platform reacts to.

## How checkout works

1. Look the customer up in user-service (`GET /users/{id}`).
2. Reserve stock in inventory-service (`POST /reservations`), synchronously: we
   never take money for stock we do not hold.
3. Charge the customer through payment-service (`POST /payments`) and wait for
   the answer (see [ADR-0002](docs/adr/0002-synchronous-payment-calls.md)).
4. Publish `order.confirmed`.

## Configuration

| variable | default |
| --- | --- |
| `DATABASE_URL` | `postgresql://orders@localhost/orders` |
| `INVENTORY_SERVICE_URL` | `http://inventory-service:8080` |
| `USER_SERVICE_URL` | `http://user-service:8080` |
| `PAYMENT_SERVICE_URL` | `http://payment-service:8080` |
| `KAFKA_BROKERS` | `localhost:9092` |

## Decisions

Architecture decisions live in [docs/adr](docs/adr); read them before changing how
checkout talks to other services.
"""

README_SYNC_STEPS = """\
3. Charge the customer through payment-service (`POST /payments`) and wait for
   the answer (see [ADR-0002](docs/adr/0002-synchronous-payment-calls.md)).
4. Publish `order.confirmed`.
"""

README_ASYNC_STEPS = """3. Publish `order.payment_requested` and return `awaiting_payment` at once.
   payment-service answers with `payment.completed` or `payment.failed`; only then
   is the order confirmed and `order.confirmed` published. Why: see
   [ADR-0003](docs/adr/0003-async-payment-via-events.md) and the INC-2024-03
   postmortem.
"""

ASYNCAPI = """asyncapi: 2.6.0
info:
  title: order-service events
  version: 1.0.0
  description: Order lifecycle events published by order-service.
defaultContentType: application/json
servers:
  production:
    url: kafka-1.prod.shopfast.internal:9092
    protocol: kafka
channels:
  order.created:
    description: An order was created and its stock reserved.
    subscribe:
      operationId: publishOrderCreated
      message:
        $ref: '#/components/messages/OrderCreated'
  order.confirmed:
    description: The order is paid and will be fulfilled.
    subscribe:
      operationId: publishOrderConfirmed
      message:
        $ref: '#/components/messages/OrderConfirmed'
components:
  messages:
    OrderCreated:
      payload:
        type: object
        required: [order_id, customer_id, currency, total_minor]
        properties:
          order_id: {type: string}
          customer_id: {type: string}
          currency: {type: string}
          total_minor: {type: integer}
    OrderConfirmed:
      payload:
        type: object
        required: [order_id, customer_id]
        properties:
          order_id: {type: string}
          customer_id: {type: string}
"""

ASYNC_CHANNELS = """  order.payment_requested:
    description: >
      Payment is needed for an order. payment-service consumes it and answers with
      payment.completed or payment.failed (ADR-0003).
    subscribe:
      operationId: publishPaymentRequested
      message:
        $ref: '#/components/messages/PaymentRequested'
components:
  messages:
    PaymentRequested:
      payload:
        type: object
        required: [order_id, customer_id, payment_request_id, amount_minor, currency]
        properties:
          order_id: {type: string}
          customer_id: {type: string}
          payment_request_id:
            type: string
            format: uuid
            description: Idempotency key; payment-service charges at most once per id.
          amount_minor: {type: integer}
          currency: {type: string}
          customer_ref: {type: string}
"""

CONSUMED_CHANNELS = """  payment.completed:
    description: Consumed. Published by payment-service; confirms the order.
    publish:
      operationId: onPaymentCompleted
      message:
        payload: {type: object}
  payment.failed:
    description: Consumed. Published by payment-service; releases the stock.
    publish:
      operationId: onPaymentFailed
      message:
        payload: {type: object}
components:
"""

OPENAPI = """openapi: 3.0.3
info:
  title: order-service
  version: 1.0.0
servers:
  - url: http://order-service:8080
paths:
  /orders:
    post:
      summary: Place an order
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/OrderRequest'}
      responses:
        '201': {description: Order created}
        '409': {description: Out of stock or payment declined}
  /orders/{order_id}:
    get:
      summary: Get an order
      operationId: getOrder
      parameters:
        - {name: order_id, in: path, required: true, schema: {type: string}}
      responses:
        '200': {description: The order}
        '404': {description: Unknown order}
components:
  schemas:
    OrderRequest:
      type: object
      required: [customer_id, lines]
      properties:
        customer_id: {type: string}
        currency: {type: string, default: EUR}
        lines:
          type: array
          items:
            type: object
            required: [sku, warehouse_id, qty, unit_price_minor]
            properties:
              sku: {type: string}
              warehouse_id: {type: string}
              qty: {type: integer, minimum: 1}
              unit_price_minor: {type: integer}
"""

CANCEL_PATH = """  /orders/{order_id}/cancel:
    post:
      summary: Cancel an order that has not shipped
      operationId: cancelOrder
      parameters:
        - {name: order_id, in: path, required: true, schema: {type: string}}
      responses:
        '202': {description: Cancelled}
        '409': {description: Already shipped or cancelled}
components:
"""

CODEOWNERS = """*                       @shopfast/orders @alex-morgan
src/orders/pricing.py   @alex-morgan @shopfast/finance-eng
docs/adr/               @alex-morgan
"""

CATALOG = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: order-service
  description: Checkout and the order lifecycle
  annotations:
    github.com/project-slug: shopfast/order-service
    pagerduty.com/service-id: PORD7Q2X
  tags:
    - python
spec:
  type: service
  lifecycle: production
  owner: group:orders
  system: checkout
  dependsOn:
    - component:inventory-service
    - component:user-service
    - resource:orders-db
  providesApis:
    - order-api
    - order-events
  consumesApis:
    - inventory-api
    - user-api
    - payment-events
"""

NOTES = [
    (
        "docs/operations.md",
        "# Operating order-service\n\n## Orders stuck in awaiting_payment\n\n"
        "An order stays `awaiting_payment` until payment-service answers. If many are\n"
        "stuck, check the `order.payment_requested` consumer lag in payment-service\n"
        "before touching the orders: re-publishing is safe (idempotency keys), editing\n"
        "statuses by hand is not.\n",
    ),
    (
        "docs/operations.md",
        "\n## Out-of-stock spikes\n\nA burst of 409s from "
        "`POST /orders` usually means inventory-service is rejecting\nreservations, "
        "not that stock is gone. Check its reservation dashboard first.\n",
    ),
    (
        "docs/operations.md",
        "\n## Re-sending order.confirmed\n\nUse "
        "`scripts/republish.py ORDER_ID`. notification-service dedupes on\nevent_id, so "
        "a re-publish with a new event_id sends the email again.\n",
    ),
]


def script(s: Script) -> None:
    """Scripted commits of order-service."""
    s.skeleton(
        REPO,
        "2023-11-07 10:15",
        "alex",
        "Initial order-service: orders API and pricing",
        [
            write("README.md", README),
            write(".gitignore", GITIGNORE),
            write(
                "requirements.txt",
                requirements(["fastapi", "uvicorn", "pydantic", "sqlalchemy", "psycopg", "httpx"]),
            ),
            write("requirements-dev.txt", requirements(["pytest", "pytest-asyncio"])),
            write("Dockerfile", dockerfile("orders")),
            write("src/orders/__init__.py", init_module("orders", "order-service")),
            write("src/orders/app.py", src.APP),
            write("src/orders/config.py", src.CONFIG),
            write("src/orders/models.py", src.MODELS),
            write("src/orders/db.py", src.DB),
            write("src/orders/pricing.py", src.PRICING),
            write("tests/test_pricing.py", src.TEST_PRICING),
            write(adrs.ORDER_0001_PATH, adrs.ORDER_0001),
        ],
    )
    s.commit(
        REPO,
        "2023-11-09",
        "alex",
        "ORD-4: Call payment-service synchronously from checkout\n\nRecorded as ADR-0002.\n",
        [
            write("src/orders/payment_client.py", src.PAYMENT_CLIENT),
            write("tests/test_payment_client.py", src.TEST_PAYMENT_CLIENT),
            write(adrs.ORDER_0002_PATH, adrs.ORDER_0002),
        ],
        key="adr-0002",
    )
    s.commit(
        REPO,
        "2023-11-13",
        "alex",
        "ORD-7: Publish order events to Kafka",
        [
            write("src/orders/events.py", events_module("orders", "order-service")),
            write("asyncapi.yaml", ASYNCAPI),
            append("requirements.txt", "aiokafka==0.10.0\n"),
        ],
    )
    s.commit(
        REPO,
        "2023-11-15",
        "alex",
        "ORD-8: Checkout flow: reserve stock, charge, confirm",
        [
            write("src/orders/inventory_client.py", src.INVENTORY_CLIENT),
            write("src/orders/user_client.py", src.USER_CLIENT),
            write("src/orders/checkout.py", src.CHECKOUT),
        ],
    )
    s.commit(
        REPO, "2023-12-06", "alex", "ORD-19: OpenAPI contract", [write("openapi.yaml", OPENAPI)]
    )
    s.commit(
        REPO,
        "2024-01-11",
        "alex",
        "ORD-31: CODEOWNERS and Backstage catalog entry",
        [write(".github/CODEOWNERS", CODEOWNERS), write("catalog-info.yaml", CATALOG)],
    )
    s.commit(
        REPO,
        "2024-03-15 12:10",
        "alex",
        "SHOP-412: ADR-0003 asynchronous payment via "
        "events (proposed)\n\nFollow-up of INC-2024-03. Discussed in "
        "#inc-2024-03-14-checkout-outage.\n",
        [write(adrs.ORDER_0003_PATH, adrs.ORDER_0003_PROPOSED)],
        key="adr-0003",
    )
    _shop_412(s)
    branch = "feature/ORD-310-cancellation"
    s.commit(
        REPO,
        "2024-11-05 10:20",
        "sofia",
        "feat(orders): cancel orders before shipment (ORD-310)",
        [write("src/orders/cancellation.py", src.CANCELLATION)],
        branch=branch,
    )
    s.commit(
        REPO,
        "2024-11-05 15:45",
        "sofia",
        "feat(orders): POST /orders/{id}/cancel (ORD-310)",
        [
            replace(
                "src/orders/app.py",
                "from orders import checkout, db\n",
                "from orders import cancellation, checkout, db\n",
            ),
            append("src/orders/app.py", src.CANCEL_ROUTE),
            replace("openapi.yaml", "components:\n", CANCEL_PATH),
        ],
        branch=branch,
    )
    s.commit(
        REPO,
        "2024-11-06 11:05",
        "alex",
        f"Merge pull request #203 from shopfast/{branch}\n\nORD-310: order cancellation\n",
        [],
        merge_branch=branch,
    )
    s.commit(
        REPO,
        "2025-03-11",
        "sofia",
        "feat(orders): percentage discount codes (ORD-402)",
        [write("src/orders/discounts.py", src.DISCOUNTS)],
    )
    s.commit(
        REPO,
        "2025-09-09 13:40",
        "sofia",
        "perf(orders): fail fast on inventory reservations (ORD-455)\n\nA 3 s timeout holds a "
        "checkout worker far too long when inventory is slow.\n",
        [
            replace(
                "src/orders/inventory_client.py",
                "TIMEOUT_SECONDS = 3.0\n",
                "TIMEOUT_SECONDS = 1.0\n",
            )
        ],
        key="ord-455",
    )
    s.commit(
        REPO,
        "2025-09-10 09:15",
        "alex",
        "Inventory's p99 is 1.4 s while the 02:00 stock sync runs, so night-time checkouts\n"
        "timed out. This needs a per-endpoint budget, not a global 1 s.",
        [],
        revert_of="ord-455",
        key="ord-455-revert",
    )


def _shop_412(s: Script) -> None:
    branch = "feature/SHOP-412-async-payments"
    s.commit(
        REPO,
        "2024-03-18 10:05",
        "alex",
        "SHOP-412: make order→payment asynchronous via "
        "events\n\nBecause a slow payment provider must never take checkout down again "
        "(INC-2024-03:\nStripe latency spiked, every request worker blocked on POST "
        "/payments, checkout\nwas down 47 minutes and retries double-charged 38 "
        "customers), checkout now\npublishes order.payment_requested with a "
        "payment_request_id (the idempotency\nkey) and returns awaiting_payment. See "
        "ADR-0003.\n",
        [
            replace("src/orders/checkout.py", src.SYNC_PAYMENT_STEP, src.ASYNC_PAYMENT_STEP),
            append("src/orders/db.py", src.NEW_PAYMENT_REQUEST),
            replace("asyncapi.yaml", "components:\n  messages:\n", ASYNC_CHANNELS),
            replace("README.md", README_SYNC_STEPS, README_ASYNC_STEPS),
        ],
        branch=branch,
        key="shop-412-order",
    )
    s.commit(
        REPO,
        "2024-03-18 15:40",
        "alex",
        "SHOP-412: Consume payment.completed and payment.failed",
        [
            write("src/orders/payment_events.py", src.PAYMENT_EVENTS),
            replace("asyncapi.yaml", "components:\n", CONSUMED_CHANNELS),
        ],
        branch=branch,
    )
    s.commit(
        REPO,
        "2024-03-19 11:20",
        "alex",
        "SHOP-412: Remove the synchronous payment "
        "client\n\nNothing calls POST /payments from checkout any more; "
        "PAYMENT_SERVICE_URL,\nPAYMENT_TIMEOUT_SECONDS and ORDER_PAYMENT_RETRIES go "
        "with it.\n",
        [
            delete("src/orders/payment_client.py"),
            delete("tests/test_payment_client.py"),
            replace("src/orders/config.py", src.PAYMENT_SETTINGS, ""),
            replace(
                "src/orders/checkout.py",
                "from orders import db, events, inventory_client, payment_client, user_client\n",
                "from orders import db, events, inventory_client, user_client\n",
            ),
            replace("README.md", "| `PAYMENT_SERVICE_URL` | `http://payment-service:8080` |\n", ""),
        ],
        branch=branch,
        key="remove-sync-client",
    )
    s.commit(
        REPO,
        "2024-03-19 12:02",
        "alex",
        "SHOP-412: Accept ADR-0003; mark ADR-0002 superseded",
        [
            replace(adrs.ORDER_0003_PATH, adrs.PROPOSED_STATUS, adrs.ACCEPTED_STATUS),
            replace(adrs.ORDER_0002_PATH, adrs.ORDER_0002_STATUS, adrs.ORDER_0002_SUPERSEDED),
        ],
        branch=branch,
        key="adr-0002-superseded",
    )
    s.commit(
        REPO,
        "2024-03-19 16:30",
        "alex",
        "Merge pull request #87 from shopfast/"
        f"{branch}\n\nSHOP-412: make order→payment asynchronous via events\n",
        [],
        merge_branch=branch,
        key="shop-412-merge",
    )
