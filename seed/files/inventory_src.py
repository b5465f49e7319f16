"""inventory-service Python sources and SQL, as first written."""

from __future__ import annotations

CONFIG = '''"""Runtime settings for inventory-service, read once from the environment."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str = os.environ.get(
        "DATABASE_URL", "postgresql://inventory@localhost:5432/inventory"
    )
    erp_export_dir: str = os.environ.get("ERP_EXPORT_DIR", "/data/erp")


settings = Settings()
'''

DB = '''"""Database access for stock levels and reservations."""

import json
import logging
import uuid
from datetime import datetime

from sqlalchemy import create_engine, text

from inventory.config import settings

log = logging.getLogger(__name__)
engine = create_engine(settings.database_url, pool_pre_ping=True)


def available_qty(conn, warehouse_id: str, sku: str) -> int:
    """On-hand stock minus what active reservations hold."""
    return conn.execute(
        text(
            "SELECT s.on_hand_qty - COALESCE(SUM(r.qty), 0) FROM stock_levels s"
            " LEFT JOIN reservation_lines r USING (warehouse_id, sku)"
            " WHERE s.warehouse_id = :w AND s.sku = :s GROUP BY s.on_hand_qty"
        ),
        {"w": warehouse_id, "s": sku},
    ).scalar_one()


def insert_reservation(conn, order_id: str, lines: list[dict], expires_at: datetime) -> str:
    """Store a reservation and its lines; returns its id."""
    reservation_id = str(uuid.uuid4())
    conn.execute(
        text("INSERT INTO reservations (reservation_id, order_id, lines, expires_at)"
             " VALUES (:id, :o, :l, :e)"),
        {"id": reservation_id, "o": order_id, "l": json.dumps(lines), "e": expires_at},
    )
    return reservation_id


def expired_reservations(conn, now: datetime) -> list[dict]:
    """Reservations past their expiry that were never confirmed."""
    rows = conn.execute(
        text("SELECT * FROM reservations WHERE expires_at < :now AND confirmed_at IS NULL"),
        {"now": now},
    ).mappings()
    return [dict(row) for row in rows]


def delete_reservation(conn, reservation_id: str) -> None:
    """Forget a reservation (its stock becomes available again)."""
    conn.execute(text("DELETE FROM reservations WHERE reservation_id = :id"),
                 {"id": reservation_id})
'''

MODELS = '''"""API models of inventory-service."""

from pydantic import BaseModel, Field


class ReservationLine(BaseModel):
    sku: str
    warehouse_id: str
    qty: int = Field(gt=0)


class ReservationRequest(BaseModel):
    order_id: str
    lines: list[ReservationLine]


class StockLevel(BaseModel):
    sku: str
    warehouse_id: str
    on_hand_qty: int
'''

STOCK = '''"""Stock level queries used by the API and the storefront."""

import logging

from sqlalchemy import text

from inventory import db

log = logging.getLogger(__name__)


def stock_for_sku(sku: str) -> list[dict]:
    """Stock of a SKU in every warehouse."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT sku, warehouse_id, on_hand_qty FROM stock_levels WHERE sku = :s"),
            {"s": sku},
        ).mappings()
        return [dict(row) for row in rows]
'''

APP = '''"""HTTP API of inventory-service."""

import logging

from fastapi import FastAPI

from inventory import stock
from inventory.models import StockLevel

log = logging.getLogger(__name__)
app = FastAPI(title="inventory-service")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/stock/{sku}")
def get_stock(sku: str) -> list[StockLevel]:
    """Stock of one SKU per warehouse."""
    return [StockLevel(**row) for row in stock.stock_for_sku(sku)]
'''

RESERVATION_ROUTES = '''

@app.post("/reservations", status_code=201)
def create_reservation(request: ReservationRequest) -> dict:
    """Hold stock for an order; 409 if any line is short."""
    with db.engine.begin() as conn:
        try:
            return reservations.reserve(conn, request.order_id,
                                        [line.model_dump() for line in request.lines])
        except reservations.OutOfStock as exc:
            raise HTTPException(status_code=409, detail=f"out of stock: {exc}") from exc


@app.delete("/reservations/{reservation_id}", status_code=204)
def delete_reservation(reservation_id: str) -> None:
    """Release a reservation (payment failed or order cancelled)."""
    with db.engine.begin() as conn:
        db.delete_reservation(conn, reservation_id)
'''

