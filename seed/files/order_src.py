"""order-service Python sources, as first written (later commits patch them)."""

from __future__ import annotations

CONFIG = '''"""Runtime settings for order-service, read once from the environment."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str = os.environ.get("DATABASE_URL", "postgresql://orders@localhost/orders")
    inventory_service_url: str = os.environ.get(
        "INVENTORY_SERVICE_URL", "http://inventory-service:8080"
    )
    user_service_url: str = os.environ.get("USER_SERVICE_URL", "http://user-service:8080")
    payment_service_url: str = os.environ.get(
        "PAYMENT_SERVICE_URL", "http://payment-service:8080"
    )
    payment_timeout_seconds: float = float(os.environ.get("PAYMENT_TIMEOUT_SECONDS", "30"))
    payment_retries: int = int(os.environ.get("ORDER_PAYMENT_RETRIES", "2"))
    kafka_brokers: str = os.environ.get("KAFKA_BROKERS", "localhost:9092")


settings = Settings()
'''

PAYMENT_SETTINGS = """    payment_service_url: str = os.environ.get(
        "PAYMENT_SERVICE_URL", "http://payment-service:8080"
    )
    payment_timeout_seconds: float = float(os.environ.get("PAYMENT_TIMEOUT_SECONDS", "30"))
    payment_retries: int = int(os.environ.get("ORDER_PAYMENT_RETRIES", "2"))
"""

APP = '''"""HTTP API of order-service."""

import logging

from fastapi import FastAPI, HTTPException

from orders import checkout, db
from orders.models import Order, OrderRequest

log = logging.getLogger(__name__)
app = FastAPI(title="order-service")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/orders", status_code=201)
async def create_order(request: OrderRequest) -> Order:
    """Place an order: reserve stock and start payment."""
    try:
        return await checkout.checkout(request)
    except checkout.CheckoutFailed as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc


@app.get("/orders/{order_id}")
def get_order(order_id: str) -> Order:
    order = db.get_order(order_id)
    if order is None:
        raise HTTPException(status_code=404, detail="order not found")
    return order
'''

MODELS = '''"""Order models shared by the API, checkout and persistence."""

from pydantic import BaseModel, Field


class OrderLine(BaseModel):
    sku: str
    warehouse_id: str
    qty: int = Field(gt=0)
    unit_price_minor: int = Field(ge=0)
    tax_rate_pct: int = 20


class OrderRequest(BaseModel):
    customer_id: str
    currency: str = "EUR"
    lines: list[OrderLine]


class Order(BaseModel):
    order_id: str
    customer_id: str
    status: str
    currency: str
    total_minor: int
    payment_id: str | None = None
'''

DB = '''"""Postgres persistence for orders."""

import logging
import uuid

from sqlalchemy import create_engine, text

from orders.config import settings
from orders.models import Order, OrderRequest

log = logging.getLogger(__name__)
engine = create_engine(settings.database_url, pool_pre_ping=True)


def create_order(request: OrderRequest, total_minor: int, status: str) -> Order:
    """Insert a new order and commit it."""
    order = Order(
        order_id=str(uuid.uuid4()), customer_id=request.customer_id, status=status,
        currency=request.currency, total_minor=total_minor,
    )
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO orders (order_id, customer_id, status, currency, total_minor)"
                 " VALUES (:order_id, :customer_id, :status, :currency, :total_minor)"),
            order.model_dump(exclude={"payment_id"}),
        )
    return order


def set_status(order_id: str, status: str, payment_id: str | None = None) -> None:
    """Move an order to a new status."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE orders SET status = :s, payment_id = COALESCE(:p, payment_id)"
                 " WHERE order_id = :id"),
            {"s": status, "p": payment_id, "id": order_id},
        )


def get_order(order_id: str) -> Order | None:
    """Load an order by id."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM orders WHERE order_id = :id"), {"id": order_id}
        ).mappings().first()
    return Order(**row) if row else None


def reservation_for(order_id: str) -> str:
    """The inventory reservation id held for an order."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT reservation_id FROM orders WHERE order_id = :id"), {"id": order_id}
        ).scalar_one()
'''

NEW_PAYMENT_REQUEST = '''

def new_payment_request(order_id: str) -> str:
    """Mint the payment_request_id that payment-service uses as its idempotency key."""
    request_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO payment_requests (payment_request_id, order_id) VALUES (:r, :o)"),
            {"r": request_id, "o": order_id},
        )
    return request_id
'''

