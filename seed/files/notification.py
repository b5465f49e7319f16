"""notification-service: docs, contracts and scripted history (INC-2025-02 email storm)."""

from __future__ import annotations

from seed.deps import requirements
from seed.files import notification_src as src
from seed.files import postmortems
from seed.files.common import GITIGNORE, dockerfile, events_module, init_module
from seed.model import append, rename, replace, write
from seed.script import Script

REPO = "notification-service"

README = """# notification-service

Sends customer emails in reaction to platform events. It has no public API: it
consumes Kafka events and sends through Amazon SES.

| event | email |
| --- | --- |
| `order.confirmed` (order-service) | order confirmation |

Recipient addresses come from user-service (`GET /users/{id}`); events do not carry
personal data.

## Local development

    pip install -r requirements.txt -r requirements-dev.txt
    PYTHONPATH=src python -m notifications.main

Emails go to MailHog locally (http://localhost:8025) when you run the platform
docker-compose stack; nothing ever reaches a real inbox from a laptop.
"""

ASYNCAPI = """asyncapi: 2.6.0
info:
  title: notification-service
  version: 1.0.0
  description: Events notification-service consumes. It publishes nothing.
defaultContentType: application/json
servers:
  production:
    url: kafka-1.prod.shopfast.internal:9092
    protocol: kafka
channels:
  order.confirmed:
    description: Consumed. Published by order-service; sends the confirmation email.
    publish:
      operationId: onOrderConfirmed
      message:
        payload:
          type: object
          required: [order_id, customer_id]
          properties:
            order_id: {type: string}
            customer_id: {type: string}
"""

PAYMENT_FAILED_CHANNEL = """  payment.failed:
    description: Consumed. Published by payment-service; asks the customer to retry.
    publish:
      operationId: onPaymentFailed
      message:
        payload:
          type: object
          required: [order_id, customer_id, reason]
          properties:
            order_id: {type: string}
            customer_id: {type: string}
            reason: {type: string}
"""

CODEOWNERS = """*            @shopfast/comms @mgarcia
templates/   @priya-sharma
"""

TEMPLATES_DOC = """# Email templates

Templates are written in MJML under `templates/` and compiled to HTML in
`templates/build/` with the vendored `mjml-lite` compiler:

    npm ci && npm run build

Never edit files in `templates/build/` by hand; they are regenerated. The compiler in
`vendor/mjml-lite` is a vendored third-party copy: update it by replacing the whole
directory, not by patching it.

![architecture](architecture.png)
"""

NOTES = [
    (
        "docs/operations.md",
        "# Operating notification-service\n\n## Emails delayed\n\n"
        "Check the SES sending quota in the AWS console before anything else; we hit it\n"
        "during INC-2025-02.\n",
    ),
    (
        "docs/operations.md",
        "\n## A customer got the same email twice\n\nSends are "
        "deduplicated on event_id. Two emails with different event ids mean\nthe producer "
        "published twice; look at order-service, not here.\n",
    ),
    (
        "docs/operations.md",
        "\n## Bounces\n\nHard bounces are suppressed for 30 days by SES "
        "itself. Support can lift a\nsuppression from the SES console.\n",
    ),
]


