"""Log files of INC-2024-03, the checkout outage: four services, four ways of logging.

Checkout (order-service) looks the customer up in user-service, reserves stock in
inventory-service, then calls payment-service synchronously, which calls Stripe (ADR-0002).
From 13:55 UTC Stripe's latency climbs past order-service's 30 s timeout; order-service
retries twice without an idempotency key, so a checkout can hold a worker for 90 s, fail,
and still charge the customer twice. The logs cover 13:58:00–14:04:30 UTC, the minutes
before the page at 14:02:31; the first checkout to fail is the one the manifest names.

- order-service: JSON lines in UTC, gzip-compressed, rotated name (`trace_id`, `request_id`)
- user-service: Python logging text in local time with no offset (Europe/Berlin), W3C
  `traceparent`
- inventory-service: text with ISO-8601 timestamps and a +01:00 offset, `X-Trace-Id: …`
- payment-service: logfmt in UTC (`trace_id=`)
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

INCIDENT = "INC-2024-03"
LOG_DIR = f"logs/{INCIDENT}"
LOCAL_TZ = "Europe/Berlin"
# Berlin is UTC+1 until daylight saving starts on 31 March 2024: a fixed offset keeps the
# output independent of the machine's time-zone database.
LOCAL_OFFSET = timedelta(hours=1)
START = datetime(2024, 3, 14, 13, 58, 0, tzinfo=UTC)
LAST_REQUEST = datetime(2024, 3, 14, 14, 3, 0, tzinfo=UTC)
END = datetime(2024, 3, 14, 14, 4, 30, tzinfo=UTC)
STRIPE_CLIMB_FROM = datetime(2024, 3, 14, 13, 55, 0, tzinfo=UTC)
TIMEOUT = 30.0  # PAYMENT_TIMEOUT_SECONDS in order-service
ATTEMPTS = 3  # ORDER_PAYMENT_RETRIES=2
FOCAL_START = datetime(2024, 3, 14, 14, 0, 52, 318_000, tzinfo=UTC)
# Stripe's answer time for each attempt of the focal checkout: all after the timeout.
FOCAL_STRIPE = (33.912, 35.204, 31.737)

FILES = {
    "order-service": "order-service-2024-03-14.log.1.gz",
    "user-service": "user-service.log",
    "inventory-service": "inventory-service.log",
    "payment-service": "payment-service.log",
}
SERVICES_IN_ORDER = ["order-service", "user-service", "inventory-service", "payment-service"]


@dataclass
class _Line:
    at: datetime
    seq: int
    fields: dict[str, Any]
    trace: str | None = None


@dataclass
class _Logs:
    lines: dict[str, list[_Line]] = field(default_factory=lambda: {s: [] for s in FILES})
    seq: int = 0

    def add(
        self,
        service: str,
        at: datetime,
        trace: str | None,
        level: str,
        logger: str,
        msg: str,
        **extra: Any,
    ) -> None:
        """Log one line of `service` (the order of adding breaks ties in time)."""
        self.seq += 1
        fields = {"level": level, "logger": logger, "msg": msg, **extra}
        self.lines[service].append(_Line(at, self.seq, fields, trace))


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _stripe_latency(rng: random.Random, at: datetime) -> float:
    climbed = min((at - STRIPE_CLIMB_FROM).total_seconds(), 330.0) / 330.0
    return round((0.4 + 26.0 * climbed) * rng.uniform(0.75, 1.35), 3)


def _checkout(logs: _Logs, rng: random.Random, s0: datetime, focal: bool) -> dict[str, Any]:
    """One POST /orders through the four services, retried as order-service retried."""
    ms = timedelta(milliseconds=1)
    trace, req = _hex(rng, 128), "req_" + _hex(rng, 48)
    customer, order = f"cus_{rng.randint(1000, 9999)}", f"ord_{rng.randint(100000, 999999)}"
    amount, items = rng.choice((2490, 4590, 7990, 12990, 18900)), rng.randint(1, 4)
    ids = {"trace_id": trace, "span_id": _hex(rng, 64), "request_id": req}
    pay_ids = {"trace_id": trace, "order_id": order}

    def orders(at: datetime, level: str, logger: str, msg: str, **extra: Any) -> None:
        """A line of order-service for this checkout."""
        logs.add("order-service", at, trace, level, f"orders.{logger}", msg, **extra, **ids)

    def payments(at: datetime, level: str, logger: str, msg: str, **extra: Any) -> None:
        """A line of payment-service for this checkout."""
        logs.add("payment-service", at, trace, level, logger, msg, **extra, **pay_ids)

    def url(service: str, path: str) -> dict[str, str]:
        """The outgoing call's URL, as order-service logs it."""
        return {"http.url": f"http://{service}:8080{path}"}

    orders(s0, "info", "api", "POST /orders received", customer_id=customer, order_id=order,
           items=items)  # fmt: skip
    t = s0 + 2 * ms
    orders(t, "info", "user_client", "calling user-service",
           **url("user-service", f"/users/{customer}"))  # fmt: skip
    took = rng.randint(2, 6)
    t += (took + 1) * ms
    span = _hex(rng, 64)
    logs.add("user-service", t, trace, "INFO", "users.api",
             f"GET /users/{customer} 200 ({took} ms) traceparent=00-{trace}-{span}-01")  # fmt: skip
    t += 2 * ms
    orders(t, "info", "inventory_client", "calling inventory-service",
           **url("inventory-service", "/reservations"))  # fmt: skip
    t += 3 * ms
    logs.add("inventory-service", t, trace, "INFO", "inventory.reservations",
             f"reserving {items} line(s) for {order} in wh-fra-1 X-Trace-Id: {trace}")  # fmt: skip
    t += 5 * ms
    logs.add("inventory-service", t, trace, "INFO", "inventory.api",
             f"POST /reservations 201 (6 ms) reservation=res_{_hex(rng, 32)} "
             f"X-Trace-Id: {trace}")  # fmt: skip
    outcome: dict[str, Any] = {"trace_id": trace, "request_id": req, "order_id": order}
    charges = 0
    for attempt in range(ATTEMPTS):
        t += 2 * ms
        call = t
        orders(call, "info", "payment_client", "calling payment-service", attempt=attempt,
               timeout_s=TIMEOUT, **url("payment-service", "/payments"))  # fmt: skip
        payments(call + 4 * ms, "info", "payment.api", "POST /payments", amount_minor=amount,
                 currency="EUR", idempotency_key="-")  # fmt: skip
        payments(call + 6 * ms, "info", "payment.gateway", "creating PaymentIntent",
                 url="https://api.stripe.com/v1/payment_intents")  # fmt: skip
        if focal:
            stripe = FOCAL_STRIPE[attempt]
        else:
            stripe = _stripe_latency(rng, call)
            if s0 < FOCAL_START and attempt == ATTEMPTS - 1:
                stripe = min(stripe, 28.5)  # the first checkout to fail is the focal one
        answered = call + timedelta(seconds=stripe) + 6 * ms
        late = stripe + 0.006 > TIMEOUT
        stripe_ms = round(stripe * 1000)
        if focal and attempt == ATTEMPTS - 1:
            # Two charges went through already; the issuer now asks for 3-D Secure.
            payments(answered, "warn", "payment.api",
                     "provider declined: authentication_required", stripe_ms=stripe_ms)  # fmt: skip
            status = 402
        else:
            charges += 1
            payments(answered, "info", "payment.gateway", f"charged {amount} EUR for {customer}",
                     provider_ref=f"pi_{_hex(rng, 48)}", stripe_ms=stripe_ms)  # fmt: skip
            status = 201
        access = f"POST /payments {status}"
        if late:
            payments(answered + 3 * ms, "warn", "uvicorn.access",
                     access + ": client disconnected before the response was sent",
                     status=status, duration_ms=stripe_ms + 9)  # fmt: skip
            t = call + timedelta(seconds=TIMEOUT)
            orders(t, "warning", "payment_client",
                   f"payment-service timed out for {order} (attempt {attempt})")  # fmt: skip
            continue
        payments(answered + 3 * ms, "info", "uvicorn.access", access, status=status,
                 duration_ms=stripe_ms + 9)  # fmt: skip
        t = answered + 5 * ms
        orders(t, "info", "payment_client", f"payment-service answered 201 (attempt {attempt})")
        t += 3 * ms
        orders(t, "info", "api", f"POST /orders 201: order {order} confirmed", status=201,
               duration_ms=round((t - s0).total_seconds() * 1000))  # fmt: skip
        outcome.update(failed=False, charges=charges)
        return outcome
    t += 2 * ms
    orders(t, "error", "api", "POST /orders failed", status=500,
           error=f"TimeoutError: payment-service did not answer for order {order}",
           duration_ms=round((t - s0).total_seconds() * 1000))  # fmt: skip
    outcome.update(failed=True, charges=charges)
    return outcome


