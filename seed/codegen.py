"""Small, plausible Python functions and tests that filler commits add to services."""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Vocab:
    """Domain words of one service, so generated code reads like that service's code."""

    pkg: str
    nouns: tuple[str, ...]
    fields: tuple[str, ...]
    actions: tuple[str, ...]
    metrics: tuple[str, ...]


VOCAB: dict[str, Vocab] = {
    "payment-service": Vocab(
        "payment",
        ("payment", "refund", "charge", "payout", "receipt", "dispute"),
        ("currency", "provider_ref", "order_id", "card_country", "statement_descriptor"),
        ("capture", "cancel", "refund", "reconcile"),
        ("provider_latency", "capture_delay"),
    ),
    "order-service": Vocab(
        "orders",
        ("order", "line_item", "cart", "shipment", "discount", "invoice"),
        ("customer_id", "currency", "shipping_country", "coupon_code", "channel"),
        ("confirm", "cancel", "reprice", "ship"),
        ("checkout_duration", "reservation_wait"),
    ),
    "inventory-service": Vocab(
        "inventory",
        ("reservation", "stock_level", "warehouse", "sku", "transfer"),
        ("sku", "warehouse_id", "bin_location", "supplier_code", "batch_id"),
        ("release", "reserve", "recount", "transfer"),
        ("lock_wait", "sync_lag"),
    ),
    "user-service": Vocab(
        "users",
        ("user", "profile", "session", "address", "preference", "consent"),
        ("email", "display_name", "locale", "country", "phone"),
        ("verify", "deactivate", "merge", "export"),
        ("login_latency", "token_refresh"),
    ),
    "notification-service": Vocab(
        "notifications",
        ("notification", "email", "template", "recipient", "bounce"),
        ("locale", "channel", "template_id", "recipient_email", "campaign"),
        ("send", "resend", "suppress", "render"),
        ("send_latency", "render_time"),
    ),
    "analytics-service": Vocab(
        "analytics",
        ("event", "report", "metric", "snapshot", "cohort", "funnel_step"),
        ("event_type", "schema_version", "partition_key", "cohort_week", "source"),
        ("ingest", "backfill", "aggregate", "export"),
        ("ingest_lag", "query_time"),
    ),
}

KNOBS: dict[str, tuple[str, ...]] = {
    "max_len": ("32", "64", "128", "255"),
    "batch_size": ("50", "100", "200", "500"),
    "max_attempts": ("2", "3", "4", "5"),
    "ttl_seconds": ("30", "60", "300", "900"),
    "window_seconds": ("300", "900", "3600", "86400"),
    "page_size": ("25", "50", "100", "200"),
    "threshold_pct": ("1", "2", "5"),
    "bucket_ms": ("5", "10", "25", "50"),
}
KNOB_LINE = re.compile(r"^    (" + "|".join(KNOBS) + r") = (\d+)$", re.M)
DEF_LINE = re.compile(r"^def (\w+)\(", re.M)


@dataclass(frozen=True)
class Snippet:
    """A generated function, what it is for, and a test that exercises it."""

    name: str
    code: str
    summary: str
    test: str
    needs_time: bool = False
    noun: str = ""
    field: str = ""


def _h(word: str) -> str:
    return word.replace("_", " ")


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _test(pkg: str, module: str, name: str, case: str, body: str) -> str:
    return f"\n\ndef test_{name}_{case}():\n    from {pkg}.{module} import {name}\n\n{body}"


def make_snippet(v: Vocab, module: str, taken: set[str], rng: random.Random) -> Snippet:
    """A new function for `module` whose name is not in `taken`."""
    for _ in range(40):
        snippet = _draw(v, module, rng)
        if snippet.name not in taken:
            return snippet
    return _draw(v, module, rng, suffix=f"_v{len(taken) + 2}")


def _draw(v: Vocab, module: str, rng: random.Random, suffix: str = "") -> Snippet:
    noun, field = rng.choice(v.nouns), rng.choice(v.fields)
    snippet = _draw_kind(v, module, rng, suffix, noun, field)
    return dataclasses.replace(snippet, noun=_h(noun), field=_h(field))


