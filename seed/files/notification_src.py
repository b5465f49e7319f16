"""notification-service Python sources and template assets, as first written."""

from __future__ import annotations

CONFIG = '''"""Runtime settings for notification-service, read once from the environment."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    kafka_brokers: str = os.environ.get("KAFKA_BROKERS", "localhost:9092")
    user_service_url: str = os.environ.get("USER_SERVICE_URL", "http://user-service:8080")
    sender: str = os.environ.get("EMAIL_SENDER", "ShopFast <orders@shopfast.io>")
    ses_region: str = os.environ.get("SES_REGION", "eu-west-1")
    environment: str = os.environ.get("ENVIRONMENT", "local")


settings = Settings()
'''

APP = '''"""Health endpoint; the real work happens in the Kafka consumer."""

import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)
app = FastAPI(title="notification-service")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}
'''

EMAIL_SENDER = '''"""Sends rendered emails through Amazon SES."""

import logging

import boto3

from notifications.config import settings

log = logging.getLogger(__name__)
_ses = boto3.client("ses", region_name=settings.ses_region)


def send_email(to: str, subject: str, html: str) -> str:
    """Send one email; returns the SES message id."""
    response = _ses.send_email(
        Source=settings.sender,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": subject}, "Body": {"Html": {"Data": html}}},
    )
    log.info("sent %r to %s", subject, to)
    return response["MessageId"]
'''

TEMPLATES = '''"""Email templates: compiled MJML in templates/build, rendered with Jinja2."""

import logging
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

log = logging.getLogger(__name__)
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parents[2] / "templates" / "build"),
    autoescape=select_autoescape(["html"]),
)

SUBJECTS = {
    "order_confirmed": "Your ShopFast order is confirmed",
}


def render(name: str, **context) -> tuple[str, str]:
    """(subject, html) of a template."""
    return SUBJECTS[name], _env.get_template(f"{name}.html").render(**context)
'''

USER_CLIENT = '''"""Looks customers up in user-service to find where to send their email."""

import logging

import httpx

from notifications.config import settings

log = logging.getLogger(__name__)


def get_user(customer_id: str) -> dict:
    """GET http://user-service:8080/users/{id}."""
    resp = httpx.get(f"{settings.user_service_url}/users/{customer_id}", timeout=2.0)
    resp.raise_for_status()
    return resp.json()
'''

# Planted contract violation: user-service's openapi.yaml has no preferences endpoint
# (`kb contracts` reports this call).
OPT_OUT = '''

def email_opt_out(customer_id: str) -> bool:
    """Whether the customer opted out of email, from their user-service preferences."""
    resp = httpx.get(
        f"{settings.user_service_url}/users/{customer_id}/preferences", timeout=2.0
    )
    resp.raise_for_status()
    return not resp.json().get("email", True)
'''

OFFSET_RESET = """        auto_offset_reset="earliest",
"""
OFFSET_RESET_GUARDED = """\
        # WARNING: never set auto_offset_reset to "earliest" here. A new or renamed consumer
        # group then replays days of events and every replayed event sends a real email
        # (INC-2025-02, 41k duplicate emails).
        auto_offset_reset="latest",
"""

GROUP_LINE = 'CONSUMER_GROUP = "notification-service"\n'
GROUP_LINE_PER_ENV = 'CONSUMER_GROUP = f"notifications-{settings.environment}"\n'

CONSUMER = (
    '''"""Turns order and payment events into customer emails."""

import logging

from aiokafka import AIOKafkaConsumer

from notifications import email_sender, templates
from notifications.config import settings
from notifications.events import subscribe

log = logging.getLogger(__name__)

'''
    + GROUP_LINE
    + '''TOPICS = ("order.confirmed",)


def build_consumer() -> AIOKafkaConsumer:
    """The Kafka consumer for every topic we send emails for."""
    return AIOKafkaConsumer(
        *TOPICS,
        bootstrap_servers=settings.kafka_brokers,
        group_id=CONSUMER_GROUP,
'''
    + OFFSET_RESET
    + '''        enable_auto_commit=False,
    )


@subscribe("order.confirmed")
async def on_order_confirmed(event: dict) -> None:
    """Send the order confirmation email."""
    data = event["data"]
    to = data["customer_email"]
    subject, html = templates.render("order_confirmed", order_id=data["order_id"])
    email_sender.send_email(to, subject, html)
'''
)

LOOKUP_OLD = """    to = data["customer_email"]
"""
LOOKUP_NEW = """    to = user_client.get_user(data["customer_id"])["email"]
"""

PAYMENT_FAILED_HANDLER = '''

@subscribe("payment.failed")
async def on_payment_failed(event: dict) -> None:
    """Tell the customer their payment did not go through and how to retry."""
    data = event["data"]
    to = user_client.get_user(data["customer_id"])["email"]
    subject, html = templates.render("payment_failed", order_id=data["order_id"],
                                     reason=data["reason"])
    email_sender.send_email(to, subject, html)
'''

