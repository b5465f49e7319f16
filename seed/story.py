"""Stories that span repositories: the inventory↔analytics co-changes and Tom's first weeks."""

from __future__ import annotations

from dataclasses import dataclass

from seed.files import analytics_src, inventory_src, notification_src
from seed.model import append, replace, write
from seed.script import Script

UNDECLARED_TICKET_PREFIX = "DATA"


@dataclass(frozen=True)
class Column:
    """One column that inventory adds and analytics reads in the same hour."""

    ticket: str
    day: str
    author: str
    name: str
    sql_type: str
    model_type: str


# Every stock_levels column change needs a matching change to the analytics stock report,
# because that report reads the table directly. Nothing declares the link.
DATA_COLUMNS: tuple[Column, ...] = (
    Column(
        "DATA-101", "2023-12-05", "ben", "reserved_qty", "integer NOT NULL DEFAULT 0", "int = 0"
    ),
    Column("DATA-104", "2024-01-23", "ben", "reorder_point", "integer", "int | None = None"),
    Column("DATA-107", "2024-03-05", "ben", "unit_cost_minor", "bigint", "int | None = None"),
    Column("DATA-111", "2024-05-21", "ben", "supplier_code", "text", "str | None = None"),
    Column("DATA-115", "2024-07-16", "ben", "last_counted_at", "timestamptz", "str | None = None"),
    Column("DATA-119", "2024-09-24", "ben", "damaged_qty", "integer NOT NULL DEFAULT 0", "int = 0"),
    Column(
        "DATA-122", "2024-11-26", "ben", "in_transit_qty", "integer NOT NULL DEFAULT 0", "int = 0"
    ),
    Column("DATA-126", "2025-02-04", "ben", "safety_stock_qty", "integer", "int | None = None"),
    Column("DATA-131", "2025-05-13", "ben", "cost_currency", "text", "str | None = None"),
    Column(
        "DATA-135", "2025-08-19", "alex", "returned_qty", "integer NOT NULL DEFAULT 0", "int = 0"
    ),
    Column("DATA-137", "2025-09-30", "maria", "abc_class", "text", "str | None = None"),
    Column("DATA-139", "2025-10-21", "alex", "expiry_date", "date", "str | None = None"),
    Column(
        "DATA-143",
        "2026-01-27",
        "alex",
        "web_allocated_qty",
        "integer NOT NULL DEFAULT 0",
        "int = 0",
    ),
    Column(
        "DATA-146",
        "2026-03-03",
        "maria",
        "is_discontinued",
        "boolean NOT NULL DEFAULT false",
        "bool = False",
    ),
    Column("DATA-148", "2026-04-14", "alex", "lead_time_days", "integer", "int | None = None"),
    Column("DATA-152", "2026-08-25", "maria", "shelf_life_days", "integer", "int | None = None"),
)

# Inventory-only schema changes (indexes, constraints): no analytics change needed.
INVENTORY_MIGRATIONS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "INV-41",
        "2024-02-12",
        "index reservations on expires_at",
        "reservations_expires_at_idx",
        "CREATE INDEX CONCURRENTLY reservations_expires_at_idx ON reservations (expires_at);\n",
    ),
    (
        "INV-97",
        "2024-06-18",
        "index reservation lines by sku",
        "reservation_lines_sku_idx",
        "CREATE INDEX CONCURRENTLY reservation_lines_sku_idx\n"
        "    ON reservation_lines (warehouse_id, sku);\n",
    ),
    (
        "INV-203",
        "2024-11-19",
        "partial index for unconfirmed reservations",
        "reservations_unconfirmed_idx",
        "CREATE INDEX CONCURRENTLY reservations_unconfirmed_idx\n"
        "    ON reservations (expires_at) WHERE confirmed_at IS NULL;\n",
    ),
    (
        "INV-330",
        "2025-03-25",
        "warehouse timezone",
        "warehouses_timezone",
        "ALTER TABLE warehouses ADD COLUMN timezone text NOT NULL DEFAULT 'UTC';\n",
    ),
    (
        "INV-512",
        "2025-11-04",
        "non-negative stock constraint",
        "stock_non_negative",
        "ALTER TABLE stock_levels ADD CONSTRAINT on_hand_non_negative CHECK (on_hand_qty >= 0)\n"
        "    NOT VALID;\n",
    ),
    (
        "INV-601",
        "2026-06-09",
        "index reservations by order",
        "reservations_order_idx",
        "CREATE INDEX CONCURRENTLY reservations_order_idx ON reservations (order_id);\n",
    ),
)


def _report_function(col: Column) -> str:
    name, h = col.name, col.name.replace("_", " ")
    if col.model_type.startswith("int"):
        return (
            f"\n\ndef total_{name}(rows: list[dict]) -> int:\n"
            f'    """Sum of {h} over all rows ({col.ticket})."""\n'
            f'    return sum(int(row.get("{name}") or 0) for row in rows)\n'
        )
    if col.model_type.startswith("bool"):
        return (
            f"\n\ndef count_{name}(rows: list[dict]) -> int:\n"
            f'    """Rows flagged {h} ({col.ticket})."""\n'
            f'    return sum(1 for row in rows if row.get("{name}"))\n'
        )
    return (
        f"\n\ndef distinct_{name}(rows: list[dict]) -> list[str]:\n"
        f'    """Distinct {h} values, for the report filters ({col.ticket})."""\n'
        f'    return sorted({{str(row["{name}"]) for row in rows if row.get("{name}")}})\n'
    )


