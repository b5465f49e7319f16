"""payment-service Python sources, as first written (later commits patch them)."""

from __future__ import annotations

CONFIG = '''"""Runtime settings for payment-service, read once from the environment."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str = os.environ.get(
        "DATABASE_URL", "postgresql://payments@localhost:5432/payments"
    )
    stripe_api_key: str = os.environ.get("STRIPE_API_KEY", "")
    # Stripe's p99 is ~400 ms; this only protects us from a hung connection.
    provider_timeout_seconds: float = float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "10"))
    kafka_brokers: str = os.environ.get("KAFKA_BROKERS", "localhost:9092")


settings = Settings()
'''

APP = '''"""HTTP API of payment-service."""

import logging

from fastapi import FastAPI, HTTPException

from payment import db
from payment.gateway import ProviderDeclined, StripeGateway
from payment.models import Payment, PaymentRequest

log = logging.getLogger(__name__)
app = FastAPI(title="payment-service")
gateway = StripeGateway()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/payments", status_code=201)
def create_payment(request: PaymentRequest) -> Payment:
    """Charge the customer for an order and wait for the provider's answer."""
    try:
        charge = gateway.charge(request.amount_minor, request.currency, request.customer_ref)
    except ProviderDeclined as exc:
        raise HTTPException(status_code=402, detail=str(exc)) from exc
    return db.save_payment(request, charge)


@app.get("/payments/{payment_id}")
def get_payment(payment_id: str) -> Payment:
    payment = db.get_payment(payment_id)
    if payment is None:
        raise HTTPException(status_code=404, detail="payment not found")
    return payment
'''

MODELS = '''"""Request and response models of payment-service."""

from pydantic import BaseModel, Field


class PaymentRequest(BaseModel):
    order_id: str
    # Money is an integer number of minor units (cents), never a float.
    amount_minor: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    customer_ref: str


class Payment(BaseModel):
    payment_id: str
    order_id: str
    status: str
    amount_minor: int
    currency: str
    provider_ref: str | None = None
'''

DB = '''"""Postgres persistence for payments and refunds."""

import logging
import uuid

from sqlalchemy import create_engine, text

from payment.config import settings
from payment.models import Payment, PaymentRequest

log = logging.getLogger(__name__)
engine = create_engine(settings.database_url, pool_pre_ping=True)

_INSERT = (
    "INSERT INTO payments (payment_id, order_id, status, amount_minor, currency, provider_ref)"
    " VALUES (:payment_id, :order_id, :status, :amount_minor, :currency, :provider_ref)"
)


def save_payment(request: PaymentRequest, charge: dict) -> Payment:
    """Insert a captured payment and return it."""
    payment = Payment(
        payment_id=str(uuid.uuid4()),
        order_id=request.order_id,
        status="captured",
        amount_minor=request.amount_minor,
        currency=request.currency,
        provider_ref=charge["id"],
    )
    with engine.begin() as conn:
        conn.execute(text(_INSERT), payment.model_dump())
    return payment


def get_payment(payment_id: str) -> Payment | None:
    """Load one payment by id."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM payments WHERE payment_id = :id"), {"id": payment_id}
        ).mappings().first()
    return Payment(**row) if row else None


def captured_at(payment_id: str):
    """When the payment was captured (refund windows are counted from here)."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT captured_at FROM payments WHERE payment_id = :id"), {"id": payment_id}
        ).scalar_one()
'''

GATEWAY = '''"""Stripe gateway: the only module that talks to the payment provider."""

import logging

import stripe

from payment.config import settings

log = logging.getLogger(__name__)


class ProviderDeclined(Exception):
    """The provider refused the charge (card declined, fraud check, ...)."""


class StripeGateway:
    """Thin wrapper over the Stripe SDK with our timeouts and error mapping."""

    def __init__(self, api_key: str | None = None) -> None:
        stripe.api_key = api_key or settings.stripe_api_key
        # Retrying is the caller's decision, never the SDK's.
        stripe.max_network_retries = 0

    def charge(self, amount_minor: int, currency: str, customer_ref: str) -> dict:
        """Create and confirm a PaymentIntent; returns the provider's response."""
        try:
            intent = stripe.PaymentIntent.create(
                amount=amount_minor,
                currency=currency.lower(),
                customer=customer_ref,
                confirm=True,
                timeout=settings.provider_timeout_seconds,
            )
        except stripe.error.CardError as exc:
            raise ProviderDeclined(exc.user_message or "card declined") from exc
        # HACK: Stripe reports 3-D Secure soft declines as a 200 with status
        # "requires_action"; we surface them as declines until checkout can redirect.
        if intent["status"] == "requires_action":
            raise ProviderDeclined("authentication_required")
        log.info("charged %s %s for %s", amount_minor, currency, customer_ref)
        return intent

    def refund(self, provider_ref: str, amount_minor: int) -> dict:
        """Refund part or all of a captured PaymentIntent."""
        return stripe.Refund.create(payment_intent=provider_ref, amount=amount_minor)
'''