PRICING = '''"""Order totals: line amounts, tax and rounding."""

from decimal import ROUND_HALF_UP, Decimal

from orders.models import OrderLine


def line_net_minor(line: OrderLine) -> int:
    """Net amount of one line in minor units."""
    return line.qty * line.unit_price_minor


# XXX: legacy rounding. Tax is rounded once on the order total (half-up), not per line.
# Finance reconciles invoices against this; do not "fix" it without talking to finance.
def order_total(lines: list[OrderLine]) -> int:
    """Gross total in minor units, tax included."""
    net = sum(line_net_minor(line) for line in lines)
    tax = sum(Decimal(line_net_minor(line) * line.tax_rate_pct) / 100 for line in lines)
    return net + int(tax.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
'''

PAYMENT_CLIENT = '''"""Synchronous client for payment-service (ADR-0002).

Checkout waits for the charge so the customer sees the outcome on the same page.
"""

import logging

import httpx

from orders.config import settings

log = logging.getLogger(__name__)


class PaymentDeclined(Exception):
    """payment-service answered 402."""


def charge(order, customer: dict) -> dict:
    """POST http://payment-service:8080/payments and wait for the outcome."""
    body = {
        "order_id": order.order_id,
        "amount_minor": order.total_minor,
        "currency": order.currency,
        "customer_ref": customer["payment_customer_ref"],
    }
    for attempt in range(settings.payment_retries + 1):
        try:
            resp = httpx.post(
                f"{settings.payment_service_url}/payments",
                json=body,
                timeout=settings.payment_timeout_seconds,
            )
        except httpx.ConnectTimeout:
            log.warning("payment-service timed out for %s (attempt %d)", order.order_id, attempt)
            continue
        if resp.status_code == 402:
            raise PaymentDeclined(resp.json()["detail"])
        resp.raise_for_status()
        return resp.json()
    raise TimeoutError(f"payment-service did not answer for order {order.order_id}")
'''

TEST_PAYMENT_CLIENT = '''"""Tests for orders.payment_client."""

import httpx
import pytest

from orders import payment_client


def test_declined_raises(monkeypatch):
    monkeypatch.setattr(
        httpx, "post", lambda *a, **kw: httpx.Response(402, json={"detail": "card declined"})
    )
    order = type("O", (), {"order_id": "o1", "total_minor": 100, "currency": "EUR"})
    with pytest.raises(payment_client.PaymentDeclined):
        payment_client.charge(order, {"payment_customer_ref": "cus_1"})
'''

INVENTORY_CLIENT = '''"""HTTP client for inventory-service reservations.

Synchronous on purpose: we must know the stock is held before asking for payment.
"""

import logging

import httpx

from orders.config import settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 3.0


def reserve(order_id: str, lines: list) -> dict | None:
    """POST {INVENTORY_SERVICE_URL}/reservations; None when something is out of stock."""
    resp = httpx.post(
        f"{settings.inventory_service_url}/reservations",
        json={"order_id": order_id, "lines": [line.model_dump() for line in lines]},
        timeout=TIMEOUT_SECONDS,
    )
    if resp.status_code == 409:
        return None
    resp.raise_for_status()
    return resp.json()


def release(reservation_id: str) -> None:
    """DELETE a reservation so the stock is sellable again."""
    httpx.delete(
        f"{settings.inventory_service_url}/reservations/{reservation_id}",
        timeout=TIMEOUT_SECONDS,
    ).raise_for_status()
'''

USER_CLIENT = '''"""HTTP client for user-service: the customer's profile and payment reference."""

import logging

import httpx

from orders.config import settings

log = logging.getLogger(__name__)


def get_user(customer_id: str) -> dict:
    """GET http://user-service:8080/users/{id}."""
    resp = httpx.get(f"{settings.user_service_url}/users/{customer_id}", timeout=2.0)
    resp.raise_for_status()
    return resp.json()
'''

SYNC_PAYMENT_STEP = """    try:
        payment = payment_client.charge(order, customer)
    except payment_client.PaymentDeclined as exc:
        inventory_client.release(reservation["reservation_id"])
        db.set_status(order.order_id, "payment_failed")
        raise CheckoutFailed("payment was declined") from exc
    db.set_status(order.order_id, "confirmed", payment_id=payment["payment_id"])
    await events.publish(
        "order.confirmed",
        {"order_id": order.order_id, "customer_id": order.customer_id},
        key=order.order_id,
    )
    return db.get_order(order.order_id)
"""