def script(s: Script) -> None:
    """Scripted commits of notification-service."""
    s.skeleton(
        REPO,
        "2023-11-20",
        "jamie",
        "initial notification service: order confirmation emails",
        [
            write("README.md", README),
            write(".gitignore", GITIGNORE),
            write(
                "requirements.txt",
                requirements(
                    [
                        "fastapi",
                        "uvicorn",
                        "pydantic",
                        "aiokafka",
                        "boto3",
                        "jinja2",
                        "httpx",
                        "redis",
                    ]
                ),
            ),
            write("requirements-dev.txt", requirements(["pytest", "pytest-asyncio"])),
            write("Dockerfile", dockerfile("notifications")),
            write(
                "src/notifications/__init__.py",
                init_module("notifications", "notification-service"),
            ),
            write("src/notifications/app.py", src.APP),
            write("src/notifications/config.py", src.CONFIG),
            write(
                "src/notifications/events.py",
                events_module("notifications", "notification-service"),
            ),
            write("src/notifications/consumer.py", src.CONSUMER),
            write("src/notifications/main.py", src.MAIN),
            write("src/notifications/email_sender.py", src.EMAIL_SENDER),
            write("src/notifications/templates.py", src.TEMPLATES),
            write("tests/test_consumer.py", src.TEST_CONSUMER),
        ],
    )
    s.commit(
        REPO,
        "2023-12-04",
        "jamie",
        "look up the customer email in user-service\n\norder events only carry the customer id.\n",
        [
            write("src/notifications/user_client.py", src.USER_CLIENT),
            replace("src/notifications/consumer.py", src.LOOKUP_OLD, src.LOOKUP_NEW),
            replace(
                "src/notifications/consumer.py",
                "from notifications import email_sender, templates\n",
                "from notifications import email_sender, templates, user_client\n",
            ),
        ],
    )
    s.commit(
        REPO, "2024-01-08", "jamie", "add asyncapi contract", [write("asyncapi.yaml", ASYNCAPI)]
    )
    s.commit(
        REPO, "2024-01-10", "jamie", "add CODEOWNERS", [write(".github/CODEOWNERS", CODEOWNERS)]
    )
    s.commit(
        REPO,
        "2024-03-26",
        "maria",
        "NOTIF-40 Email customers when a payment fails\n\n"
        "payment.failed is published by payment-service since SHOP-412.\n",
        [
            replace(
                "src/notifications/consumer.py",
                'TOPICS = ("order.confirmed",)\n',
                'TOPICS = ("order.confirmed", "payment.failed")\n',
            ),
            append("src/notifications/consumer.py", src.PAYMENT_FAILED_HANDLER),
            replace(
                "src/notifications/templates.py",
                '    "order_confirmed": "Your ShopFast order is confirmed",\n',
                '    "order_confirmed": "Your ShopFast order is confirmed",\n'
                '    "payment_failed": "We could not take your payment",\n',
            ),
            append("asyncapi.yaml", PAYMENT_FAILED_CHANNEL),
            replace(
                "README.md",
                "| `order.confirmed` (order-service) | order confirmation |\n",
                "| `order.confirmed` (order-service) | order confirmation |\n"
                "| `payment.failed` (payment-service) | payment failed, please "
                "retry |\n",
            ),
        ],
    )
    s.split(
        REPO,
        "2024-05-14",
        "priya",
        ["Build email templates with MJML", "Vendor mjml-lite and document the template build"],
        [
            write("templates/order_confirmed.mjml", src.ORDER_CONFIRMED_MJML),
            write("templates/payment_failed.mjml", src.PAYMENT_FAILED_MJML),
            write("package.json", src.PACKAGE_JSON),
            write("package-lock.json", src.PACKAGE_LOCK),
            write(".gitattributes", src.GITATTRIBUTES),
            write("vendor/mjml-lite/index.js", src.VENDOR_JS),
            write("vendor/mjml-lite/LICENSE", src.VENDOR_LICENSE),
            write("docs/architecture.png", src.ARCHITECTURE_PNG),
            write("docs/templates.md", TEMPLATES_DOC),
        ],
    )
    _takeover(s)
    _email_storm(s)


