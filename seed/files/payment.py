"""payment-service: docs, contracts and scripted history (SHOP-412, leaked keys)."""

from __future__ import annotations

from seed.deps import requirements
from seed.files import adrs, postmortems
from seed.files import payment_contracts as api
from seed.files import payment_src as src
from seed.files.common import GITIGNORE, dockerfile, events_module, init_module
from seed.model import append, rename, replace, replace_all, write
from seed.script import Script

REPO = "payment-service"

README = """# payment-service

Takes payments for ShopFast orders through Stripe and keeps the ledger of
captures and refunds.

## API

- `POST /payments` — charge the customer for an order (called by order-service)
- `GET /payments/{payment_id}`
- `POST /payments/{payment_id}/refunds`

The contract is in [openapi.yaml](openapi.yaml).

## Local development

    python -m venv .venv && . .venv/bin/activate
    pip install -r requirements.txt -r requirements-dev.txt
    cp .env.example .env
    PYTHONPATH=src uvicorn payment.app:app --reload --port 8081

Configuration comes from the enviroment (see `src/payment/config.py`):
`DATABASE_URL`, `STRIPE_API_KEY`, `PROVIDER_TIMEOUT_SECONDS`.

## Tests

    PYTHONPATH=src pytest
"""

ENV_EXAMPLE = """# Copy to .env for local development. Never commit .env itself.
DATABASE_URL=postgresql://payments@localhost:5432/payments
STRIPE_API_KEY={key}
PROVIDER_TIMEOUT_SECONDS=10
KAFKA_BROKERS=localhost:9092
"""

SETTINGS_YAML = """# payment-service runtime configuration loaded at startup.
receipts:
  bucket: shopfast-payment-receipts
  region: eu-west-1
  aws_access_key_id: {key_id}
  aws_secret_access_key: {secret}
provider:
  name: stripe
  timeout_seconds: 10
settlement:
  report_timezone: America/Los_Angeles
"""

RUNBOOK = """# payment-service runbook

## Dashboards

- Payments overview: https://grafana.example.internal/d/payments/payments-overview
- Stripe latency and error rates: https://grafana.example.internal/d/stripe/provider

## Alerts

### PaymentFailureRateHigh

More than 5 % of `order.payment_requested` events end in `payment.failed` over
10 minutes. Check the Stripe status page first, then the `reason` field of recent
`payment.failed` events: a spike of `authentication_required` usually means a 3-D
Secure change on the provider side, not a bug here.

### ConsumerLagHigh

The `order.payment_requested` consumer is more than 500 messages behind. Payments are
delayed but checkout itself stays up (that is the point of ADR-0003 in order-service).
Scale the deployment; duplicates are safe thanks to idempotency keys.
"""

NOTES = [
    (
        "docs/runbook.md",
        "\n### Refund stuck in pending\n\nStripe sometimes keeps a refund "
        "pending for up to 5 days for SEPA debits. Do not refund again: check the refund\n"
        "in the Stripe dashboard and tell support the expected date.\n",
    ),
    (
        "docs/runbook.md",
        "\n### Settlement mismatch\n\nThe nightly settlement job posts "
        "unmatched payout lines to #payments-team. Most are payouts dated in Los Angeles\n"
        "time; read the comment in `settlement.py` before changing the matching.\n",
    ),
    (
        "docs/runbook.md",
        "\n### Rotating the Stripe key\n\nCreate a restricted key in the "
        "Stripe dashboard, update the `payment-service` secret in Vault, roll the\n"
        "deployment, then revoke the old key. Never paste keys in Slack.\n",
    ),
    (
        "README.md",
        "\n## Observability\n\nMetrics are exported on `/metrics`; dashboards "
        "and alerts are described in\n[docs/runbook.md](docs/runbook.md).\n",
    ),
]