REFUNDS = '''"""Refunds: partial or full, always through the provider that took the payment."""

import logging
from datetime import UTC, datetime, timedelta

from payment.models import Payment

log = logging.getLogger(__name__)

# Stripe rejects refunds on charges older than 180 days; fail early with a clear error.
MAX_REFUND_AGE = timedelta(days=180)


class RefundNotAllowed(Exception):
    """The refund would exceed the captured amount or the provider's time limit."""


def check_refund(payment: Payment, amount_minor: int, captured_at: datetime) -> None:
    """Raise RefundNotAllowed unless `amount_minor` can be refunded now."""
    if amount_minor <= 0 or amount_minor > payment.amount_minor:
        raise RefundNotAllowed(f"cannot refund {amount_minor} of {payment.amount_minor}")
    if datetime.now(UTC) - captured_at > MAX_REFUND_AGE:
        raise RefundNotAllowed("payment is older than the provider's refund window")


def refund_payment(gateway, payment: Payment, amount_minor: int, captured_at: datetime) -> dict:
    """Refund through the gateway after the checks above."""
    check_refund(payment, amount_minor, captured_at)
    log.info("refunding %s of payment %s", amount_minor, payment.payment_id)
    return gateway.refund(payment.provider_ref, amount_minor)
'''

REFUND_ROUTE = '''

@app.post("/payments/{payment_id}/refunds", status_code=201)
def create_refund(payment_id: str, amount_minor: int) -> dict:
    """Refund part or all of a payment."""
    payment = db.get_payment(payment_id)
    if payment is None:
        raise HTTPException(status_code=404, detail="payment not found")
    return refunds.refund_payment(gateway, payment, amount_minor, db.captured_at(payment_id))
'''

SETTLEMENT = '''"""Nightly settlement reconciliation against the provider's payout reports.

Stripe settles card payments in batches; we match every payout line to a captured
payment and flag anything we cannot match for finance.
"""

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

# careful: payout reports are dated in the provider's timezone (America/Los_Angeles).
# Convert before matching or Friday-evening payouts land on the wrong business day.
REPORT_TZ = ZoneInfo("America/Los_Angeles")


def report_day(paid_at: datetime) -> date:
    """The business day a payout line belongs to."""
    return paid_at.astimezone(REPORT_TZ).date()


def match_payouts(payout_lines: list[dict], payments: dict[str, dict]) -> list[dict]:
    """Return payout lines that match no captured payment, for finance to review."""
    unmatched = []
    for line in payout_lines:
        payment = payments.get(line["provider_ref"])
        if payment is None or payment["amount_minor"] != line["amount_minor"]:
            unmatched.append(line)
    log.info("settlement: %d of %d payout lines unmatched", len(unmatched), len(payout_lines))
    return unmatched
'''

RECEIPTS = '''"""PDF receipts, rendered after capture and stored in S3 for seven years."""

import logging

import boto3
import yaml

log = logging.getLogger(__name__)


def _receipts_config(path: str = "config/settings.yaml") -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)["receipts"]


def store_receipt(payment_id: str, pdf: bytes) -> str:
    """Upload a receipt and return its S3 key."""
    cfg = _receipts_config()
    s3 = boto3.client("s3", region_name=cfg["region"])
    key = f"receipts/{payment_id}.pdf"
    s3.put_object(Bucket=cfg["bucket"], Key=key, Body=pdf, ContentType="application/pdf")
    log.info("stored receipt %s", key)
    return key
'''

IDEMPOTENCY = '''\
"""Idempotency keys for provider calls (docs/decisions/0001-use-idempotency-keys.md).

Every charge carries the payment_request_id minted by order-service as its Stripe
Idempotency-Key, so a retried or redelivered request can never charge twice. We keep
the outcome of each key so a duplicate gets the same answer without calling Stripe.
"""

import logging
import time

log = logging.getLogger(__name__)

# Stripe forgets idempotency keys after 24 hours; keeping ours longer would hide real
# duplicates that Stripe would then charge.
KEY_TTL_SECONDS = 24 * 3600

_outcomes: dict[str, tuple[float, str, dict]] = {}


def remember(key: str, topic: str, payload: dict) -> None:
    """Store the outcome published for a key."""
    _outcomes[key] = (time.time(), topic, payload)


def lookup(key: str) -> dict | None:
    """The stored outcome for a key, or None if unseen or expired."""
    hit = _outcomes.get(key)
    if hit is None or time.time() - hit[0] > KEY_TTL_SECONDS:
        return None
    return {"topic": hit[1], "data": hit[2]}
'''