def _draw_kind(
    v: Vocab, module: str, rng: random.Random, suffix: str, noun: str, field: str
) -> Snippet:
    action, metric = rng.choice(v.actions), rng.choice(v.metrics)
    kind = rng.randrange(8)
    if kind == 0:
        name = f"validate_{noun}_{field}{suffix}"
        code = (
            f"def {name}({noun}: dict) -> None:\n"
            f'    """Reject a {_h(noun)} whose {_h(field)} is missing or too long."""\n'
            f"    max_len = {rng.choice(KNOBS['max_len'])}\n"
            f'    value = {noun}.get("{field}")\n'
            '    if value in (None, ""):\n'
            f'        raise ValueError("{_h(noun)} is missing {field}")\n'
            "    if len(str(value)) > max_len:\n"
            f'        raise ValueError(f"{field} is longer than {{max_len}} characters")\n'
        )
        test = _test(
            v.pkg,
            module,
            name,
            "rejects_missing",
            f"    with pytest.raises(ValueError):\n        {name}({{}})\n",
        )
        return Snippet(name, code, f"validate {_h(noun)} {_h(field)}", test)
    if kind == 1:
        name = f"chunk_{noun}_ids{suffix}"
        code = (
            f"def {name}(ids: list[str]) -> list[list[str]]:\n"
            f'    """Split {_h(noun)} ids into batches small enough for one query."""\n'
            "    # Large IN (...) lists make the planner fall back to a sequential scan.\n"
            f"    batch_size = {rng.choice(KNOBS['batch_size'])}\n"
            "    return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]\n"
        )
        test = _test(v.pkg, module, name, "empty", f"    assert {name}([]) == []\n")
        return Snippet(name, code, f"batch {_h(noun)} lookups", test)
    if kind == 2:
        name = f"{action}_{noun}_with_retry{suffix}"
        code = (
            f"def {name}(client, {noun}_id: str) -> dict:\n"
            f'    """{action.capitalize()} a {_h(noun)}, retrying timeouts with backoff."""\n'
            f"    max_attempts = {rng.choice(KNOBS['max_attempts'])}\n"
            "    delay = 0.2\n"
            "    for attempt in range(1, max_attempts + 1):\n"
            "        try:\n"
            f"            return client.{action}({noun}_id)\n"
            "        except TimeoutError:\n"
            "            if attempt == max_attempts:\n"
            "                raise\n"
            f'            log.warning("{action} %s timed out (attempt %d)", {noun}_id, attempt)\n'
            "            time.sleep(delay)\n"
            "            delay *= 2\n"
            f'    raise RuntimeError("{name}: retries exhausted")\n'
        )
        test = _test(
            v.pkg,
            module,
            name,
            "returns_result",
            "    class Client:\n"
            f"        def {action}(self, ident):\n"
            '            return {"id": ident}\n\n'
            f'    assert {name}(Client(), "x1") == {{"id": "x1"}}\n',
        )
        return Snippet(name, code, f"retry {_h(noun)} {action} on timeouts", test, True)
    if kind == 3:
        name = f"is_{noun}_stale{suffix}"
        code = (
            f"def {name}({noun}: dict, now: float | None = None) -> bool:\n"
            f'    """True when a {_h(noun)} has not been updated within the freshness window."""\n'
            f"    window_seconds = {rng.choice(KNOBS['window_seconds'])}\n"
            "    now = time.time() if now is None else now\n"
            f'    return now - float({noun}.get("updated_at", 0)) > window_seconds\n'
        )
        test = _test(
            v.pkg,
            module,
            name,
            "fresh",
            f'    assert not {name}({{"updated_at": 100.0}}, now=100.0)\n',
        )
        return Snippet(name, code, f"detect stale {_h(_plural(noun))}", test, True)
    if kind == 4:
        name = f"page_{_plural(noun)}{suffix}"
        code = (
            f"def {name}(rows: list[dict], cursor: int = 0) -> tuple[list[dict], int | None]:\n"
            f'    """One page of {_h(_plural(noun))} and the next cursor (None at the end)."""\n'
            f"    page_size = {rng.choice(KNOBS['page_size'])}\n"
            "    page = rows[cursor : cursor + page_size]\n"
            "    more = cursor + page_size < len(rows)\n"
            "    return page, (cursor + page_size if more else None)\n"
        )
        test = _test(v.pkg, module, name, "last_page", f"    assert {name}([], 0) == ([], None)\n")
        return Snippet(name, code, f"paginate {_h(noun)} listings", test)
    if kind == 5:
        name = f"count_{_plural(noun)}_by_{field}{suffix}"
        code = (
            f"def {name}(items: list[dict]) -> dict[str, int]:\n"
            f'    """Count {_h(_plural(noun))} per {_h(field)} for the dashboards."""\n'
            f"    threshold_pct = {rng.choice(KNOBS['threshold_pct'])}\n"
            "    counts: dict[str, int] = {}\n"
            "    for item in items:\n"
            f'        key = str(item.get("{field}", "unknown"))\n'
            "        counts[key] = counts.get(key, 0) + 1\n"
            "    total = sum(counts.values()) or 1\n"
            "    # Drop the long tail so the Grafana legend stays readable.\n"
            "    return {k: n for k, n in counts.items() if 100 * n / total >= threshold_pct}\n"
        )
        test = _test(
            v.pkg,
            module,
            name,
            "counts",
            f'    assert {name}([{{"{field}": "a"}}]) == {{"a": 1}}\n',
        )
        return Snippet(name, code, f"count {_h(_plural(noun))} by {_h(field)}", test)
    if kind == 6:
        name = f"normalise_{noun}_{field}{suffix}"
        code = (
            f"def {name}(value: str) -> str:\n"
            f'    """Normalise a {_h(field)} before it is compared or stored."""\n'
            f"    max_len = {rng.choice(KNOBS['max_len'])}\n"
            '    cleaned = " ".join(str(value).split()).lower()\n'
            "    return cleaned[:max_len]\n"
        )
        test = _test(
            v.pkg, module, name, "collapses_spaces", f'    assert {name}("  A   b ") == "a b"\n'
        )
        return Snippet(name, code, f"normalise {_h(noun)} {_h(field)}", test)
    name = f"record_{noun}_{metric}{suffix}"
    code = (
        f"def {name}(metrics, {noun}: dict) -> None:\n"
        f'    """Emit the {_h(metric)} of a {_h(noun)} as a histogram sample."""\n'
        f"    bucket_ms = {rng.choice(KNOBS['bucket_ms'])}\n"
        f'    value = float({noun}.get("{metric}_ms", 0))\n'
        f'    metrics.observe("{v.pkg}_{metric}_ms", round(value / bucket_ms) * bucket_ms)\n'
    )
    test = _test(
        v.pkg,
        module,
        name,
        "observes",
        "    seen = []\n\n"
        "    class Metrics:\n"
        "        def observe(self, name, value):\n"
        "            seen.append((name, value))\n\n"
        f'    {name}(Metrics(), {{"{metric}_ms": 12}})\n'
        "    assert len(seen) == 1\n",
    )
    return Snippet(name, code, f"record {_h(noun)} {_h(metric)}", test)


def tests_header(pkg: str, module: str) -> str:
    """The top of a new tests/test_<module>.py file."""
    return f'"""Tests for {pkg}.{module}."""\n\nimport pytest\n'


def module_header(pkg: str, module: str, purpose: str) -> str:
    """The top of a new source module."""
    return f'"""{purpose}"""\n\nimport logging\nimport time\n\nlog = logging.getLogger(__name__)\n'


def function_block(text: str, name: str) -> tuple[int, int] | None:
    """(start, end) offsets of a top-level function in module text, or None."""
    m = re.search(rf"^def {re.escape(name)}\(", text, re.M)
    if m is None:
        return None
    body = text.find("\n", m.start()) + 1 or len(text)
    nxt = _TOP_LEVEL.search(text, body)
    return m.start(), nxt.start() if nxt else len(text)


# A line that starts in column 0 (and is not a blank line).
_TOP_LEVEL = re.compile(r"^[^\s)]", re.M)
