"""platform repo: local docker-compose stack and organisation-wide docs."""

from __future__ import annotations

from seed.model import append, replace, write
from seed.script import Script

REPO = "platform"

README = """# platform

Organisation-level home of ShopFast engineering: the local development stack and the
docs that are not about a single service.

- [docs/architecture.md](docs/architecture.md) — services, calls and events
- [docs/services.md](docs/services.md) — who owns what
- [docs/onboarding.md](docs/onboarding.md) — your first week
- [docs/oncall.md](docs/oncall.md) — paging, incident channels, postmortems

## Local stack

Check out every service repo next to this one, then:

    ./scripts/dev-up.sh

Service ports: payment 8081, order 8082, inventory 8083, user 8084. MailHog on 8025.
"""

COMPOSE_HEAD = """# Local development stack. Run ./scripts/dev-up.sh; every service repo must be
# checked out next to this one (../payment-service, ../order-service, ...).
services:
  kafka:
    image: bitnami/kafka:3.6.0
    environment:
      KAFKA_CFG_NODE_ID: "0"
      KAFKA_CFG_PROCESS_ROLES: controller,broker
      KAFKA_CFG_LISTENERS: PLAINTEXT://:9092,CONTROLLER://:9093
      KAFKA_CFG_CONTROLLER_QUORUM_VOTERS: 0@kafka:9093
      KAFKA_CFG_CONTROLLER_LISTENER_NAMES: CONTROLLER
    ports:
      - "9092:9092"

  redis:
    image: redis:7.2.3

  orders-db:
    image: postgres:15.5
    environment:
      POSTGRES_USER: orders
      POSTGRES_PASSWORD: {pw}
      POSTGRES_DB: orders

  payments-db:
    image: postgres:15.5
    environment:
      POSTGRES_USER: payments
      POSTGRES_DB: payments
      POSTGRES_HOST_AUTH_METHOD: trust

  inventory-db:
    image: postgres:15.5
    environment:
      POSTGRES_USER: inventory
      POSTGRES_DB: inventory
      POSTGRES_HOST_AUTH_METHOD: trust

  users-db:
    image: postgres:15.5
    environment:
      POSTGRES_USER: users
      POSTGRES_DB: users
      POSTGRES_HOST_AUTH_METHOD: trust

  payment-service:
    build: ../payment-service
    ports:
      - "8081:8080"
    environment:
      DATABASE_URL: postgres://payments@payments-db:5432/payments
      STRIPE_API_KEY: ${STRIPE_API_KEY:-sk_test_placeholder}
    depends_on:
      - payments-db

  order-service:
    build: ../order-service
    ports:
      - "8082:8080"
    environment:
      DATABASE_URL: postgres://orders:{pw}@orders-db:5432/orders
      INVENTORY_SERVICE_URL: http://inventory-service:8080
      USER_SERVICE_URL: http://user-service:8080
      PAYMENT_SERVICE_URL: http://payment-service:8080
      KAFKA_BROKERS: kafka:9092
    depends_on:
      - orders-db
      - kafka
      - inventory-service
      - user-service
      - payment-service

  inventory-service:
    build: ../inventory-service
    ports:
      - "8083:8080"
    environment:
      DATABASE_URL: postgres://inventory@inventory-db:5432/inventory
    depends_on:
      - inventory-db

  user-service:
    build: ../user-service
    ports:
      - "8084:8080"
    environment:
      DATABASE_URL: postgres://users@users-db:5432/users
      REDIS_URL: redis://redis:6379/0
    depends_on:
      - users-db
      - redis
"""

COMPOSE_ANALYTICS = """
  analytics-db:
    image: postgres:15.5
    environment:
      POSTGRES_USER: analytics
      POSTGRES_DB: warehouse
      POSTGRES_HOST_AUTH_METHOD: trust

  analytics-service:
    build: ../analytics-service
    environment:
      KAFKA_BROKERS: kafka:9092
      WAREHOUSE_DB_URL: postgres://analytics@analytics-db:5432/warehouse
      # the reporting database only exists in staging/prod; reports are skipped locally
      REPORTING_DB_URL: ${REPORTING_DB_URL:-}
    depends_on:
      - kafka
      - analytics-db
"""

COMPOSE_NOTIFICATION = """
  mailhog:
    image: mailhog/mailhog:v1.0.0
    ports:
      - "8025:8025"

  notification-service:
    build: ../notification-service
    environment:
      KAFKA_BROKERS: kafka:9092
      USER_SERVICE_URL: http://user-service:8080
      SMTP_HOST: mailhog
      ENVIRONMENT: local
    depends_on:
      - kafka
      - user-service
      - mailhog
"""