ASYNC_PAYMENT_STEP = """\
    # careful: publish only after the order row is committed. Publishing first let
    # payment complete for orders that then rolled back (found while testing SHOP-412).
    payment_request_id = db.new_payment_request(order.order_id)
    await events.publish(
        "order.payment_requested",
        {
            "order_id": order.order_id,
            "customer_id": order.customer_id,
            "payment_request_id": payment_request_id,
            "amount_minor": order.total_minor,
            "currency": order.currency,
            "customer_ref": customer["payment_customer_ref"],
        },
        key=order.order_id,
    )
    db.set_status(order.order_id, "awaiting_payment")
    return db.get_order(order.order_id)
"""

CHECKOUT = (
    '''"""Checkout: reserve stock, take payment, confirm the order."""

import logging

from orders import db, events, inventory_client, payment_client, user_client
from orders.models import Order, OrderRequest
from orders.pricing import order_total

log = logging.getLogger(__name__)


class CheckoutFailed(Exception):
    """Checkout could not complete; the message is safe to show to the customer."""


async def checkout(request: OrderRequest) -> Order:
    """Create the order, hold its stock, then ask for payment."""
    customer = user_client.get_user(request.customer_id)
    order = db.create_order(request, total_minor=order_total(request.lines), status="pending")
    reservation = inventory_client.reserve(order.order_id, request.lines)
    if reservation is None:
        db.set_status(order.order_id, "rejected")
        raise CheckoutFailed("some items are out of stock")
    await events.publish("order.created", order.model_dump(), key=order.order_id)
'''
    + SYNC_PAYMENT_STEP
)

PAYMENT_EVENTS = '''\
"""Reacts to payment outcomes published by payment-service (SHOP-412, ADR-0003)."""

import logging

from orders import db, events, inventory_client
from orders.events import subscribe

log = logging.getLogger(__name__)


@subscribe("payment.completed")
async def on_payment_completed(event: dict) -> None:
    """Confirm the order and tell everyone downstream."""
    data = event["data"]
    order = db.get_order(data["order_id"])
    if order is None or order.status == "confirmed":
        return  # redelivery: already handled
    db.set_status(order.order_id, "confirmed", payment_id=data["payment_id"])
    await events.publish(
        "order.confirmed",
        {"order_id": order.order_id, "customer_id": order.customer_id},
        key=order.order_id,
    )


@subscribe("payment.failed")
async def on_payment_failed(event: dict) -> None:
    """Give the stock back and mark the order failed."""
    data = event["data"]
    order = db.get_order(data["order_id"])
    if order is None or order.status != "awaiting_payment":
        return
    inventory_client.release(db.reservation_for(order.order_id))
    db.set_status(order.order_id, "payment_failed")
'''

TEST_PRICING = '''"""Tests for orders.pricing."""

from orders.models import OrderLine
from orders.pricing import order_total


def test_tax_rounded_once_on_total():
    lines = [OrderLine(sku="A", warehouse_id="w1", qty=1, unit_price_minor=333)] * 3
    assert order_total(lines) == 999 + 200
'''

CANCELLATION = '''"""Order cancellation before shipment."""

import logging

from orders import db, inventory_client

log = logging.getLogger(__name__)

CANCELLABLE = ("pending", "awaiting_payment", "confirmed")


class NotCancellable(Exception):
    """The order has shipped or was already cancelled."""


async def cancel(order_id: str, reason: str) -> None:
    """Cancel an order and release its stock."""
    order = db.get_order(order_id)
    if order is None or order.status not in CANCELLABLE:
        raise NotCancellable(order_id)
    inventory_client.release(db.reservation_for(order_id))
    db.set_status(order_id, "cancelled")
    log.info("cancelled order %s: %s", order_id, reason)
'''

CANCEL_ROUTE = '''

@app.post("/orders/{order_id}/cancel", status_code=202)
async def cancel_order(order_id: str, reason: str = "customer_request") -> dict:
    """Cancel an order that has not shipped."""
    try:
        await cancellation.cancel(order_id, reason)
    except cancellation.NotCancellable as exc:
        raise HTTPException(status_code=409, detail="order cannot be cancelled") from exc
    return {"order_id": order_id, "status": "cancelled"}
'''

DISCOUNTS = '''"""Discount codes: percentage off the net amount, applied before tax."""

import logging

log = logging.getLogger(__name__)

MAX_DISCOUNT_PCT = 50


def apply_discount(net_minor: int, pct: int) -> int:
    """Net amount after a percentage discount, never below zero."""
    pct = max(0, min(pct, MAX_DISCOUNT_PCT))
    return net_minor - net_minor * pct // 100
'''