def _takeover(s: Script) -> None:
    """Maria takes notification-service over from Jamie."""
    s.commit(
        REPO,
        "2024-08-20",
        "maria",
        "NOTIF-120 README: ownership, events and local setup",
        [
            replace(
                "README.md",
                "Recipient addresses come from user-service",
                "Owned by the comms team (Maria Garcia) since August 2024.\n\n"
                "Recipient addresses come from user-service",
            )
        ],
    )
    s.commit(
        REPO,
        "2024-09-10",
        "maria",
        "NOTIF-131 Log the SES message id with the event type",
        [
            replace(
                "src/notifications/email_sender.py",
                '    log.info("sent %r to %s", subject, to)\n',
                '    log.info("sent %r (ses id %s)", subject, response["MessageId"])\n',
            )
        ],
    )
    s.commit(
        REPO,
        "2024-10-01",
        "maria",
        "NOTIF-140 Per-environment sender address",
        [
            replace(
                "src/notifications/config.py",
                '    sender: str = os.environ.get("EMAIL_SENDER", '
                '"ShopFast <orders@shopfast.io>")\n',
                '    sender: str = os.environ.get(\n        "EMAIL_SENDER", "ShopFast <orders@'
                'shopfast.io>"\n    )  # staging uses orders@staging.shopfast.io\n',
            ),
        ],
    )
    s.commit(
        REPO,
        "2024-10-22",
        "maria",
        "NOTIF-147 Run the consumer as its own entry point",
        [
            replace(
                "Dockerfile",
                "CMD [",
                "# the HTTP app only serves /health; the consumer runs "
                "as python -m notifications.main\nCMD [",
            ),
            replace(
                "src/notifications/main.py",
                "import asyncio\nimport json\n",
                "import asyncio\nimport json\nimport logging\n",
            ),
            replace(
                "src/notifications/main.py",
                "    asyncio.run(run())\n",
                "    logging.basicConfig(level=logging.INFO)\n    asyncio.run(run())\n",
            ),
        ],
    )
    s.commit(
        REPO,
        "2025-04-08",
        "maria",
        "NOTIF-245 Test the email sender against a stub client",
        [write("tests/test_email_sender.py", src.TEST_EMAIL_SENDER)],
    )
    s.split(
        REPO,
        "2025-05-13",
        "maria",
        [
            "NOTIF-251 Tidy-up: version, ignore files and tests",
            "NOTIF-251 Tidy-up: comments and docs",
        ],
        [
            replace(
                "src/notifications/__init__.py", '__version__ = "0.1.0"', '__version__ = "1.0.0"'
            ),
            append(".gitignore", ".coverage\n"),
            append("requirements-dev.txt", "ruff==0.5.7\n"),
            append("tests/test_consumer.py", src.TEST_CONSUMER_GROUP),
            append(
                "README.md",
                "\n## Ownership\n\nComms team, #comms-eng. Postmortems live in docs/postmortems.\n",
            ),
            replace("asyncapi.yaml", "  version: 1.0.0\n", "  version: 1.1.0\n"),
            replace(
                "src/notifications/email_sender.py",
                '"""Sends rendered emails through Amazon SES."""',
                '"""Sends rendered emails through Amazon SES (quota: 50k/day per region)."""',
            ),
            replace(
                "src/notifications/config.py",
                '    ses_region: str = os.environ.get("SES_REGION", "eu-west-1")\n',
                '    ses_region: str = os.environ.get("SES_REGION", "eu-west-1")'
                "  # quota is per region\n",
            ),
            replace(
                "Dockerfile",
                "ENV PYTHONPATH=/app/src\n",
                "ENV PYTHONPATH=/app/src\nENV PYTHONUNBUFFERED=1\n",
            ),
            replace(
                "src/notifications/main.py",
                '"""Entry point: python -m notifications.main runs the consumer loop."""',
                '"""Entry point: python -m notifications.main runs the '
                'consumer loop (one per pod)."""',
            ),
            replace(
                "src/notifications/templates.py",
                "SUBJECTS = {\n",
                "# Subjects are not translated yet; the storefront only sells in English.\n"
                "SUBJECTS = {\n",
            ),
        ],
    )


def _email_storm(s: Script) -> None:
    s.commit(
        REPO,
        "2025-02-10 11:02",
        "priya",
        "[NOTIF-205] One consumer group per environment",
        [
            replace("src/notifications/consumer.py", src.GROUP_LINE, src.GROUP_LINE_PER_ENV),
        ],
        key="group-rename",
    )
    s.commit(
        REPO,
        "2025-02-12 10:15",
        "maria",
        "NOTIF-210 Deduplicate sends on event_id\n\n"
        "INC-2025-02: a replay sent 41k duplicate emails. Every event id is now sent\n"
        "at most once.\n",
        [
            write("src/notifications/dedupe.py", src.DEDUPE),
            replace(
                "src/notifications/consumer.py",
                "from notifications import email_sender, templates, user_client\n",
                "from notifications import dedupe, email_sender, templates, user_client\n",
            ),
            replace(
                "src/notifications/consumer.py",
                '    """Send the order confirmation email."""\n    data = event["data"]\n',
                '    """Send the order confirmation email."""\n'
                '    if not dedupe.first_time(event["event_id"]):\n        return\n'
                '    data = event["data"]\n',
            ),
        ],
    )
    s.commit(
        REPO,
        "2025-02-12 15:40",
        "maria",
        "NOTIF-211 Never reset offsets to earliest",
        [replace("src/notifications/consumer.py", src.OFFSET_RESET, src.OFFSET_RESET_GUARDED)],
        key="offset-warning",
    )
    s.commit(
        REPO,
        "2025-02-14",
        "priya",
        "[NOTIF-212] Per-recipient rate limit",
        [write("src/notifications/rate_limit.py", src.RATE_LIMIT)],
    )
    s.commit(
        REPO,
        "2025-06-10 09:40",
        "maria",
        "NOTIF-260 Read the customer's email opt-out from user-service",
        [append("src/notifications/user_client.py", src.OPT_OUT)],
        key="opt-out-call",
    )
    s.commit(
        REPO,
        "2025-03-18",
        "maria",
        "NOTIF-230 Rename docs/templates.md to docs/email-templates.md",
        [rename("docs/templates.md", "docs/email-templates.md")],
    )
    s.commit(
        REPO,
        "2025-02-18 13:00",
        "maria",
        "NOTIF-214 Postmortem for INC-2025-02 email storm",
        [write(postmortems.EMAIL_STORM_PATH, postmortems.EMAIL_STORM)],
        key="postmortem-2025-02",
    )
