"""analytics-service: docs, contracts and scripted history (INC-2026-05 consumer lag)."""

from __future__ import annotations

from seed.deps import requirements
from seed.files import analytics_src as src
from seed.files.common import GITIGNORE, init_module
from seed.model import append, delete, replace, write
from seed.script import Script

REPO = "analytics-service"

README = """# analytics-service

Consumes every business event into the warehouse database and builds the finance and
product reports (revenue, checkout funnel, stock).

## Inputs

- Kafka: `order.created`, `order.confirmed` (order-service)
- The reporting database (`REPORTING_DB_URL`) for the stock report

## Running

    pip install -r requirements.txt -r requirements-dev.txt
    PYTHONPATH=src python -m analytics.main

Reports run from cron at 02:00 UTC; see `src/analytics/reports/`.
"""

DOCKERFILE = """FROM python:3.11-slim

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY src/ src/
ENV PYTHONPATH=/app/src
CMD ["python", "-m", "analytics.main"]
"""

ASYNCAPI = """asyncapi: 2.6.0
info:
  title: analytics-service
  version: 1.0.0
  description: Events analytics-service consumes into the warehouse. It publishes nothing.
defaultContentType: application/json
servers:
  production:
    url: kafka-1.prod.shopfast.internal:9092
    protocol: kafka
channels:
  order.created:
    description: Consumed. Published by order-service.
    publish:
      operationId: onOrderCreated
      message: {payload: {type: object}}
  order.confirmed:
    description: Consumed. Published by order-service.
    publish:
      operationId: onOrderConfirmed
      message: {payload: {type: object}}
"""

PAYMENT_CHANNELS = """  order.payment_requested:
    description: Consumed. Published by order-service (since SHOP-412).
    publish:
      operationId: onPaymentRequested
      message: {payload: {type: object}}
  payment.completed:
    description: Consumed. Published by payment-service.
    publish:
      operationId: onPaymentCompleted
      message: {payload: {type: object}}
  payment.failed:
    description: Consumed. Published by payment-service.
    publish:
      operationId: onPaymentFailed
      message: {payload: {type: object}}
"""

CATALOG = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: analytics-service
  description: Event warehouse and finance/product reports
  annotations:
    github.com/project-slug: shopfast/analytics-service
  tags:
    - python
    - data
spec:
  type: service
  lifecycle: production
  owner: group:data
  system: reporting
  dependsOn:
    - resource:analytics-warehouse-db
  consumesApis:
    - order-events
    - payment-events