def script(s: Script) -> None:
    """Scripted commits of payment-service."""
    leaks = s.leaks
    s.skeleton(
        REPO,
        "2023-11-06 14:10",
        "alex",
        "Initial payment-service: Stripe charges over HTTP",
        [
            write("README.md", README),
            write(".gitignore", GITIGNORE),
            write(
                "requirements.txt",
                requirements(
                    ["fastapi", "uvicorn", "pydantic", "sqlalchemy", "psycopg", "stripe", "pyyaml"]
                ),
            ),
            write("requirements-dev.txt", requirements(["pytest", "pytest-asyncio"])),
            write("Dockerfile", dockerfile("payment")),
            write("src/payment/__init__.py", init_module("payment", "payment-service")),
            write("src/payment/app.py", src.APP),
            write("src/payment/config.py", src.CONFIG),
            write("src/payment/models.py", src.MODELS),
            write("src/payment/db.py", src.DB),
            write("src/payment/gateway.py", src.GATEWAY),
            write("tests/test_gateway.py", src.TEST_GATEWAY),
            write("tests/test_app.py", src.TEST_APP),
        ],
    )
    s.commit(
        REPO,
        "2023-11-20",
        "alex",
        "PAY-9: Publish the OpenAPI contract",
        [write("openapi.yaml", api.OPENAPI)],
    )
    s.commit(
        REPO,
        "2023-11-28",
        "alex",
        "PAY-12: Add .env.example for local development",
        [write(".env.example", ENV_EXAMPLE.format(key=leaks.stripe_live_key))],
        key="stripe-key",
    )
    s.commit(
        REPO,
        "2023-12-04",
        "chen",
        "[PAY-15] Partial and full refunds",
        [
            write("src/payment/refunds.py", src.REFUNDS),
            replace(
                "src/payment/app.py",
                "from payment import db\n",
                "from payment import db, refunds\n",
            ),
            append("src/payment/app.py", src.REFUND_ROUTE),
        ],
    )
    s.commit(
        REPO,
        "2023-12-12",
        "alex",
        "PAY-18: Nightly settlement reconciliation\n\n"
        "Matches Stripe payout lines to captured payments; finance gets the rest.\n",
        [write("src/payment/settlement.py", src.SETTLEMENT)],
    )
    s.commit(
        REPO,
        "2024-01-10",
        "alex",
        "PAY-27: Add CODEOWNERS and Backstage catalog entry",
        [write(".github/CODEOWNERS", api.CODEOWNERS), write("catalog-info.yaml", api.CATALOG)],
    )
    s.commit(
        REPO,
        "2024-02-06",
        "alex",
        "PAY-31: Upload PDF receipts to S3",
        [
            write("src/payment/receipts.py", src.RECEIPTS),
            write(
                "config/settings.yaml",
                SETTINGS_YAML.format(
                    key_id=leaks.aws_access_key_id, secret=leaks.aws_secret_access_key
                ),
            ),
            append("requirements.txt", "boto3==1.34.14\n"),
        ],
        key="aws-keys",
    )
    _incident_followups(s)
    s.commit(
        REPO,
        "2024-04-02",
        "alex",
        "PAY-55: Record the minor-units decision (MADR 0002)",
        [write(adrs.PAYMENT_0002_PATH, adrs.PAYMENT_0002)],
    )
    s.commit(
        REPO,
        "2024-04-08 16:12",
        "alex",
        "PAY-58: Remove leaked credentials from "
        "settings.yaml\n\nGitGuardian flagged the receipts bucket keys. They were "
        "deactivated in IAM this\nmorning and the service now uses its IRSA role. The "
        "keys are still in history,\nso treat them as burnt.\n",
        [
            replace(
                "config/settings.yaml",
                f"  aws_access_key_id: {leaks.aws_access_key_id}\n"
                f"  aws_secret_access_key: {leaks.aws_secret_access_key}\n",
                "  # credentials come from the pod's IAM role (IRSA); never put keys here\n",
            ),
        ],
        key="aws-keys-removed",
    )
    s.commit(
        REPO,
        "2024-05-13",
        "alex",
        "PAY-66: payment-service runbook",
        [write("docs/runbook.md", RUNBOOK)],
    )
    s.commit(
        REPO,
        "2024-06-10",
        "alex",
        "PAY-74: Move the Stripe gateway under providers/\n\n"
        "Preparation for a fallback provider; no behaviour change.\n",
        [
            rename("src/payment/gateway.py", "src/payment/providers/stripe_gateway.py"),
            write(
                "src/payment/providers/__init__.py",
                '"""Payment providers. Only Stripe is live."""\n',
            ),
            replace(
                "src/payment/app.py",
                "from payment.gateway import",
                "from payment.providers.stripe_gateway import",
            ),
            replace(
                "src/payment/consumer.py",
                "from payment.gateway import",
                "from payment.providers.stripe_gateway import",
            ),
            replace_all(
                "tests/test_gateway.py",
                "from payment.gateway import",
                "from payment.providers.stripe_gateway import",
            ),
            replace(
                ".github/CODEOWNERS",
                "src/payment/gateway.py     @alex-morgan",
                "src/payment/providers/    @alex-morgan",
            ),
        ],
        key="gateway-rename",
    )
    _sofia_features(s)
    s.commit(
        REPO,
        "2025-10-14",
        "alex",
        "PAY-588: Propose Adyen as fallback provider (MADR 0003)",
        [write(adrs.PAYMENT_0003_PATH, adrs.PAYMENT_0003)],
    )