LOCKS = '''"""Row locks taken by reservations (SELECT ... FOR UPDATE)."""

import logging

from sqlalchemy import text

log = logging.getLogger(__name__)


def lock_warehouse(conn, warehouse_id: str) -> None:
    """Lock a warehouse row until the transaction ends."""
    conn.execute(text("SELECT 1 FROM warehouses WHERE warehouse_id = :w FOR UPDATE"),
                 {"w": warehouse_id})


def lock_sku(conn, warehouse_id: str, sku: str) -> None:
    """Lock one SKU's stock row in a warehouse until the transaction ends."""
    conn.execute(
        text("SELECT 1 FROM stock_levels WHERE warehouse_id = :w AND sku = :s FOR UPDATE"),
        {"w": warehouse_id, "s": sku},
    )
'''

RELEASE_LOCKS = """            lock_warehouse(conn, line["warehouse_id"])
            lock_sku(conn, line["warehouse_id"], line["sku"])
            released_qty += line["qty"]
"""
RELEASE_LOCKS_INVERTED = """\
            # Lock the SKU first: fewer waits on the hot warehouse row (INV-471).
            lock_sku(conn, line["warehouse_id"], line["sku"])
            lock_warehouse(conn, line["warehouse_id"])
            released_qty += line["qty"]
"""

TTL_LINE = "RESERVATION_TTL = timedelta(minutes=15)\n"
LOCK_ORDER_NOTE = (
    TTL_LINE
    + """
# DO NOT change the lock ordering (warehouse lock before sku lock): reversing it
# deadlocked checkout in INC-2025-07 (see docs/postmortems/2025-07-22-inventory-deadlock.md).
# Every path that takes both locks must take them in this order; ADR-0001 has the why.
LOCK_ORDER = ("warehouse", "sku")
"""
)

RESERVATIONS = (
    '''"""Stock reservations: hold stock for an order between checkout and payment.

A reservation locks the warehouse row, then each SKU's stock row, checks availability
and records the reserved lines. It expires after RESERVATION_TTL unless confirmed.
"""

import logging
from datetime import UTC, datetime, timedelta

from inventory import db
from inventory.locks import lock_sku, lock_warehouse

log = logging.getLogger(__name__)

'''
    + TTL_LINE
    + '''

class OutOfStock(Exception):
    """Not enough unreserved stock for a line."""


def reserve(conn, order_id: str, lines: list[dict]) -> dict:
    """Reserve every line of an order, or nothing."""
    for line in sorted(lines, key=lambda item: (item["warehouse_id"], item["sku"])):
        lock_warehouse(conn, line["warehouse_id"])
        lock_sku(conn, line["warehouse_id"], line["sku"])
        if db.available_qty(conn, line["warehouse_id"], line["sku"]) < line["qty"]:
            raise OutOfStock(line["sku"])
    expires_at = datetime.now(UTC) + RESERVATION_TTL
    reservation_id = db.insert_reservation(conn, order_id, lines, expires_at)
    return {"reservation_id": reservation_id, "order_id": order_id}


def release_expired(conn, now: datetime) -> int:
    """Give back the stock of reservations that expired unconfirmed; returns units freed."""
    released_qty = 0
    for reservation in db.expired_reservations(conn, now):
        for line in sorted(reservation["lines"], key=lambda i: (i["warehouse_id"], i["sku"])):
'''
    + RELEASE_LOCKS
    + """        db.delete_reservation(conn, reservation["reservation_id"])
    log.info("released %d units from expired reservations", released_qty)
    return released_qty
"""
)

TEST_RESERVATIONS = '''"""Tests for inventory.reservations."""

import pytest

from inventory import reservations


class FakeConn:
    def __init__(self, available):
        self.available = available
        self.locks = []

    def execute(self, stmt, params):
        self.locks.append(str(stmt).split(" FROM ")[1].split()[0])


def test_out_of_stock(monkeypatch):
    monkeypatch.setattr(reservations.db, "available_qty", lambda *a: 0)
    with pytest.raises(reservations.OutOfStock):
        reservations.reserve(FakeConn(0), "o1", [{"sku": "A", "warehouse_id": "w", "qty": 1}])
'''

