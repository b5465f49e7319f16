"""Architecture decision records: Nygard-style ADRs and MADR decisions."""

from __future__ import annotations

ORDER_0001_PATH = "docs/adr/0001-record-architecture-decisions.md"
ORDER_0001 = """# 1. Record architecture decisions

Date: 2023-11-06

## Status

Accepted

## Context

We need to record the architectural decisions made on order-service so that people
joining later can see why the service is the way it is.

## Decision

We will use Architecture Decision Records, as described by Michael Nygard in
"Documenting Architecture Decisions". ADRs live in `docs/adr`, are numbered, and are
never deleted: a decision that no longer holds is marked superseded.

## Consequences

Decisions and their context are reviewed like code. A superseded ADR stays as history.
"""

ORDER_0002_PATH = "docs/adr/0002-synchronous-payment-calls.md"
ORDER_0002_STATUS = "## Status\n\nAccepted\n"
ORDER_0002_SUPERSEDED = (
    "## Status\n\nSuperseded by [ADR-0003](0003-async-payment-via-events.md) on 2024-03-19\n"
)
ORDER_0002 = """# 2. Synchronous payment calls

Date: 2023-11-09

## Status

Accepted

## Context

Checkout must tell the customer whether the payment went through before it shows
the confirmation page. payment-service wraps Stripe, whose p99 latency is about
400 ms. We run three services and nobody operates a message broker in production
yet; Kafka is planned for order events only.

## Decision

order-service calls payment-service synchronously from the checkout request:
`POST http://payment-service:8080/payments`, with a 30 second timeout
(`PAYMENT_TIMEOUT_SECONDS`) and up to 2 retries on timeout (`ORDER_PAYMENT_RETRIES`).
A 201 confirms the order in the same request; a 402 releases the stock reservation.

## Consequences

- One request, one answer: simple to build and to reason about.
- Checkout latency includes the provider's latency. While Stripe is slow, each
  in-flight checkout holds an order-service request worker.
- Retrying after a timeout can charge twice unless payment-service is idempotent,
  which it is not yet. We accept the risk for now.
- Revisit once Kafka runs in production.
"""

PROPOSED_STATUS = "## Status\n\nProposed\n"
ACCEPTED_STATUS = "## Status\n\nAccepted\n"
ORDER_0003_PATH = "docs/adr/0003-async-payment-via-events.md"
ORDER_0003_PROPOSED = """# 3. Asynchronous payment via events

Date: 2024-03-15

## Status

Proposed

Supersedes [ADR-0002](0002-synchronous-payment-calls.md)

## Context

On 2024-03-14 (INC-2024-03, "Checkout outage") Stripe's latency rose from about
400 ms to more than 20 s. Because checkout called payment-service synchronously
(ADR-0002), every order-service request worker ended up blocked on `POST /payments`
and checkout was unavailable for 47 minutes. Timed-out calls were retried without an
idempotency key and 38 customers were charged twice.

A slow third party took down an unrelated capability, placing an order, and our
retry policy turned slowness into money taken twice.

Kafka has run in production since November 2023 for order events.

## Decision

- Checkout no longer calls payment-service. After reserving stock, order-service
  stores the order as `awaiting_payment` and publishes `order.payment_requested`
  with a new `payment_request_id`.
- payment-service consumes `order.payment_requested`, charges through Stripe with the
  `payment_request_id` as idempotency key, and publishes `payment.completed` or
  `payment.failed`.
- order-service consumes both: `payment.completed` confirms the order and publishes
  `order.confirmed`; `payment.failed` releases the reservation.
- Every handler is idempotent: events may be delivered more than once.
- The checkout page polls `GET /orders/{id}` until the order leaves `awaiting_payment`.

## Consequences

- A slow or failing provider delays payments; it no longer blocks checkout.
- Duplicate charges are prevented end to end by idempotency keys (payment-service
  `docs/decisions/0001-use-idempotency-keys.md`).
- Order status is eventually consistent; the UI has to show `awaiting_payment`.
- More moving parts: lag on the `order.payment_requested` consumer becomes a paging
  alert, and event payloads become contracts (`asyncapi.yaml` in each repo).
"""