SYNC_PAYMENT_ENV = "      PAYMENT_SERVICE_URL: http://payment-service:8080\n"
SYNC_PAYMENT_DEP = "      - user-service\n      - payment-service\n"
PAYMENT_ENV = (
    "      STRIPE_API_KEY: ${STRIPE_API_KEY:-sk_test_placeholder}\n    depends_on:\n"
    "      - payments-db\n"
)
PAYMENT_ENV_ASYNC = (
    "      STRIPE_API_KEY: ${STRIPE_API_KEY:-sk_test_placeholder}\n"
    "      KAFKA_BROKERS: kafka:9092\n    depends_on:\n      - payments-db\n      - kafka\n"
)

ARCHITECTURE = """# ShopFast architecture

Six Python services on Kubernetes. Each service owns its Postgres database; nobody
reads another service's tables. Kafka carries business events.

## Synchronous calls (HTTP)

| caller | callee | call | why synchronous |
| --- | --- | --- | --- |
| order-service | inventory-service | `POST /reservations` | stock must be held before payment |
| order-service | user-service | `GET /users/{id}` | customer and payment reference |
| order-service | payment-service | `POST /payments` | see order-service ADR-0002 |
| notification-service | user-service | `GET /users/{id}` | email address |

## Events (Kafka)

| topic | producer | consumers |
| --- | --- | --- |
| `order.created` | order-service | analytics-service |
| `order.confirmed` | order-service | notification-service, analytics-service |

Every event uses the same envelope: `event_id`, `type`, `schema_version`,
`occurred_at`, `data`. Contracts are the `asyncapi.yaml` files in each repo.

## Local development

See the root README: `docker-compose.yml` wires every service the same way as
production, with wich environment variables each one expects.
"""

SYNC_PAYMENT_ROW = (
    "| order-service | payment-service | `POST /payments` | see order-service ADR-0002 |\n"
)
EVENT_ROWS = "| `order.confirmed` | order-service | notification-service, analytics-service |\n"
ASYNC_EVENT_ROWS = EVENT_ROWS + (
    "| `order.payment_requested` | order-service | payment-service, analytics-service |\n"
    "| `payment.completed` | payment-service | order-service, analytics-service |\n"
    "| `payment.failed` | payment-service | order-service, notification-service, "
    "analytics-service |\n"
)

SERVICES = """# Services and owners

| service | team | owner | on-call rotation |
| --- | --- | --- | --- |
| payment-service | payments | Alex Morgan | backend |
| order-service | orders | Alex Morgan | backend |
| inventory-service | orders | Alex Morgan | backend |
| user-service | identity | Chen Wei (tokens), Alex Morgan | backend |
| notification-service | comms | Jamie Lee | backend |
| analytics-service | data | Ben Okafor | data |
"""

ONBOARDING = """# Onboarding

Welcome to ShopFast engineering!

## Week one

1. Get access: GitHub org `shopfast`, AWS SSO, PagerDuty (shadow only), Grafana.
2. Run the local stack (`./scripts/dev-up.sh`) and place an order end to end.
3. Read [architecture.md](architecture.md) and the ADRs of the service you join.
4. Join #eng-backend, #incidents and your team channel.

## Things people wish they had known

- Every service has a `docs/` folder; postmortems live in the service that failed.
- Ask in #eng-backend. No question is too small, and the answer usually
  ends up in a doc afterwards.
"""

ONCALL = """# On-call and incidents

## Paging

PagerDuty pages the backend rotation for every production service; analytics pages
the data rotation. Alerts are mirrored to #incidents.

## During an incident

1. Acknowledge the page and say so in #incidents.
2. The first responder is incident commander until they hand over explicitly.
3. Open a channel named `inc-YYYY-MM-DD-short-name` and post the timeline there:
   hypotheses, actions, and a final `resolved:` message with the time.
4. Keep #incidents updated every 30 minutes for anything customer-facing.

## After

A postmortem is expected for every SEV1 and SEV2, in the `docs/postmortems/` folder of
the service that failed, within five working days. Use
[postmortem-template.md](postmortem-template.md). Blameless: describe the system, not
the person.
"""

POSTMORTEM_TEMPLATE = """# Postmortem: <title> (INC-YYYY-MM)

- **Date:**
- **Duration:**
- **Severity:**
- **Incident commander:**
- **Services:**
- **Slack:**

## Summary

## Impact

## Timeline (UTC)

## Root cause

## Action items

| ticket | action | owner | status |
| --- | --- | --- | --- |
"""

DEV_UP = """#!/usr/bin/env sh
# Start the local stack; run from the platform repo.
set -eu
for repo in payment-service order-service inventory-service user-service \\
            notification-service analytics-service; do
  if [ ! -d "../$repo" ]; then
    echo "missing ../$repo: clone git@github.com:shopfast/$repo.git next to platform" >&2
    exit 1
  fi
done
docker compose up --build -d
docker compose ps
"""