DEDUPE = '''"""Deduplicates sends on the event id (NOTIF-210, after INC-2025-02)."""

import logging

import redis

log = logging.getLogger(__name__)
_redis = redis.Redis.from_url("redis://redis:6379/2")

# Kafka retains order events for 7 days; remember ids a little longer than that.
SEEN_TTL_SECONDS = 8 * 24 * 3600


def first_time(event_id: str) -> bool:
    """True the first time an event id is seen; False for every redelivery."""
    return bool(_redis.set(f"sent:{event_id}", 1, nx=True, ex=SEEN_TTL_SECONDS))
'''

RATE_LIMIT = '''"""Per-recipient rate limit: a safety net if duplicates slip through (NOTIF-212)."""

import logging
import time

log = logging.getLogger(__name__)

MAX_EMAILS_PER_HOUR = 10
_sent: dict[str, list[float]] = {}


def allow(recipient: str, now: float | None = None) -> bool:
    """True if the recipient has had fewer than MAX_EMAILS_PER_HOUR emails in the last hour."""
    now = time.time() if now is None else now
    recent = [t for t in _sent.get(recipient, []) if now - t < 3600]
    if len(recent) >= MAX_EMAILS_PER_HOUR:
        log.warning("rate limit hit for a recipient; dropping email")
        return False
    _sent[recipient] = [*recent, now]
    return True
'''

TEST_CONSUMER = '''"""Tests for notifications.consumer."""

from notifications import consumer


def test_consumer_topics():
    assert "order.confirmed" in consumer.TOPICS
'''

TEST_TEMPLATES = '''"""Tests for notifications.templates."""

from notifications import templates


def test_payment_failed_subject():
    assert "payment" in templates.SUBJECTS["payment_failed"].lower()
'''

ORDER_CONFIRMED_MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="20px">Thanks for your order!</mj-text>
        <mj-text>Order {{ order_id }} is confirmed and on its way to the warehouse.</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""

PAYMENT_FAILED_MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="20px">Your payment didn't go through</mj-text>
        <mj-text>We couldn't take payment for order {{ order_id }} ({{ reason }}).</mj-text>
        <mj-button href="https://shopfast.io/orders/{{ order_id }}">Try again</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""

PACKAGE_JSON = """{
  "name": "notification-templates",
  "private": true,
  "scripts": {
    "build": "node vendor/mjml-lite/index.js templates/*.mjml --out templates/build"
  },
  "devDependencies": {
    "handlebars": "4.7.8",
    "mjml": "4.14.1"
  }
}
"""

PACKAGE_LOCK = """{
  "name": "notification-templates",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "notification-templates",
      "devDependencies": {
        "handlebars": "4.7.8",
        "mjml": "4.14.1"
      }
    },
    "node_modules/handlebars": {
      "version": "4.7.8",
      "resolved": "https://registry.npmjs.org/handlebars/-/handlebars-4.7.8.tgz",
      "dev": true
    },
    "node_modules/mjml": {
      "version": "4.14.1",
      "resolved": "https://registry.npmjs.org/mjml/-/mjml-4.14.1.tgz",
      "dev": true
    }
  }
}
"""

VENDOR_JS = """/*! mjml-lite 0.3.1 | MIT License | vendored copy, do not edit */
'use strict';
const fs = require('fs');
const path = require('path');

function compile(source) {
  return source
    .replace(/<mj-text[^>]*>/g, '<p>').replace(/<\\/mj-text>/g, '</p>')
    .replace(/<\\/?mj-(body|section|column)[^>]*>/g, '')
    .replace(/<\\/?mjml>/g, '');
}

module.exports = { compile };

if (require.main === module) {
  const out = process.argv[process.argv.indexOf('--out') + 1];
  for (const file of process.argv.slice(2).filter((f) => f.endsWith('.mjml'))) {
    const html = compile(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(path.join(out, path.basename(file, '.mjml') + '.html'), html);
  }
}
"""

VENDOR_LICENSE = """MIT License

Copyright (c) 2021 mjml-lite contributors

Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, subject to the following conditions: the above copyright notice
and this permission notice shall be included in all copies or substantial portions.
"""

GITATTRIBUTES = """vendor/** linguist-vendored
package-lock.json linguist-generated -diff
*.png binary
"""

# A valid 1x1 PNG: signature, IHDR, IDAT, IEND.
ARCHITECTURE_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5e1d3"
    "e20000000049454e44ae426082"
)

MAIN = '''"""Entry point: python -m notifications.main runs the consumer loop."""

import asyncio
import json

from notifications import consumer
from notifications.events import handlers_for


async def run() -> None:
    """Dispatch every event to its handlers, committing after each one."""
    kafka = consumer.build_consumer()
    await kafka.start()
    async for message in kafka:
        event = json.loads(message.value)
        for handler in handlers_for(message.topic):
            await handler(event)
        await kafka.commit()


if __name__ == "__main__":
    asyncio.run(run())
'''

TEST_EMAIL_SENDER = """\
\"\"\"Tests for notifications.email_sender.\"\"\"

from notifications import email_sender


def test_send_email_returns_message_id(monkeypatch):
    class StubSes:
        def send_email(self, **kwargs):
            return {"MessageId": "m-1"}

    monkeypatch.setattr(email_sender, "_ses", StubSes())
    assert email_sender.send_email("a@example.com", "hi", "<p>hi</p>") == "m-1"
"""

TEST_CONSUMER_GROUP = """

def test_consumer_group_is_per_environment():
    assert consumer.CONSUMER_GROUP.startswith("notifications-")
"""