def _incident_followups(s: Script) -> None:
    s.commit(
        REPO,
        "2024-03-15 11:30",
        "alex",
        "SHOP-413: Idempotency keys on every provider "
        "call\n\nDuring INC-2024-03 order-service retried timed-out POST /payments calls "
        "and\nStripe charged 38 customers twice. Every charge now carries the caller's\n"
        "payment_request_id as Stripe Idempotency-Key. See\n"
        "docs/decisions/0001-use-idempotency-keys.md.\n",
        [
            write("src/payment/idempotency.py", src.IDEMPOTENCY),
            write(adrs.PAYMENT_0001_PATH, adrs.PAYMENT_0001),
            replace(
                "src/payment/gateway.py",
                "    def charge(self, amount_minor: int, currency: str, "
                "customer_ref: str) -> dict:\n",
                "    def charge(\n        self, amount_minor: int, currency: str, "
                "customer_ref: str, idempotency_key: str\n    ) -> dict:\n",
            ),
            replace(
                "src/payment/gateway.py",
                "                confirm=True,\n",
                "                confirm=True,\n                idempotency_key=idempotency_key,\n",
            ),
            replace(
                "src/payment/app.py",
                "        charge = gateway.charge(request.amount_minor, request.currency,"
                " request.customer_ref)\n",
                "        charge = gateway.charge(\n            request.amount_minor,\n"
                "            request.currency,\n            request.customer_ref,\n"
                "            idempotency_key=request.order_id,\n        )\n",
            ),
            replace(
                "tests/test_gateway.py",
                '.charge(1000, "EUR", "cus_1")',
                '.charge(1000, "EUR", "cus_1", idempotency_key="k1")',
            ),
        ],
        key="shop-413",
    )
    s.commit(
        REPO,
        "2024-03-18 10:41",
        "alex",
        "SHOP-412: make order→payment asynchronous via "
        "events\n\nBecause of INC-2024-03 (checkout down 47 minutes when Stripe latency "
        "spiked\nand every order-service worker blocked on POST /payments), payment "
        "requests\nnow arrive as order.payment_requested events and we answer with\n"
        "payment.completed or payment.failed. Decision: ADR-0003 in order-service.\n"
        "POST /payments stays for back-office tools and is deprecated.\n",
        [
            write("src/payment/events.py", events_module("payment", "payment-service")),
            write("src/payment/consumer.py", src.CONSUMER),
            write("tests/test_consumer.py", src.TEST_CONSUMER),
            write("asyncapi.yaml", api.ASYNCAPI),
            append("requirements.txt", "aiokafka==0.10.0\n"),
        ],
        key="shop-412-payment",
    )
    s.commit(
        REPO,
        "2024-03-18 11:02",
        "alex",
        "SHOP-412: Deprecate POST /payments in the README and the contract",
        [
            replace(
                "README.md",
                "- `POST /payments` — charge the customer for an order (called by order-service)\n",
                "- `POST /payments` — deprecated since SHOP-412: order-service now "
                "requests\n  payments with the `order.payment_requested` event (ADR-0003"
                " in order-service)\n",
            ),
            append(
                "README.md",
                "\n## Events\n\nConsumes `order.payment_requested`; "
                "publishes `payment.completed` and\n`payment.failed`. Contract: "
                "[asyncapi.yaml](asyncapi.yaml).\n",
            ),
            replace(
                "openapi.yaml",
                "      summary: Charge the customer for an order\n",
                "      summary: Charge the customer for an order (deprecated, see "
                "SHOP-412)\n      deprecated: true\n",
            ),
        ],
    )
    s.commit(
        REPO,
        "2024-03-20 15:05",
        "alex",
        "SHOP-412: Postmortem for INC-2024-03 checkout outage",
        [write(postmortems.CHECKOUT_PATH, postmortems.CHECKOUT)],
        key="postmortem-2024-03",
    )