LOCK_ORDER_TEST = '''

def test_release_expired_locks_warehouse_before_sku(monkeypatch):
    """Regression test for INC-2025-07: both paths must lock warehouse, then SKU."""
    conn = FakeConn(0)
    line = {"sku": "A", "warehouse_id": "w", "qty": 1}
    monkeypatch.setattr(reservations.db, "expired_reservations",
                        lambda *a: [{"reservation_id": "r1", "lines": [line]}])
    monkeypatch.setattr(reservations.db, "delete_reservation", lambda *a: None)
    reservations.release_expired(conn, now=None)
    assert conn.locks == ["warehouses", "stock_levels"]
'''

STOCK_SYNC_HEAD = '''\
"""Nightly stock sync from the ERP export (CSV on the SFTP drop) into stock_levels."""
'''
STOCK_SYNC_WARNING = (
    STOCK_SYNC_HEAD
    + """
# WARNING: legacy stock sync. Don't touch: the nightly analytics job reads these tables
# directly; any column change breaks the finance reports. Talk to the data team first.
"""
)

STOCK_SYNC = (
    STOCK_SYNC_HEAD
    + '''
import csv
import logging
from pathlib import Path

from sqlalchemy import text

log = logging.getLogger(__name__)

# the ERP export has no header row, column order is fixed by the ERP vendor
ERP_COLUMNS = ("sku", "warehouse_id", "on_hand_qty", "updated_at")

UPSERT = text(
    "INSERT INTO stock_levels (sku, warehouse_id, on_hand_qty, updated_at)"
    " VALUES (:sku, :warehouse_id, :on_hand_qty, :updated_at)"
    " ON CONFLICT (sku, warehouse_id) DO UPDATE SET on_hand_qty = EXCLUDED.on_hand_qty,"
    " updated_at = EXCLUDED.updated_at"
)


def read_export(path: Path) -> list[dict]:
    """Rows of one ERP export file."""
    with path.open(newline="") as fh:
        return [dict(zip(ERP_COLUMNS, row, strict=True)) for row in csv.reader(fh)]


def sync_from_csv(conn, path: Path) -> int:
    """Upsert every row of the export; returns the row count."""
    rows = read_export(path)
    for row in rows:
        conn.execute(UPSERT, row)
    log.info("stock sync: %d rows from %s", len(rows), path.name)
    return len(rows)
'''
)

TEST_STOCK_SYNC = '''"""Tests for inventory.legacy.stock_sync."""

from inventory.legacy.stock_sync import read_export


def test_read_export(tmp_path):
    export = tmp_path / "stock.csv"
    export.write_text("A1,w1,5,2023-11-13T00:00:00\\n")
    assert read_export(export)[0]["on_hand_qty"] == "5"
'''

WAREHOUSES = '''"""Warehouses: where stock physically is."""

import logging

from sqlalchemy import text

from inventory import db

log = logging.getLogger(__name__)


def list_warehouses() -> list[dict]:
    """All active warehouses."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT warehouse_id, name, country FROM warehouses WHERE active")
        ).mappings()
        return [dict(row) for row in rows]
'''

MIGRATION_0001 = """-- stock per SKU and warehouse
CREATE TABLE stock_levels (
    sku          text        NOT NULL,
    warehouse_id text        NOT NULL,
    on_hand_qty  integer     NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, warehouse_id)
);
"""

MIGRATION_0002 = """CREATE TABLE reservations (
    reservation_id uuid        PRIMARY KEY,
    order_id       text        NOT NULL,
    lines          jsonb       NOT NULL,
    expires_at     timestamptz NOT NULL,
    confirmed_at   timestamptz
);

CREATE TABLE reservation_lines (
    reservation_id uuid    NOT NULL REFERENCES reservations ON DELETE CASCADE,
    sku            text    NOT NULL,
    warehouse_id   text    NOT NULL,
    qty            integer NOT NULL
);
"""

MIGRATION_0003 = """create table warehouses (
    warehouse_id text primary key,
    name text not null,
    country text not null,
    active boolean not null default true
);
"""
