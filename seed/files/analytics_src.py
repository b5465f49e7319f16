"""analytics-service Python sources, as first written (later commits patch them)."""

from __future__ import annotations

CONFIG = '''"""Runtime settings for analytics-service, read once from the environment."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    kafka_brokers: str = os.environ.get("KAFKA_BROKERS", "localhost:9092")
    warehouse_db_url: str = os.environ.get(
        "WAREHOUSE_DB_URL", "postgresql://analytics@localhost:5432/warehouse"
    )
    # read-only reporting database for the finance reports
    reporting_db_url: str = os.environ.get("REPORTING_DB_URL", "")


settings = Settings()
'''

SCHEMAS = '''"""Event schemas: analytics accepts only events it fully understands.

Finance reports are built from these tables, so guessing at a field we do not know is
worse than stopping.
"""

import json
import logging

log = logging.getLogger(__name__)


class UnknownEvent(Exception):
    """An event type or schema_version we have no schema for."""


class UnexpectedField(Exception):
    """A field the schema does not list."""


# FIXME: hand-maintained copy of the producers' asyncapi.yaml; a schema registry would
# stop these drifting apart.
SCHEMAS: dict[tuple[str, int], frozenset[str]] = {
    ("order.created", 1): frozenset({"order_id", "customer_id", "status", "currency",
                                     "total_minor", "payment_id"}),
    ("order.confirmed", 1): frozenset({"order_id", "customer_id"}),
}


def decode(raw: bytes) -> dict:
    """Parse an envelope and check its data against the schema, strictly."""
    envelope = json.loads(raw)
    key = (envelope["type"], envelope["schema_version"])
    if key not in SCHEMAS:
        raise UnknownEvent(f"{key[0]} v{key[1]}")
    extra = set(envelope["data"]) - SCHEMAS[key]
    if extra:
        raise UnexpectedField(f"{key[0]} v{key[1]}: {sorted(extra)}")
    return envelope
'''

PAYMENT_SCHEMAS_OLD = """    ("order.confirmed", 1): frozenset({"order_id", "customer_id"}),
}
"""
PAYMENT_SCHEMAS_NEW = """    ("order.confirmed", 1): frozenset({"order_id", "customer_id"}),
    ("order.payment_requested", 1): frozenset({"order_id", "customer_id",
                                               "payment_request_id", "amount_minor",
                                               "currency", "customer_ref"}),
    ("payment.completed", 1): frozenset({"order_id", "customer_id", "payment_request_id",
                                         "payment_id", "amount_minor", "currency"}),
    ("payment.failed", 1): frozenset({"order_id", "customer_id", "payment_request_id",
                                      "reason"}),
}
"""
SCHEMA_V2_OLD = """    ("payment.failed", 1):"""
SCHEMA_V2_NEW = """\
    ("payment.completed", 2): frozenset({"order_id", "customer_id", "payment_request_id",
                                         "payment_id", "amount_minor", "currency",
                                         "fx_rate"}),
    ("payment.failed", 1):"""

CONSUMERS = (
    '''"""Consumes every business event into the warehouse."""

import logging

from aiokafka import AIOKafkaConsumer

from analytics import schemas, warehouse
from analytics.config import settings

log = logging.getLogger(__name__)

TOPICS = ("order.created", "order.confirmed")


async def run() -> None:
    """Consume forever, one event at a time, committing after each warehouse write."""
    consumer = AIOKafkaConsumer(
        *TOPICS, bootstrap_servers=settings.kafka_brokers, group_id="analytics",
        enable_auto_commit=False,
    )
    await consumer.start()
    async for message in consumer:
'''
    + """        event = schemas.decode(message.value)
        warehouse.store_event(event)
        await consumer.commit()
"""
)

CONSUME_OLD = """        event = schemas.decode(message.value)
        warehouse.store_event(event)
        await consumer.commit()
"""
CONSUME_NEW = """        try:
            event = schemas.decode(message.value)
        except (schemas.UnknownEvent, schemas.UnexpectedField) as exc:
            # Park it and move on: one bad event must not stall the partition (INC-2026-05).
            dead_letter.park(message, reason=str(exc))
        else:
            warehouse.store_event(event)
        await consumer.commit()
"""

WAREHOUSE = '''"""Writes decoded events into the warehouse database."""

import json
import logging

from sqlalchemy import create_engine, text

from analytics.config import settings

log = logging.getLogger(__name__)
engine = create_engine(settings.warehouse_db_url)


def store_event(event: dict) -> None:
    """Append one event to the raw events table (idempotent on event_id)."""
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO raw_events (event_id, type, schema_version, occurred_at, data)"
                 " VALUES (:id, :t, :v, :at, :d) ON CONFLICT (event_id) DO NOTHING"),
            {"id": event["event_id"], "t": event["type"], "v": event["schema_version"],
             "at": event["occurred_at"], "d": json.dumps(event["data"])},
        )
'''

STOCK_COLUMNS_END = "\n)\n\n\ndef fetch_stock_rows("

STOCK_REPORT = (
    '''"""Daily stock report for finance: availability and stock value per warehouse."""

import logging

from sqlalchemy import create_engine, text

from analytics.config import settings

log = logging.getLogger(__name__)

STOCK_COLUMNS = (
    "sku",
    "warehouse_id",
    "on_hand_qty",'''
    + STOCK_COLUMNS_END
    + ''') -> list[dict]:
    """One row per SKU and warehouse from the stock_levels table."""
    if not settings.reporting_db_url:
        log.warning("REPORTING_DB_URL not set; stock report skipped")
        return []
    engine = create_engine(settings.reporting_db_url)
    query = text(f"SELECT {', '.join(STOCK_COLUMNS)} FROM stock_levels")
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def units_by_warehouse(rows: list[dict]) -> dict[str, int]:
    """On-hand units per warehouse."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["warehouse_id"]] = totals.get(row["warehouse_id"], 0) + row["on_hand_qty"]
    return totals
'''
)