ENV_EXAMPLE = """# Copy to .env (never commit it). docker compose reads it automatically.
ORDERS_DB_PASSWORD=change-me
STRIPE_API_KEY=sk_test_placeholder
"""

NOTES = [
    (
        "docs/onboarding.md",
        "\n## Useful dashboards\n\n- Checkout: "
        "https://grafana.example.internal/d/checkout/checkout\n- Kafka consumer lag: "
        "https://grafana.example.internal/d/kafka/consumer-lag\n",
    ),
    (
        "docs/oncall.md",
        "\n## Status page\n\nCustomer-facing incidents longer than 15 "
        "minutes get a status page entry;\nsupport owns the wording, the incident "
        "commander owns the facts.\n",
    ),
    (
        "docs/onboarding.md",
        "\n## Release process\n\nEvery merge to main deploys to "
        "staging; production deploys are triggered\nfrom #deploys with the deploy bot.\n",
    ),
    (
        "docs/oncall.md",
        "\n## Handover\n\nThe outgoing on-call posts open issues in "
        "#incidents every Monday at 10:00 UTC.\n",
    ),
]


def script(s: Script) -> None:
    """Scripted commits of the platform repo."""
    pw = s.leaks.orders_db_password
    s.commit(
        REPO,
        "2023-11-06 09:30",
        "alex",
        "Local development stack and organisation docs",
        [
            write("README.md", README),
            write(".gitignore", ".env\n"),
            write("docker-compose.yml", COMPOSE_HEAD.replace("{pw}", pw)),
            write("docs/architecture.md", ARCHITECTURE),
            write("docs/onboarding.md", ONBOARDING),
            write("scripts/dev-up.sh", DEV_UP),
        ],
        key="compose-password",
    )
    s.commit(
        REPO,
        "2023-11-14",
        "ben",
        "add analytics-service to the local stack",
        [append("docker-compose.yml", COMPOSE_ANALYTICS)],
    )
    s.commit(
        REPO,
        "2023-11-21",
        "jamie",
        "add notification-service and mailhog to compose",
        [append("docker-compose.yml", COMPOSE_NOTIFICATION)],
    )
    s.commit(
        REPO,
        "2023-12-14",
        "alex",
        "PLAT-3: On-call guide and postmortem template",
        [
            write("docs/oncall.md", ONCALL),
            write("docs/postmortem-template.md", POSTMORTEM_TEMPLATE),
            write("docs/services.md", SERVICES),
        ],
    )
    s.commit(
        REPO,
        "2024-03-20 17:10",
        "alex",
        "SHOP-412: order-service no longer calls "
        "payment-service\n\nPayments are requested with order.payment_requested "
        "(ADR-0003 in order-service).\n",
        [
            replace("docker-compose.yml", SYNC_PAYMENT_ENV, ""),
            replace("docker-compose.yml", SYNC_PAYMENT_DEP, "      - user-service\n"),
            replace("docker-compose.yml", PAYMENT_ENV, PAYMENT_ENV_ASYNC),
            replace("docs/architecture.md", SYNC_PAYMENT_ROW, ""),
            replace("docs/architecture.md", EVENT_ROWS, ASYNC_EVENT_ROWS),
        ],
        key="compose-async",
    )
    s.commit(
        REPO,
        "2024-09-03",
        "alex",
        "PLAT-41: Move database passwords out of "
        "docker-compose.yml\n\nThe orders password was the staging one. It has been "
        "rotated; use .env.\n",
        [
            replace(
                "docker-compose.yml",
                f"      POSTGRES_PASSWORD: {pw}\n",
                "      POSTGRES_PASSWORD: ${ORDERS_DB_PASSWORD}\n",
            ),
            replace(
                "docker-compose.yml",
                f"postgres://orders:{pw}@orders-db",
                "postgres://orders:${ORDERS_DB_PASSWORD}@orders-db",
            ),
            write(".env.example", ENV_EXAMPLE),
        ],
        key="compose-password-removed",
    )
    s.commit(
        REPO,
        "2025-07-07",
        "alex",
        "PLAT-88: Update owners after Ben and Chen left",
        [
            replace(
                "docs/services.md",
                "| user-service | identity | Chen Wei (tokens), Alex Morgan | backend |\n",
                "| user-service | identity | Alex Morgan | backend |\n",
            ),
            replace(
                "docs/services.md",
                "| notification-service | comms | Jamie Lee | backend |\n",
                "| notification-service | comms | Maria Garcia | backend |\n",
            ),
            replace(
                "docs/services.md",
                "| analytics-service | data | Ben Okafor | data |\n",
                "| analytics-service | data | Maria Garcia | data |\n",
            ),
        ],
    )