CONSUMER = '''"""Consumes payment requests from order-service and publishes the outcome.

Since SHOP-412 (ADR-0003 in order-service) checkout no longer calls us over HTTP:
order-service publishes order.payment_requested and waits for payment.completed or
payment.failed. A slow provider now delays payments, not every checkout thread.
"""

import logging

from payment import db, idempotency
from payment.events import publish, subscribe
from payment.gateway import ProviderDeclined, StripeGateway
from payment.models import PaymentRequest

log = logging.getLogger(__name__)
gateway = StripeGateway()


@subscribe("order.payment_requested")
async def on_payment_requested(event: dict) -> None:
    """Charge the order once, however many times the event is delivered."""
    data = event["data"]
    key = data["payment_request_id"]
    previous = idempotency.lookup(key)
    if previous is not None:
        log.info("duplicate payment request %s, replaying the outcome", key)
        await publish(previous["topic"], previous["data"], key=data["order_id"])
        return
    request = PaymentRequest(**{k: data[k] for k in PaymentRequest.model_fields})
    try:
        charge = gateway.charge(
            request.amount_minor, request.currency, request.customer_ref, idempotency_key=key
        )
    except ProviderDeclined as exc:
        topic = "payment.failed"
        payload = {
            "order_id": request.order_id,
            "customer_id": data["customer_id"],
            "payment_request_id": key,
            "reason": str(exc),
        }
    else:
        payment = db.save_payment(request, charge)
        topic = "payment.completed"
        payload = {
            "order_id": request.order_id,
            "customer_id": data["customer_id"],
            "payment_request_id": key,
            "payment_id": payment.payment_id,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
        }
    idempotency.remember(key, topic, payload)
    await publish(topic, payload, key=request.order_id)
'''

TEST_GATEWAY = '''"""Tests for payment.gateway."""

import pytest

from payment.gateway import ProviderDeclined, StripeGateway


def test_requires_action_is_a_decline(monkeypatch):
    monkeypatch.setattr(
        "stripe.PaymentIntent.create", lambda **kw: {"id": "pi_1", "status": "requires_action"}
    )
    with pytest.raises(ProviderDeclined):
        StripeGateway("sk_test_x").charge(1000, "EUR", "cus_1")
'''

TEST_APP = '''"""Tests for payment.app."""

from fastapi.testclient import TestClient

from payment.app import app


def test_health():
    assert TestClient(app).get("/health").json() == {"status": "ok"}
'''

TEST_CONSUMER = '''"""Tests for payment.consumer."""

import pytest

from payment import consumer, idempotency


@pytest.mark.asyncio
async def test_duplicate_request_replays_outcome(monkeypatch):
    published = []

    async def fake_publish(topic, data, **kw):
        published.append(topic)

    monkeypatch.setattr(consumer, "publish", fake_publish)
    idempotency.remember("req-1", "payment.completed", {"order_id": "o1"})
    await consumer.on_payment_requested({"data": {"payment_request_id": "req-1",
                                                  "order_id": "o1"}})
    assert published == ["payment.completed"]
'''

PAYMENT_METHODS = '''"""Saved payment methods, listed by the checkout UI for returning customers."""

import logging

import stripe

log = logging.getLogger(__name__)


def list_payment_methods(customer_ref: str) -> list[dict]:
    """Cards Stripe has on file for a customer, newest first."""
    methods = stripe.PaymentMethod.list(customer=customer_ref, type="card")["data"]
    return [
        {"id": m["id"], "brand": m["card"]["brand"], "last4": m["card"]["last4"]}
        for m in sorted(methods, key=lambda m: m["created"], reverse=True)
    ]
'''

PAYMENT_METHODS_ROUTE = '''

@app.get("/customers/{customer_ref}/payment-methods")
def get_payment_methods(customer_ref: str) -> list[dict]:
    """Saved payment methods for the checkout UI."""
    return payment_methods.list_payment_methods(customer_ref)
'''

WALLETS_TODO = "    raise NotImplementedError(kind)\n"

WALLETS_DONE = """    if kind not in WALLET_KINDS:
        raise ValueError(f"unsupported wallet {kind}")
    # Wallet tokens are single-use; Stripe turns them into a PaymentMethod we can charge.
    return {"type": "card", "card": {"token": token}, "metadata": {"wallet": kind}}
"""

WALLETS = (
    '''"""Apple Pay and Google Pay tokens from the checkout UI."""

import logging

log = logging.getLogger(__name__)

WALLET_KINDS = ("apple_pay", "google_pay")


def payment_method_from_wallet(kind: str, token: str) -> dict:
    """Stripe PaymentMethod parameters for a wallet token."""
'''
    + WALLETS_TODO
)

TEST_WALLETS = '''"""Tests for payment.wallets."""

import pytest

from payment.wallets import payment_method_from_wallet


def test_unknown_wallet_rejected():
    with pytest.raises(ValueError):
        payment_method_from_wallet("paypal", "tok")
'''