def _sofia_features(s: Script) -> None:
    s.commit(
        REPO,
        "2024-07-08",
        "sofia",
        "feat(payment): saved payment methods for the checkout UI (PAY-81)",
        [
            write("src/payment/payment_methods.py", src.PAYMENT_METHODS),
            replace(
                "src/payment/app.py",
                "from payment import db, refunds\n",
                "from payment import db, payment_methods, refunds\n",
            ),
            append("src/payment/app.py", src.PAYMENT_METHODS_ROUTE),
            replace("openapi.yaml", "components:\n", api.PAYMENT_METHODS_PATH),
        ],
    )
    branch = "feature/PAY-120-wallets"
    s.commit(
        REPO,
        "2024-10-21 09:40",
        "sofia",
        "feat(payment): wallet token model (PAY-120)",
        [write("src/payment/wallets.py", src.WALLETS)],
        branch=branch,
    )
    s.commit(
        REPO,
        "2024-10-21 14:05",
        "sofia",
        "feat(payment): accept Apple Pay and Google Pay tokens (PAY-120)",
        [replace("src/payment/wallets.py", src.WALLETS_TODO, src.WALLETS_DONE)],
        branch=branch,
    )
    s.commit(
        REPO,
        "2024-10-22 10:15",
        "sofia",
        "test(payment): wallet token validation (PAY-120)",
        [write("tests/test_wallets.py", src.TEST_WALLETS)],
        branch=branch,
    )
    s.commit(
        REPO,
        "2024-10-22 15:30",
        "alex",
        f"Merge pull request #142 from shopfast/{branch}\n\nPAY-120: Apple Pay and Google Pay\n",
        [],
        merge_branch=branch,
    )
    s.commit(
        REPO,
        "2026-05-18 13:20",
        "sofia",
        "feat(payment): include fx_rate in payment.completed (PAY-640)",
        [
            replace(
                "src/payment/consumer.py",
                '            "currency": payment.currency,\n',
                '            "currency": payment.currency,\n'
                '            "fx_rate": charge.get("fx_rate"),\n',
            ),
        ],
        key="fx-rate",
    )
    s.commit(
        REPO,
        "2026-05-19 16:10",
        "alex",
        "PAY-641: Publish payment.completed as "
        "schema_version 2\n\nPAY-640 added fx_rate without bumping the schema version; "
        "analytics\ndeserialises strictly and stalled on the new field (INC-2026-05).\n",
        [
            replace(
                "src/payment/consumer.py",
                "    await publish(topic, payload, key=request.order_id)\n",
                "    # Added a field? Bump the version: analytics rejects unknown "
                'fields.\n    version = 2 if topic == "payment.completed" else 1\n'
                "    await publish(topic, payload, key=request.order_id, "
                "schema_version=version)\n",
            ),
            replace("asyncapi.yaml", "  version: 1.0.0\n", "  version: 1.1.0\n"),
            replace(
                "asyncapi.yaml",
                "          currency: {type: string}\n    PaymentFailed:",
                "          currency: {type: string}\n"
                "          fx_rate: {type: number, description: since schema_version"
                " 2}\n    PaymentFailed:",
            ),
        ],
        key="schema-v2",
    )
