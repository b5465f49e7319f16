"""OpenTelemetry OTLP/JSON exports (traces and logs) as log records, one span at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from kb.guides.logfields import (
    LogRecord,
    as_status,
    b64_to_hex,
    normalise_level,
    parse_epoch,
    service_from_host,
)

_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_ERROR_CODES = (2, "2", "STATUS_CODE_ERROR")
# Attributes that name the service a client span calls, newest convention first.
_PEER_KEYS = ("peer.service", "server.address", "net.peer.name", "http.host", "rpc.service")


def attributes(items: Any) -> dict[str, Any]:
    """OTLP key/value list → plain dict (intValue arrives as a string in JSON)."""
    out: dict[str, Any] = {}
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            continue
        value = item["value"]
        for kind in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if kind in value:
                raw = value[kind]
                if kind == "intValue":
                    try:
                        raw = int(raw)
                    except (TypeError, ValueError):
                        continue
                out[str(item.get("key"))] = raw
                break
    return out


def _nanos(value: Any) -> datetime | None:
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        return None
    return parse_epoch(nanos) if nanos > 0 else None


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return value.removeprefix("SPAN_KIND_").lower()
    return _KINDS.get(value, "") if isinstance(value, int) else ""


def is_otlp(doc: Any) -> bool:
    """An OTLP/JSON export of traces or logs."""
    return isinstance(doc, dict) and ("resourceSpans" in doc or "resourceLogs" in doc)


def records(
    doc: Mapping[str, Any],
    file: str,
    line: int,
    keep: Callable[[str], bool],
    default_service: str,
) -> Iterator[LogRecord]:
    """Every span (and span event, and log record) whose trace id `keep` accepts."""
    for resource, scope_key, item_key, convert in (
        ("resourceSpans", "scopeSpans", "spans", _span),
        ("resourceSpans", "instrumentationLibrarySpans", "spans", _span),
        ("resourceLogs", "scopeLogs", "logRecords", _log),
    ):
        for block in doc.get(resource) or ():
            if not isinstance(block, dict):
                continue
            res = attributes((block.get("resource") or {}).get("attributes"))
            service = str(res.get("service.name") or default_service)
            for scope in block.get(scope_key) or ():
                for item in (scope or {}).get(item_key) or ():
                    if not isinstance(item, dict):
                        continue
                    trace_id = b64_to_hex(str(item.get("traceId") or ""))
                    if keep(trace_id):
                        yield from convert(item, trace_id, service, file, line)


def _span(span: dict, trace_id: str, service: str, file: str, line: int) -> Iterator[LogRecord]:
    start, end = _nanos(span.get("startTimeUnixNano")), _nanos(span.get("endTimeUnixNano"))
    attrs = attributes(span.get("attributes"))
    status = span["status"] if isinstance(span.get("status"), dict) else {}
    failed = status.get("code") in _ERROR_CODES
    http = as_status(attrs.get("http.response.status_code") or attrs.get("http.status_code"))
    kind = _kind(span.get("kind"))
    peer = None
    if kind in ("client", "producer"):
        for key in _PEER_KEYS:
            if attrs.get(key):
                peer = str(attrs[key]) if key == "peer.service" else service_from_host(attrs[key])
                break
    name = str(span.get("name") or "span")
    took = f"{(end - start).total_seconds() * 1000:.0f} ms" if start and end else "no end"
    why = str(status.get("message") or "")
    span_id = b64_to_hex(str(span.get("spanId") or "")) or None
    parent = b64_to_hex(str(span.get("parentSpanId") or "")) or None

    def record(
        when: datetime | None, level: str, message: str, done: datetime | None = None
    ) -> LogRecord:
        """A record of this span."""
        return LogRecord(
            when,
            service,
            level,
            message,
            file,
            line,
            (trace_id,) if trace_id else (),
            http,
            span_id=span_id,
            parent_span_id=parent,
            peer=peer,
            end=done,
            span_kind=kind,
        )

    opened = f"{name} ({kind} span, {took})" if kind else f"{name} ({took})"
    yield record(start, "INFO", opened, end)
    for event in span.get("events") or ():
        if not isinstance(event, dict):
            continue
        ev = attributes(event.get("attributes"))
        ev_name = str(event.get("name") or "event")
        text = " ".join(str(ev[k]) for k in ("exception.type", "exception.message") if k in ev)
        level = "ERROR" if ev_name == "exception" else "INFO"
        message = f"{name}: {ev_name}" + (f": {text}" if text else "")
        yield record(_nanos(event.get("timeUnixNano")) or start, level, message)
    if failed or (http is not None and http >= 500):
        # The error happened when the span ended: that is where it belongs on the timeline.
        yield record(
            end or start, "ERROR", f"{name} failed after {took}" + (f": {why}" if why else "")
        )


def _log(item: dict, trace_id: str, service: str, file: str, line: int) -> Iterator[LogRecord]:
    attrs = attributes(item.get("attributes"))
    body = item["body"] if isinstance(item.get("body"), dict) else {}
    level = normalise_level(item.get("severityText")) or normalise_level(
        item.get("severityNumber"), "otel"
    )
    yield LogRecord(
        _nanos(item.get("timeUnixNano")) or _nanos(item.get("observedTimeUnixNano")),
        service=str(attrs.get("service.name") or service),
        level=level,
        message=str(body.get("stringValue") or ""),
        file=file,
        line=line,
        ids=(trace_id,) if trace_id else (),
        span_id=b64_to_hex(str(item.get("spanId") or "")) or None,
        status=as_status(attrs.get("http.response.status_code") or attrs.get("http.status_code")),
    )