def _background(logs: _Logs) -> None:
    """Lines that belong to no request: health checks, housekeeping, an unrelated error."""
    at = START + timedelta(seconds=4)
    while at < END:
        logs.add("order-service", at, None, "info", "uvicorn.access", "GET /healthz 200",
                 status=200)  # fmt: skip
        logs.add("user-service", at + timedelta(milliseconds=7), None, "INFO", "uvicorn.access",
                 "GET /healthz 200 (1 ms)")  # fmt: skip
        at += timedelta(seconds=15)
    at = START + timedelta(seconds=31)
    while at < END:
        logs.add("inventory-service", at, None, "INFO", "inventory.expiry",
                 "release_expired: released 0 expired reservation(s)")  # fmt: skip
        at += timedelta(seconds=60)
    at = datetime(2024, 3, 14, 14, 1, 0, tzinfo=UTC)
    busy = 41
    while at < END:
        level = "warning" if busy >= 56 else "info"
        logs.add("order-service", at, None, level, "orders.pool", f"worker pool: {busy}/64 busy")
        busy = min(64, busy + 6)
        at += timedelta(seconds=20)
    logs.add("user-service", datetime(2024, 3, 14, 13, 58, 41, 207_000, tzinfo=UTC), None,
             "ERROR", "users.db", "connection to users-db lost; reconnecting",
             traceback=("Traceback (most recent call last):",
                        '  File "/app/src/users/db.py", line 41, in get_user',
                        "psycopg.OperationalError: server closed the connection "
                        "unexpectedly"))  # fmt: skip


