"""Boilerplate shared by the service repos: Dockerfile, .gitignore, event helpers."""

from __future__ import annotations

GITIGNORE = """__pycache__/
*.py[cod]
.venv/
.env
.pytest_cache/
.ruff_cache/
*.egg-info/
dist/
.idea/
.vscode/
"""


def dockerfile(pkg: str) -> str:
    """The service image: slim Python, source on PYTHONPATH, uvicorn on 8080."""
    return f"""FROM python:3.11-slim

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY src/ src/
ENV PYTHONPATH=/app/src
EXPOSE 8080
CMD ["uvicorn", "{pkg}.app:app", "--host", "0.0.0.0", "--port", "8080"]
"""


def events_module(pkg: str, service: str) -> str:
    """The Kafka publish/subscribe helper every event-driven service carries a copy of."""
    return f'''"""Kafka publishing and subscription helpers for {service}.

Every event travels in the ShopFast envelope: event_id, type, schema_version,
occurred_at and data. Handlers registered with @subscribe receive the envelope.
"""

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from {pkg}.config import settings

log = logging.getLogger(__name__)

Handler = Callable[[dict], Awaitable[None]]
_handlers: dict[str, list[Handler]] = {{}}
_producer: AIOKafkaProducer | None = None


def subscribe(topic: str) -> Callable[[Handler], Handler]:
    """Register a coroutine to be called for every event on `topic`."""

    def register(handler: Handler) -> Handler:
        _handlers.setdefault(topic, []).append(handler)
        return handler

    return register


def handlers_for(topic: str) -> list[Handler]:
    """Handlers registered for a topic (used by the consumer loop)."""
    return list(_handlers.get(topic, []))


async def publish(topic: str, data: dict, *, key: str, schema_version: int = 1) -> str:
    """Publish one event keyed by `key` (events with the same key stay ordered)."""
    global _producer
    if _producer is None:
        _producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_brokers)
        await _producer.start()
    envelope = {{
        "event_id": str(uuid.uuid4()),
        "type": topic,
        "schema_version": schema_version,
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": data,
    }}
    await _producer.send_and_wait(topic, json.dumps(envelope).encode(), key=key.encode())
    log.info("published %s %s", topic, envelope["event_id"])
    return envelope["event_id"]
'''


def init_module(pkg: str, service: str) -> str:
    """The package __init__ with its version."""
    return f'"""{service}."""\n\n__version__ = "0.1.0"\n'


def catalog_info(
    name: str,
    description: str,
    owner: str,
    system: str,
    depends: list[str],
    provides: list[str],
    consumes: list[str],
) -> str:
    """A Backstage catalog-info.yaml for a component."""
    lines = [
        "apiVersion: backstage.io/v1alpha1",
        "kind: Component",
        "metadata:",
        f"  name: {name}",
        f"  description: {description}",
        "  annotations:",
        f"    github.com/project-slug: shopfast/{name}",
        "    pagerduty.com/service-id: P" + name[:3].upper() + "7Q2X",
        "  tags:",
        "    - python",
        "spec:",
        "  type: service",
        "  lifecycle: production",
        f"  owner: {owner}",
        f"  system: {system}",
    ]
    for label, items in (
        ("dependsOn", depends),
        ("providesApis", provides),
        ("consumesApis", consumes),
    ):
        if items:
            lines.append(f"  {label}:")
            lines.extend(f"    - {item}" for item in items)
    return "\n".join(lines) + "\n"