"""

CODEOWNERS = """*   @bokafor @shopfast/data
"""

NOTES = [
    (
        "docs/reports.md",
        "# Reports\n\n## Revenue\n\nGross order value per day and "
        "currency, from `order.created`. Finance uses the\nconfirmed view; product uses "
        "the created one.\n",
    ),
    (
        "docs/reports.md",
        "\n## Checkout funnel\n\nCreated → payment requested → confirmed."
        " A drop between the last two steps\nis payment declines, not a bug in checkout.\n",
    ),
    (
        "docs/reports.md",
        "\n## Stock\n\nBuilt nightly at 02:00 UTC for finance from the reporting database.\n",
    ),
    (
        "docs/operations.md",
        "# Operating analytics-service\n\n## Consumer lag\n\nThe "
        "consumer commits after every warehouse write. Lag that grows while the\npod is "
        "healthy usually means one event fails to decode again and again.\n",
    ),
]


def script(s: Script) -> None:
    """Scripted commits of analytics-service (stock report columns come from story.py)."""
    s.skeleton(
        REPO,
        "2023-11-10",
        "ben",
        "analytics service skeleton: events into the warehouse",
        [
            write("README.md", README),
            write(".gitignore", GITIGNORE),
            write(
                "requirements.txt",
                requirements(
                    ["pydantic", "sqlalchemy", "psycopg", "aiokafka", "pandas", "requests"]
                ),
            ),
            write("requirements-dev.txt", requirements(["pytest"])),
            write("Dockerfile", DOCKERFILE),
            write("src/analytics/__init__.py", init_module("analytics", "analytics-service")),
            write("src/analytics/main.py", src.MAIN),
            write("src/analytics/config.py", src.CONFIG),
            write("src/analytics/schemas.py", src.SCHEMAS),
            write("src/analytics/consumers.py", src.CONSUMERS),
            write("src/analytics/warehouse.py", src.WAREHOUSE),
            write("src/analytics/reports/__init__.py", ""),
            write("src/analytics/reports/stock_report.py", src.STOCK_REPORT),
            write("tests/test_schemas.py", src.TEST_SCHEMAS),
            write("tests/test_stock_report.py", src.TEST_STOCK_REPORT),
        ],
    )
    s.commit(
        REPO,
        "2023-12-11",
        "ben",
        "revenue report + asyncapi",
        [
            write("src/analytics/reports/revenue_report.py", src.REVENUE_REPORT),
            write("asyncapi.yaml", ASYNCAPI),
        ],
    )
    s.commit(
        REPO,
        "2024-01-10",
        "ben",
        "catalog entry and codeowners",
        [write("catalog-info.yaml", CATALOG), write(".github/CODEOWNERS", CODEOWNERS)],
    )
    s.commit(
        REPO,
        "2024-02-20",
        "jamie",
        "checkout funnel report",
        [write("src/analytics/reports/funnel_report.py", src.FUNNEL_REPORT)],
    )
    s.commit(
        REPO,
        "2024-03-21",
        "ben",
        "consume payment events (SHOP-412)",
        [
            replace(
                "src/analytics/consumers.py",
                'TOPICS = ("order.created", "order.confirmed")\n',
                'TOPICS = (\n    "order.created",\n    "order.payment_requested",\n'
                '    "order.confirmed",\n    "payment.completed",\n    "payment.failed",\n)\n',
            ),
            replace("src/analytics/schemas.py", src.PAYMENT_SCHEMAS_OLD, src.PAYMENT_SCHEMAS_NEW),
            append("asyncapi.yaml", PAYMENT_CHANNELS),
            replace(
                "README.md",
                "- Kafka: `order.created`, `order.confirmed` (order-service)\n",
                "- Kafka: `order.created`, `order.payment_requested`, `order.confirmed`\n"
                "  (order-service); `payment.completed`, `payment.failed` (payment-service)\n",
            ),
            replace(
                "src/analytics/reports/funnel_report.py",
                'STEPS = ("order.created", "order.confirmed")\n',
                'STEPS = ("order.created", "order.payment_requested", "order.confirmed")\n',
            ),
        ],
    )
    s.commit(
        REPO,
        "2026-05-19 11:30",
        "maria",
        "ANA-612 Park undecodable events instead of "
        "retrying forever\n\nINC-2026-05: payment.completed arrived with a new fx_rate "
        "field but still\nschema_version 1. decode() raised, the consumer restarted on "
        "the same offset\nand lag grew for 9 hours. Bad events now go to parked_events "
        "and we move on.\n",
        [
            write("src/analytics/dead_letter.py", src.DEAD_LETTER),
            replace("src/analytics/consumers.py", src.CONSUME_OLD, src.CONSUME_NEW),
            replace(
                "src/analytics/consumers.py",
                "from analytics import schemas, warehouse\n",
                "from analytics import dead_letter, schemas, warehouse\n",
            ),
        ],
        key="dead-letter",
    )
    s.commit(
        REPO,
        "2026-05-19 16:45",
        "maria",
        "ANA-613 Accept payment.completed v2 (fx_rate)",
        [replace("src/analytics/schemas.py", src.SCHEMA_V2_OLD, src.SCHEMA_V2_NEW)],
    )
    _housekeeping(s)
    _takeover(s)


def _takeover(s: Script) -> None:
    """Maria takes analytics over after Ben leaves: she rewrites and documents as she goes."""
    s.commit(
        REPO,
        "2025-07-08",
        "maria",
        "ANA-455 README for the pipeline as it is today",
        [write("README.md", README_V2)],
    )
    s.commit(
        REPO,
        "2025-07-15",
        "maria",
        "ANA-458 Fail fast when KAFKA_BROKERS is missing",
        [
            replace(
                "src/analytics/config.py",
                '    kafka_brokers: str = os.environ.get("KAFKA_BROKERS", "localhost:9092")\n',
                '    kafka_brokers: str = os.environ["KAFKA_BROKERS"]\n',
            ),
            replace(
                "src/analytics/main.py", "import asyncio\n", "import asyncio\nimport logging\n"
            ),
            replace(
                "src/analytics/main.py",
                "    asyncio.run(consumers.run())\n",
                "    logging.basicConfig(level=logging.INFO)\n    asyncio.run(consumers.run())\n",
            ),
        ],
    )
    s.commit(
        REPO,
        "2025-07-10",
        "maria",
        "ANA-457 Tidy-up after the handover",
        [
            replace("src/analytics/__init__.py", '__version__ = "0.1.0"', '__version__ = "1.0.0"'),
            write(
                "src/analytics/reports/__init__.py",
                '"""Nightly reports built from the warehouse."""\n',
            ),
            append(".gitignore", ".coverage\nhtmlcov/\n"),
            append("requirements-dev.txt", "ruff==0.5.7\n"),
            append("tests/test_schemas.py", src.TEST_UNKNOWN_VERSION),
            append("tests/test_stock_report.py", src.TEST_EMPTY_STOCK),
        ],
    )
    s.split(
        REPO,
        "2025-12-02",
        "maria",
        [
            "ANA-486 Second clean-up pass: version, ignore files, tests",
            "ANA-486 Second clean-up pass: docs, Dockerfile, config",
        ],
        [
            replace("src/analytics/__init__.py", '__version__ = "1.0.0"', '__version__ = "1.1.0"'),
            append(
                "src/analytics/reports/__init__.py",
                '\n__all__ = ["funnel_report", "revenue_report", "stock_report"]\n',
            ),
            append(".gitignore", ".mypy_cache/\n"),
            append("requirements-dev.txt", "pytest-cov==5.0.0\n"),
            append("tests/test_schemas.py", src.TEST_KNOWN_VERSION),
            append("tests/test_stock_report.py", src.TEST_TWO_WAREHOUSES),
            append(
                "README.md",
                "\n## Ownership\n\nQuestions go to #data. Runbook: "
                "[docs/warehouse.md](docs/warehouse.md).\n",
            ),
            replace(
                "Dockerfile",
                "ENV PYTHONPATH=/app/src\n",
                "ENV PYTHONPATH=/app/src\nENV PYTHONUNBUFFERED=1\n",
            ),
            replace("asyncapi.yaml", "  version: 1.0.0\n", "  version: 1.1.0\n"),
            replace(
                "src/analytics/config.py",
                "    # read-only reporting database for the finance reports\n",
                "    # read-only reporting database for the finance reports; empty skips them\n",
            ),
            replace(
                "src/analytics/main.py",
                '"""Entry point: python -m analytics.main."""',
                '"""Entry point: python -m analytics.main; reports run from cron."""',
            ),
        ],
    )
    s.commit(
        REPO,
        "2025-07-29",
        "maria",
        "ANA-462 Document the warehouse tables",
        [write("docs/warehouse.md", WAREHOUSE_DOC)],
    )
    s.commit(
        REPO,
        "2025-08-12",
        "maria",
        "ANA-466 Store events in batches during replays",
        [
            append("src/analytics/warehouse.py", WAREHOUSE_BATCH),
        ],
    )
    s.commit(
        REPO,
        "2025-09-16",
        "maria",
        "ANA-471 Describe who publishes each consumed channel",
        [
            replace(
                "asyncapi.yaml",
                "  description: Events analytics-service consumes into the "
                "warehouse. It publishes nothing.\n",
                "  description: >\n    Events "
                "analytics-service consumes into the warehouse (raw_events).\n    It publishes "
                "nothing. Owner: data team (Maria Garcia).\n",
            ),
        ],
    )
    s.commit(
        REPO,
        "2025-10-07",
        "maria",
        "ANA-474 Run the container as a non-root user",
        [
            replace(
                "Dockerfile",
                "COPY src/ src/\n",
                "COPY src/ src/\nRUN useradd --create-home analytics\nUSER analytics\n",
            ),
        ],
    )
    s.commit(
        REPO,
        "2025-11-04",
        "maria",
        "ANA-478 Revenue from confirmed orders only\n\n"
        "Finance reconciles against confirmed orders; created-but-unpaid orders inflated "
        "the\ndaily numbers.\n",
        [
            replace(
                "src/analytics/reports/revenue_report.py",
                "\" WHERE type = 'order.created' GROUP BY 1, 2 ORDER BY 1\"",
                "\" WHERE type = 'order.created' AND data->>'order_id' IN (SELECT "
                "data->>'order_id'\"\n    \" FROM raw_events WHERE type = "
                "'order.confirmed') GROUP BY 1, 2 ORDER BY 1\"",
            ),
        ],
    )
    s.commit(
        REPO,
        "2026-06-16",
        "maria",
        "ANA-620 FX report from payment.completed v2",
        [write("src/analytics/reports/fx_report.py", src.FX_REPORT)],
    )


def _housekeeping(s: Script) -> None:
    s.commit(
        REPO,
        "2024-01-03",
        "ben",
        "one-off backfill of november orders into the warehouse",
        [write("scripts/backfill_2023.py", src.BACKFILL)],
    )
    s.commit(
        REPO,
        "2025-09-02",
        "maria",
        "ANA-469 Remove the one-off 2023 backfill script\n\nIt ran once in January 2024 and "
        "reads a table that no longer exists.\n",
        [delete("scripts/backfill_2023.py")],
        key="backfill-removed",
    )
    s.commit(
        REPO,
        "2026-02-17 10:20",
        "maria",
        "ANA-560 Pool connections to the reporting database",
        [
            replace(
                "src/analytics/reports/stock_report.py",
                "    engine = create_engine(settings.reporting_db_url)\n",
                "    engine = create_engine(\n"
                "        settings.reporting_db_url, pool_size=20, max_overflow=10\n    )\n",
            )
        ],
        key="ana-560",
    )
    s.commit(
        REPO,
        "2026-02-17 15:05",
        "maria",
        "The reporting replica allows 10 connections per role; the pool used them all and\n"
        "the finance export failed.",
        [],
        revert_of="ana-560",
    )


README_V2 = """# analytics-service