def _render(service: str, line: _Line) -> str:
    f = line.fields
    if service == "order-service":
        stamp = line.at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{line.at.microsecond // 1000:03d}Z"
        return json.dumps({"ts": stamp, **f}, separators=(",", ":"), ensure_ascii=False)
    if service == "payment-service":
        stamp = line.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        pairs = [("ts", stamp), *f.items()]
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in pairs)
    if service == "user-service":
        local = line.at + LOCAL_OFFSET
        stamp = local.strftime("%Y-%m-%d %H:%M:%S,") + f"{local.microsecond // 1000:03d}"
        text = f"{stamp} {f['level']} {f['logger']}: {f['msg']}"
        return "\n".join((text, *f.get("traceback", ())))
    local = line.at + LOCAL_OFFSET
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+01:00"
    return f"{stamp} {f['level']:<5} [{f['logger']}] {f['msg']}"


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "='):
        return '"' + text.replace('"', '\\"') + '"'
    return text


# Damage a real incident's logs have: a write cut short, a line from a stray print that
# broke its quoting, and the NUL bytes copytruncate rotation leaves at the head of a file.
_DAMAGE = {
    "order-service": (
        datetime(2024, 3, 14, 14, 3, 7, 114_000, tzinfo=UTC),
        '{"ts":"2024-03-14T14:03:07.114Z","level":"warning","logger":"orders.pool",'
        '"msg":"worker pool exhausted: 64/64 bu',
    ),
    "payment-service": (
        datetime(2024, 3, 14, 14, 1, 40, 2_311, tzinfo=UTC),
        "ts=2024-03-14T14:01:40.002311Z level=info logger=payment.webhooks "
        'msg="webhook payload too large, truncated',
    ),
    "inventory-service": (
        START,
        "\x00" * 48 + "2024-03-14T14:57:31.003+01:00 INFO  "
        "[inventory.expiry] release_expired: released 0 expired reservation(s)",
    ),
}