PAYMENT_0001_PATH = "docs/decisions/0001-use-idempotency-keys.md"
PAYMENT_0001 = """---
status: accepted
date: 2024-03-15
deciders: Alex Morgan, Chen Wei, Ben Okafor
consulted: Maria Garcia
informed: "#payments-team"
---
# Use idempotency keys for every provider call

## Context and Problem Statement

During INC-2024-03 order-service retried `POST /payments` after timeouts and every
retry created a new Stripe PaymentIntent: 38 customers were charged twice. How do we
guarantee that one payment request is charged at most once, whatever the retries and
redeliveries upstream?

## Decision Drivers

* A customer is never charged twice for one order attempt
* Redeliveries are normal once payment requests arrive over Kafka (ADR-0003 in
  order-service)
* Works with Stripe's API as it is

## Considered Options

* Stripe idempotency keys derived from a caller-supplied `payment_request_id`
* Deduplicate in our database only (unique constraint on `order_id`)
* Disable retries everywhere

## Decision Outcome

Chosen option: "Stripe idempotency keys derived from a caller-supplied
`payment_request_id`", because it is the only option that also covers the window in
which Stripe charged but our call timed out before the answer arrived.

### Consequences

* Good, because a retry or a redelivery returns the original outcome, not a new charge.
* Good, because the key travels end to end: order-service mints it, payment-service
  stores the outcome and forwards the key to Stripe.
* Bad, because Stripe forgets keys after 24 hours: a request replayed later can charge
  again. We keep outcomes for 24 h and alert on older redeliveries.
* Bad, because every caller must mint and persist one key per payment attempt.

## Pros and Cons of the Options

### Deduplicate in our database only

* Good, because it is a one-line migration.
* Bad, because it cannot see charges that succeeded at Stripe while our call timed out.

### Disable retries everywhere

* Good, because retries can no longer duplicate anything.
* Bad, because transient network errors then fail checkouts that would have succeeded.
"""

PAYMENT_0002_PATH = "docs/decisions/0002-store-amounts-in-minor-units.md"
PAYMENT_0002 = """---
status: accepted
date: 2024-04-02
deciders: Alex Morgan
informed: "#eng-backend"
---
# Store money as integer minor units

Recorded retroactively: the decision dates from the first version of the service
(November 2023) and is written down here because it keeps coming up in reviews.

## Context and Problem Statement

Amounts flow between order-service, payment-service, Stripe and the finance exports.
Which representation avoids rounding drift between them?

## Considered Options

* Integer minor units (cents) plus an ISO 4217 currency code
* `Decimal` strings with two decimal places
* Floats

## Decision Outcome

Chosen option: "Integer minor units plus currency", because Stripe's API uses it, it
is exact, and it survives JSON round trips in every language we use.

### Consequences

* Good, because no rounding happens between services; only order-service rounds tax.
* Bad, because zero-decimal currencies (JPY) and three-decimal ones (KWD) need care
  when formatting; use the currency table, never divide by 100 blindly.
"""

PAYMENT_0003_PATH = "docs/decisions/0003-adyen-as-fallback-provider.md"
PAYMENT_0003 = """---
status: proposed
date: 2025-10-14
deciders: Alex Morgan, Sofia Rossi
consulted: Finance
---
# Adyen as a fallback payment provider

## Context and Problem Statement

Stripe is our only provider. Since ADR-0003 in order-service a Stripe outage no longer
takes checkout down, but payments wait until Stripe recovers. Should we route payments
to a second provider when Stripe is degraded?

## Considered Options

* Adyen as a warm fallback behind `src/payment/providers/`
* Stay on Stripe only and rely on asynchronous retries
* Active-active split between two providers

## Decision Outcome

Proposed option: "Adyen as a warm fallback", pending a cost review with finance.

### Consequences

* Good, because a provider outage no longer delays every payment.
* Bad, because refunds must go to the provider that captured the payment, and
  settlement reconciliation has to read two payout formats.
"""

USER_0001_PATH = "docs/adr/0001-jwt-with-rotating-keys.md"
USER_0001 = """# 1. JWT access tokens with rotating signing keys

Date: 2023-11-10

## Status

Accepted

## Context

Every ShopFast service needs to authenticate customers without calling user-service
on each request. user-service is the only issuer of customer credentials.

## Decision

- Access tokens are RS256 JWTs valid for 15 minutes, issued by user-service.
- Refresh tokens are opaque random strings, stored hashed, valid for 30 days and
  rotated on every use. Presenting an already-rotated refresh token revokes its whole
  token family (reuse detection).
- Signing keys rotate every 90 days. Public keys are published at
  `/.well-known/jwks.json`; services cache the JWKS for at most one hour.
- After a rotation the previous public key stays in the JWKS for 24 hours, so tokens
  signed just before the rotation keep validating.

## Consequences

- Services verify tokens locally; user-service is not on the hot path.
- Key rotation is routine and scripted, not an incident.
- Getting rotation wrong logs every customer out at once, which is why the JWKS
  overlap window exists.
"""

INVENTORY_0001_PATH = "docs/adr/0001-row-locks-for-reservations.md"
INVENTORY_0001 = """# 1. Row locks for stock reservations

Date: 2023-11-16

## Status

Accepted

## Context

Two checkouts for the last unit of a SKU must not both succeed. Reservations and the
expiry job both change `stock_levels` and need a consistent view of a warehouse.

## Decision

Reservations use `SELECT ... FOR UPDATE` row locks inside one transaction: first the
`warehouses` row, then the `stock_levels` row of each SKU, iterating lines sorted by
`(warehouse_id, sku)`. Every code path that needs both locks takes them in that order.

## Consequences

- No overselling, with plain Postgres and no extra infrastructure.
- Throughput per warehouse is bounded by the warehouse lock; fine at our volume.
- Any code path that takes the locks in another order can deadlock with checkout.
"""