The event warehouse and the finance and product reports. Owned by the data team
(Maria Garcia) since July 2025; originally written by Ben Okafor.

## What it consumes

| topic | producer |
| --- | --- |
| `order.created`, `order.payment_requested`, `order.confirmed` | order-service |
| `payment.completed`, `payment.failed` | payment-service |

Every event is decoded strictly against `src/analytics/schemas.py`: an unknown type,
version or field is parked in `parked_events` instead of being guessed at.

## Reports

Revenue, checkout funnel and stock, built nightly at 02:00 UTC. The stock report reads
the reporting database (`REPORTING_DB_URL`), see `src/analytics/reports/stock_report.py`.

## Running

    pip install -r requirements.txt -r requirements-dev.txt
    KAFKA_BROKERS=localhost:9092 PYTHONPATH=src python -m analytics.main
"""

WAREHOUSE_DOC = """# Warehouse tables

- `raw_events`: one row per consumed event (`event_id` primary key, `type`,
  `schema_version`, `occurred_at`, `data` jsonb). Idempotent on `event_id`.
- `parked_events`: events that failed to decode, with the reason. Replay them after
  adding the schema (see INC-2026-05).
- Reports are views over `raw_events`, rebuilt nightly.
"""

WAREHOUSE_BATCH = '''

def store_events(events: list[dict]) -> None:
    """Store many events in one transaction (replays and backfills)."""
    with engine.begin() as conn:
        for event in events:
            conn.execute(
                text("INSERT INTO raw_events (event_id, type, schema_version, occurred_at, data)"
                     " VALUES (:id, :t, :v, :at, :d) ON CONFLICT (event_id) DO NOTHING"),
                {"id": event["event_id"], "t": event["type"], "v": event["schema_version"],
                 "at": event["occurred_at"], "d": json.dumps(event["data"])},
            )
'''