def data_pairs(s: Script) -> list[tuple[str, str]]:
    """Write every inventory migration after 0003 and the paired analytics changes."""
    events = [(c.day, 0, c) for c in DATA_COLUMNS] + [(m[1], 1, m) for m in INVENTORY_MIGRATIONS]
    field_anchor = "    on_hand_qty: int\n"
    pairs = []
    for number, (day, kind, item) in enumerate(sorted(events, key=lambda e: e[:2]), start=4):
        if kind == 1:
            ticket, _, summary, slug, sql = item
            s.commit(
                "inventory-service",
                day,
                "alex",
                f"{ticket}: Migration: {summary}",
                [write(f"migrations/{number:04d}_{slug}.sql", f"-- {ticket}\n{sql}")],
            )
            continue
        col: Column = item
        inv = s.commit(
            "inventory-service",
            day,
            col.author,
            _subject(col, f"add {col.name} column to stock_levels"),
            [
                write(
                    f"migrations/{number:04d}_add_{col.name}.sql",
                    f"-- {col.ticket}\nALTER TABLE stock_levels ADD COLUMN "
                    f"{col.name} {col.sql_type};\n",
                ),
                replace(
                    "src/inventory/models.py",
                    field_anchor,
                    field_anchor + f"    {col.name}: {col.model_type}\n",
                ),
            ],
            key=f"{col.ticket}-inventory",
        )
        field_anchor = f"    {col.name}: {col.model_type}\n"
        gap = 60 * s.rng.randint(7, 48)
        ops = [
            replace(
                "src/analytics/reports/stock_report.py",
                analytics_src.STOCK_COLUMNS_END,
                f'\n    "{col.name}",' + analytics_src.STOCK_COLUMNS_END,
            ),
            append("src/analytics/reports/stock_report.py", _report_function(col)),
        ]
        s.commit(
            "analytics-service",
            inv.when + gap,
            col.author,
            _subject(col, f"read {col.name} in the stock report"),
            ops,
            key=f"{col.ticket}-analytics",
        )
        pairs.append((f"{col.ticket}-inventory", f"{col.ticket}-analytics"))
    return pairs


def _subject(col: Column, text: str) -> str:
    if col.author == "ben":
        return f"{col.ticket} {text}"
    if col.author == "maria":
        return f"{col.ticket} {text[0].upper()}{text[1:]}"
    return f"{col.ticket}: {text[0].upper()}{text[1:]}"


def new_hire(s: Script) -> None:
    """Tom's first commits: small docs fixes and a test, as new hires do."""
    s.commit(
        "platform",
        "2026-09-09",
        "tom",
        "docs: fix the local setup steps in onboarding",
        [
            replace(
                "docs/onboarding.md",
                "2. Run the local stack (`./scripts/dev-up.sh`) and place an order end to end.\n",
                "2. Clone every service repo next to `platform`, then "
                "run `./scripts/dev-up.sh`\n   and place an order end to end.\n",
            ),
        ],
    )
    s.commit(
        "order-service",
        "2026-09-16",
        "tom",
        "docs: add a Tests section to the README",
        [
            append(
                "README.md",
                "\n## Tests\n\n    pip install -r requirements-dev.txt\n"
                "    PYTHONPATH=src pytest\n",
            ),
        ],
    )
    s.commit(
        "notification-service",
        "2026-09-23",
        "tom",
        "test: cover the payment_failed subject",
        [write("tests/test_templates.py", notification_src.TEST_TEMPLATES)],
    )
    s.commit(
        "payment-service",
        "2026-10-01",
        "tom",
        "docs: explain awaiting_payment in the runbook",
        [
            append(
                "docs/runbook.md",
                "\n### Orders stuck in awaiting_payment\n\n"
                "Orders wait in `awaiting_payment` until we publish "
                "`payment.completed` or\n`payment.failed`. Check the "
                "consumer lag first (see ConsumerLagHigh).\n",
            )
        ],
    )
    s.commit(
        "user-service",
        "2026-10-14",
        "tom",
        "docs: mention the JWKS endpoint in local setup",
        [
            append(
                "README.md",
                "\nTo check token verification locally, fetch "
                "http://localhost:8084/.well-known/jwks.json.\n",
            )
        ],
    )
    s.commit(
        "platform",
        "2026-10-28",
        "tom",
        "docs: link the on-call schedule",
        [
            append(
                "docs/services.md",
                "\nOn-call schedule: https://shopfast.pagerduty.com/schedules/PBACKEND\n",
            ),
        ],
    )


def inventory_test_reference() -> str:
    """The regression test name that guards the lock order (used by the manifest)."""
    assert "test_release_expired_locks_warehouse_before_sku" in inventory_src.LOCK_ORDER_TEST
    return "tests/test_reservations.py::test_release_expired_locks_warehouse_before_sku"