REVENUE_REPORT = '''\
"""Revenue per day and currency, from order.created and order.confirmed events."""

import logging

from sqlalchemy import text

from analytics import warehouse

log = logging.getLogger(__name__)

DAILY_REVENUE = text(
    "SELECT date_trunc('day', occurred_at) AS day, data->>'currency' AS currency,"
    " SUM((data->>'total_minor')::bigint) AS total_minor FROM raw_events"
    " WHERE type = 'order.created' GROUP BY 1, 2 ORDER BY 1"
)


def daily_revenue() -> list[dict]:
    """Gross order value per day and currency (minor units)."""
    with warehouse.engine.connect() as conn:
        return [dict(row) for row in conn.execute(DAILY_REVENUE).mappings()]
'''

FUNNEL_REPORT = '''"""Checkout funnel: created → payment requested → confirmed."""

import logging

log = logging.getLogger(__name__)

STEPS = ("order.created", "order.confirmed")


def conversion(counts: dict[str, int]) -> dict[str, float]:
    """Share of orders reaching each step, relative to the first."""
    first = counts.get(STEPS[0], 0) or 1
    return {step: counts.get(step, 0) / first for step in STEPS}
'''

DEAD_LETTER = '''"""Parks events we cannot decode so the consumer keeps moving (ANA-612)."""

import logging

from sqlalchemy import text

from analytics import warehouse

log = logging.getLogger(__name__)


def park(message, reason: str) -> None:
    """Store the raw message for later replay and log why."""
    with warehouse.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO parked_events (topic, partition, kafka_offset, raw, reason)"
                 " VALUES (:t, :p, :o, :r, :why)"),
            {"t": message.topic, "p": message.partition, "o": message.offset,
             "r": message.value.decode(errors="replace"), "why": reason},
        )
    log.error("parked %s@%s: %s", message.topic, message.offset, reason)
'''

TEST_SCHEMAS = '''"""Tests for analytics.schemas."""

import json

import pytest

from analytics import schemas


def _raw(data, version=1):
    return json.dumps({"type": "order.confirmed", "schema_version": version,
                       "data": data}).encode()


def test_unexpected_field_rejected():
    with pytest.raises(schemas.UnexpectedField):
        schemas.decode(_raw({"order_id": "o1", "customer_id": "c1", "surprise": 1}))
'''

TEST_STOCK_REPORT = '''"""Tests for analytics.reports.stock_report."""

from analytics.reports.stock_report import units_by_warehouse


def test_units_by_warehouse():
    rows = [{"warehouse_id": "w1", "on_hand_qty": 2}, {"warehouse_id": "w1", "on_hand_qty": 3}]
    assert units_by_warehouse(rows) == {"w1": 5}
'''

MAIN = '''"""Entry point: python -m analytics.main."""

import asyncio

from analytics import consumers

if __name__ == "__main__":
    asyncio.run(consumers.run())
'''

BACKFILL = """\
\"\"\"One-off: backfill November 2023 orders from the orders-db export into raw_events.\"\"\"

import csv
import json
import sys

from analytics import warehouse

if __name__ == "__main__":
    with open(sys.argv[1], newline="") as fh:
        for row in csv.DictReader(fh):
            warehouse.store_event(
                {"event_id": f"backfill-{row['order_id']}", "type": "order.created",
                 "schema_version": 1, "occurred_at": row["created_at"],
                 "data": json.loads(row["payload"])}
            )
"""

FX_REPORT = """\
\"\"\"FX report: what currency conversion cost us, from payment.completed v2 (fx_rate).\"\"\"

import logging

from sqlalchemy import text

from analytics import warehouse

log = logging.getLogger(__name__)

FX_BY_CURRENCY = text(
    "SELECT data->>'currency' AS currency, AVG((data->>'fx_rate')::numeric) AS avg_rate,"
    " COUNT(*) AS payments FROM raw_events"
    " WHERE type = 'payment.completed' AND schema_version >= 2 GROUP BY 1"
)


def fx_by_currency() -> list[dict]:
    \"\"\"Average FX rate and payment count per currency.\"\"\"
    with warehouse.engine.connect() as conn:
        return [dict(row) for row in conn.execute(FX_BY_CURRENCY).mappings()]
"""

TEST_UNKNOWN_VERSION = """

def test_unknown_version_rejected():
    with pytest.raises(schemas.UnknownEvent):
        schemas.decode(_raw({"order_id": "o1", "customer_id": "c1"}, version=9))
"""

TEST_KNOWN_VERSION = """

def test_known_event_decodes():
    event = schemas.decode(_raw({"order_id": "o1", "customer_id": "c1"}))
    assert event["data"]["order_id"] == "o1"
"""

TEST_EMPTY_STOCK = """

def test_units_by_warehouse_empty():
    assert units_by_warehouse([]) == {}
"""

TEST_TWO_WAREHOUSES = """

def test_units_by_warehouse_keeps_warehouses_apart():
    rows = [{"warehouse_id": "w1", "on_hand_qty": 1}, {"warehouse_id": "w2", "on_hand_qty": 4}]
    assert units_by_warehouse(rows) == {"w1": 1, "w2": 4}
"""