def write_incident_logs(root: Path, seed: int) -> dict[str, Any]:
    """Write ROOT/logs/INC-2024-03/ and return its ground truth for the manifest."""
    rng = random.Random(f"{seed}:logs")
    logs = _Logs()
    _background(logs)
    starts, at = [], START + timedelta(seconds=2.4)
    while at < LAST_REQUEST:
        starts.append(at)
        at += timedelta(milliseconds=rng.randint(2500, 6500))
    starts = sorted(
        [s for s in starts if abs((s - FOCAL_START).total_seconds()) > 1] + [FOCAL_START]
    )
    focal: dict[str, Any] = {}
    outcomes = []
    for s0 in starts:
        outcome = _checkout(logs, rng, s0, focal=s0 == FOCAL_START)
        outcomes.append(outcome)
        if s0 == FOCAL_START:
            focal = outcome
    out_dir = root / LOG_DIR
    out_dir.mkdir(parents=True)
    files: dict[str, Any] = {}
    malformed = []
    where: dict[tuple[str, int], int] = {}  # (service, seq) -> line number
    counts: dict[str, int] = {}
    for service, name in FILES.items():
        rows = sorted(
            [ln for ln in logs.lines[service] if ln.at <= END], key=lambda ln: (ln.at, ln.seq)
        )
        text_lines: list[str] = []
        damage = _DAMAGE.get(service)
        for row in rows:
            if damage and row.at >= damage[0]:
                text_lines.append(damage[1])
                malformed.append({"path": f"{LOG_DIR}/{name}", "line": len(text_lines)})
                damage = None
            where[(service, row.seq)] = len(text_lines) + 1
            text_lines += _render(service, row).split("\n")  # a traceback is several lines
        counts[service] = sum(1 for r in rows if r.trace == focal["trace_id"])
        data = ("\n".join(text_lines) + "\n").encode()
        if name.endswith(".gz"):
            data = gzip.compress(data, compresslevel=9, mtime=0)
        (out_dir / name).write_bytes(data)
        files[service] = {"path": f"{LOG_DIR}/{name}", **_FILE_FACTS[service]}
    first_error = next(
        ln
        for ln in logs.lines["order-service"]
        if ln.trace == focal["trace_id"] and ln.fields["level"] == "error"
    )
    payment = [ln for ln in logs.lines["payment-service"] if ln.trace == focal["trace_id"]]
    timeout = next(
        ln
        for ln in logs.lines["order-service"]
        if ln.trace == focal["trace_id"] and "timed out" in ln.fields.get("msg", "")
    )
    silent_from = max(ln.at for ln in payment if ln.at <= timeout.at)
    return {
        "incident": INCIDENT,
        "dir": LOG_DIR,
        "files": files,
        "local_time": {"path": files["user-service"]["path"], "tz": LOCAL_TZ},
        "window": {"start": _iso(START), "end": _iso(END)},
        "trace_id": focal["trace_id"],
        "request_id": focal["request_id"],
        "order_id": focal["order_id"],
        "charges": focal["charges"],
        "services_in_order": SERVICES_IN_ORDER,
        "calls": [["order-service", s] for s in SERVICES_IN_ORDER[1:]]
        + [["payment-service", "stripe"]],
        "first_error": {
            "service": "order-service",
            "time": _iso(first_error.at),
            "path": files["order-service"]["path"],
            "line": where[("order-service", first_error.seq)],
            "message": first_error.fields["error"],
        },
        "gap": {
            "kind": "silence",
            "service": "payment-service",
            "caller": "order-service",
            "since": _iso(silent_from),
            "timeout_at": _iso(timeout.at),
            "why": "payment-service was waiting on Stripe (external, no logs) past "
            "order-service's 30 s timeout",
        },
        "records_for_trace": counts,
        "checkouts": len(outcomes),
        "failed_checkouts": sum(1 for o in outcomes if o["failed"]),
        "malformed": malformed,
    }


_FILE_FACTS = {
    "order-service": {
        "format": "jsonl",
        "compression": "gzip",
        "timezone": "UTC",
        "id_field": "trace_id",
    },
    "user-service": {
        "format": "text",
        "compression": None,
        "timezone": LOCAL_TZ,
        "offset_in_file": False,
        "id_field": "traceparent",
    },
    "inventory-service": {
        "format": "text",
        "compression": None,
        "timezone": "+01:00",
        "id_field": "X-Trace-Id",
    },
    "payment-service": {
        "format": "logfmt",
        "compression": None,
        "timezone": "UTC",
        "id_field": "trace_id",
    },
}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds")
