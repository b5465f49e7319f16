"""Log stitching: every format, times and zones, ids, findings, bad input, the demo incident."""

from __future__ import annotations

import base64
import bz2
import gzip
import json
import lzma
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kb.errors import KBError
from kb.guides.logfields import service_from_filename, service_key
from kb.guides.stitch import parse_tz_options, parse_when, parse_window, stitch_logs
from kb.guides.trace_report import TraceReport

T = "4bf92f3577b34da6a3ce929d0e0e4736"  # the request under investigation
U = "0af7651916cd43dd8448eb211c80319c"  # another request


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jl(**fields: Any) -> str:
    return json.dumps(fields)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rows(report: TraceReport) -> list[tuple[str, str, str, str]]:
    """(UTC time to the ms, service, level, message) of every timeline entry."""
    return [
        (
            (e.time.isoformat(timespec="milliseconds") if e.time else ""),
            e.service,
            e.level,
            e.message,
        )
        for e in report.timeline
    ]


# -- formats ---------------------------------------------------------------------------------


def test_json_lines_offsets_levels_nested_service(tmp_path: Path) -> None:
    log = write(
        tmp_path / "mixed.jsonl",
        jl(
            ts="2024-03-14T16:02:03.250+02:00",
            level=30,
            msg="start",
            trace_id=T,
            service={"name": "cart"},
        ),
        jl(
            time="2024-03-14T14:02:03.500Z",
            severity="CRITICAL",
            message="boom",
            traceId=T.upper(),
            app="cart",
        ),
        jl(ts=1710425000.5, level="err", msg="epoch seconds", trace_id=T, service="cart"),
        jl(ts="2024-03-14T14:02:04Z", level="info", msg="not ours", trace_id=U, service="cart"),
    )
    report = stitch_logs([log], trace_id=T)
    assert rows(report) == [
        ("2024-03-14T14:02:03.250+00:00", "cart", "INFO", "start"),
        ("2024-03-14T14:02:03.500+00:00", "cart", "FATAL", "boom"),
        ("2024-03-14T14:03:20.500+00:00", "cart", "ERROR", "epoch seconds"),
    ]
    assert report.files[0].format == "jsonl"
    assert report.files[0].records == 4 and report.files[0].records_for_id == 3


def test_logfmt_quotes_and_keys(tmp_path: Path) -> None:
    log = write(
        tmp_path / "payments.log",
        f'time=2024-03-14T14:00:01.5Z level=warning app=payment-service msg="charge slow, '
        f'\\"stripe\\" took 9s" trace_id={T}',
        f"time=2024-03-14T14:00:02Z level=info app=payment-service msg=ok trace_id={U}",
    )
    report = stitch_logs([log], trace_id=T)
    assert rows(report) == [
        (
            "2024-03-14T14:00:01.500+00:00",
            "payment-service",
            "WARN",
            'charge slow, "stripe" took 9s',
        ),
    ]
    assert report.files[0].format == "logfmt"
    assert report.files[0].service == "payment-service"
    assert report.files[0].service_from == "records"


def test_plain_text_iso_offset_and_tz_for_naive(tmp_path: Path) -> None:
    offset = write(
        tmp_path / "inventory.log",
        f"2024-03-14T19:32:03.100+05:30 INFO reserved 2 items X-Trace-Id: {T}",
    )
    naive = write(
        tmp_path / "users.log",
        f"2024-03-14 15:02:03,200 ERROR users.api: lookup failed correlation_id={T}",
    )
    report = stitch_logs([offset, naive], trace_id=T, tz_by_file={"users.log": "Europe/Berlin"})
    assert rows(report) == [
        ("2024-03-14T14:02:03.100+00:00", "inventory", "INFO", f"reserved 2 items X-Trace-Id: {T}"),
        (
            "2024-03-14T14:02:03.200+00:00",
            "users",
            "ERROR",
            f"users.api: lookup failed correlation_id={T}",
        ),
    ]
    assert [f.timezone for f in report.files] == ["offsets in the file", "Europe/Berlin (given)"]
    assert not any("read as UTC" in w for w in report.warnings)


def test_errors_only_pass_agrees_with_a_full_parse(tmp_path: Path) -> None:
    # The --around pass skips lines cheaply; whatever it skips must not be an error.
    text = write(
        tmp_path / "api.log",
        f"2024-03-14T14:00:00Z GET /x 3 ms trace_id={T}",  # "3" is no syslog level
        "2024-03-14T14:00:01Z INFO POST /pay 503 (12 ms) trace_id=t-503",
        "2024-03-14T14:00:02Z something SEVERE happened trace_id=t-severe",
        "2024-03-14T14:00:03Z INFO fine trace_id=t-fine",
    )
    logfmt = write(
        tmp_path / "pay.log",
        "ts=2024-03-14T14:00:04Z level=info msg=ok status=502 trace_id=t-502",
        "ts=2024-03-14T14:00:05Z level=info msg=ok status=200 trace_id=t-200",
    )
    report = stitch_logs([text, logfmt])
    found = [report.trace_id] + [c.id for c in report.others]
    assert found == ["t-503", "t-severe", "t-502"]


def test_naive_timestamps_without_tz_are_utc_and_the_report_says_so(tmp_path: Path) -> None:
    naive = write(tmp_path / "users.log", f"2024-03-14 15:02:03,200 INFO hello trace_id={T}")
    report = stitch_logs([naive], trace_id=T)
    assert report.timeline[0].time == at("2024-03-14T15:02:03.200Z")
    assert report.files[0].timezone == "no offset in the file: read as UTC"
    assert any(str(naive) in w and "read as UTC" in w for w in report.warnings)
    assert "read as UTC" in report.to_markdown()


def test_syslog_3164_year_from_other_files_and_zone(tmp_path: Path) -> None:
    other = write(
        tmp_path / "api.jsonl",
        jl(ts="2024-03-14T14:02:01.400Z", level="info", msg="calling ledger", trace_id=T),
    )
    syslog = write(
        tmp_path / "messages",
        f"<14>Mar 14 15:02:01 host-7 ledger[2211]: booking traceparent=00-{T}-00f067aa0ba902b7-01",
        f"<11>Mar 14 15:02:02 host-7 ledger[2211]: ERROR write failed request_id=r-1 trace_id={T}",
        f"<14>Mar 14 15:02:02 host-7 ledger[2211]: WARNING slow disk trace_id={T}",
    )
    report = stitch_logs([syslog, other], trace_id=T, tz_by_file={str(syslog): "Europe/Berlin"})
    # Stamped in whole seconds, the ledger's 14:02:01 may be any time in that second: it
    # sorts after the finer 14:02:01.400 of the service that called it.
    assert report.services == ["api", "ledger"]
    assert rows(report)[1:] == [
        (
            "2024-03-14T14:02:01.000+00:00",
            "ledger",
            "INFO",
            f"booking traceparent=00-{T}-00f067aa0ba902b7-01",
        ),
        (
            "2024-03-14T14:02:02.000+00:00",
            "ledger",
            "ERROR",
            f"write failed request_id=r-1 trace_id={T}",
        ),
        ("2024-03-14T14:02:02.000+00:00", "ledger", "WARN", f"slow disk trace_id={T}"),
    ]
    assert report.files[0].format == "syslog3164"
    assert any("no year; 2024 assumed" in w for w in report.warnings)


def test_syslog_5424_structured_data_and_priority(tmp_path: Path) -> None:
    log = write(
        tmp_path / "fraud.log",
        f'<165>1 2024-03-14T14:00:00.150Z host fraud 77 - [meta X-Trace-Id="{T}"] scoring',
        f'<163>1 2024-03-14T14:00:00.350Z host fraud 77 ID1 [meta trace_id="{T}"] model down',
        f'<165>1 2024-03-14T14:00:00.450Z host fraud 77 - [meta trace_id="{U}"] other',
    )
    report = stitch_logs([log], trace_id=T)
    assert rows(report) == [
        ("2024-03-14T14:00:00.150+00:00", "fraud", "INFO", "scoring"),
        ("2024-03-14T14:00:00.350+00:00", "fraud", "ERROR", "model down"),
    ]
    assert report.files[0].format == "syslog5424"


def test_access_log_status_is_the_level_and_ids_found_in_free_text(tmp_path: Path) -> None:
    log = write(
        tmp_path / "ingress-access.log",
        f'10.0.0.7 - - [14/Mar/2024:15:00:00 +0100] "POST /checkout HTTP/1.1" 502 157 "-" '
        f'"Mozilla/5.0" "{T}"',
        '10.0.0.8 - - [14/Mar/2024:14:00:01 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "probe"',
        f'10.0.0.7 - - [14/Mar/2024:14:00:02 +0000] "GET /cart HTTP/1.1" 404 9 "-" "x" "{T}"',
    )
    report = stitch_logs([log], trace_id=T)
    assert [(e.time, e.level, e.message.split('"')[0]) for e in report.timeline] == [
        (at("2024-03-14T14:00:00Z"), "ERROR", "POST /checkout HTTP/1.1 502 "),
        (at("2024-03-14T14:00:02Z"), "WARN", "GET /cart HTTP/1.1 404 "),
    ]
    assert (report.files[0].format, report.files[0].records) == ("access", 3)
    assert report.first_error is not None and report.first_error.where.endswith(".log:1")


def test_gzip_recognised_by_magic_bytes_not_extension(tmp_path: Path) -> None:
    body = jl(ts="2024-03-14T14:00:00Z", level="info", msg="zipped", trace_id=T) + "\n"
    disguised = tmp_path / "orders.log"
    disguised.write_bytes(gzip.compress(body.encode()))
    named = tmp_path / "shipping-service.log.2.gz"
    named.write_bytes(gzip.compress(body.replace("zipped", "named").encode()))
    xz = tmp_path / "billing.jsonl.xz"
    xz.write_bytes(lzma.compress(body.replace("zipped", "xz").encode()))
    bz = tmp_path / "tax.log.bz2"
    bz.write_bytes(bz2.compress(body.replace("zipped", "bz2").encode()))
    report = stitch_logs([disguised, named, xz, bz], trace_id=T)
    assert [e.message for e in report.timeline] == ["zipped", "named", "xz", "bz2"]
    assert [(f.format, f.compression, f.service) for f in report.files] == [
        ("jsonl", "gzip", "orders"),
        ("jsonl", "gzip", "shipping-service"),
        ("jsonl", "xz", "billing"),
        ("jsonl", "bzip2", "tax"),
    ]


def _span(name: str, span: str, parent: str, start_ms: int, end_ms: int, **extra: Any) -> dict:
    base = 1_710_424_800_000_000_000  # 2024-03-14T14:00:00Z in ns
    out = {
        "traceId": T,
        "spanId": span,
        "name": name,
        "startTimeUnixNano": str(base + start_ms * 1_000_000),
        "endTimeUnixNano": str(base + end_ms * 1_000_000),
        **extra,
    }
    if parent:
        out["parentSpanId"] = parent
    return out


def _resource(service: str, *spans: dict) -> dict:
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": list(spans)}],
    }


def test_otlp_json_trace_export(tmp_path: Path) -> None:
    doc = {
        "resourceSpans": [
            _resource("frontend", _span("GET /checkout", "a000000000000001", "", 0, 1200, kind=2)),
            _resource(
                "checkoutservice",
                _span("PlaceOrder", "b000000000000002", "a000000000000001", 10, 1190, kind=2),
                _span(
                    "charge",
                    "b000000000000003",
                    "b000000000000002",
                    20,
                    1020,
                    kind=3,
                    attributes=[
                        {"key": "peer.service", "value": {"stringValue": "paymentservice"}}
                    ],
                    status={"code": 2, "message": "context deadline exceeded"},
                ),
            ),
        ]
    }
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(doc, indent=2))
    report = stitch_logs([path], trace_id=T, known_edges={("frontend", "checkout-service")})
    assert report.files[0].format == "otlp"
    assert [(h.service, h.caller, h.evidence) for h in report.hops] == [
        ("frontend", None, "first"),
        ("checkoutservice", "frontend", "span"),
    ]
    assert report.hops[1].in_service_map is True  # checkoutservice is checkout-service
    assert report.first_error is not None
    assert report.first_error.service == "checkoutservice"
    assert report.first_error.time == at("2024-03-14T14:00:01.020Z")  # when the span ended
    assert "context deadline exceeded" in report.first_error.message
    gap = next(g for g in report.gaps if g.service == "paymentservice")
    assert gap.kind == "not_in_logs" and gap.caller == "checkoutservice"


def test_otlp_json_logs_export(tmp_path: Path) -> None:
    def log(ns: int, severity: int, body: str, trace: str) -> dict:
        return {
            "timeUnixNano": str(1_710_424_800_000_000_000 + ns),
            "severityNumber": severity,
            "body": {"stringValue": body},
            "traceId": trace,
        }

    doc = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]
                },
                "scopeLogs": [
                    {"logRecords": [log(0, 9, "added", T), log(5, 17, "failed", T),
                                    log(7, 17, "other", U)]}
                ],
            }
        ]
    }  # fmt: skip
    path = tmp_path / "logs.json"
    path.write_text(json.dumps(doc, indent=1))
    report = stitch_logs([path], trace_id=T)
    assert [(e.service, e.level, e.message) for e in report.timeline] == [
        ("cart", "INFO", "added"),
        ("cart", "ERROR", "failed"),
    ]


def test_otlp_json_lines_with_base64_ids(tmp_path: Path) -> None:
    b64 = base64.b64encode(bytes.fromhex(T)).decode()
    line = {"resourceSpans": [_resource("search", _span("query", "c000000000000001", "", 5, 9))]}
    line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = b64
    other = {"resourceSpans": [_resource("search", _span("query", "c000000000000002", "", 7, 8))]}
    other["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = U
    path = write(tmp_path / "spans.jsonl", json.dumps(line), json.dumps(other))
    report = stitch_logs([path], trace_id=T)
    assert report.files[0].format == "otlp-lines"
    assert [(e.service, e.span_id) for e in report.timeline] == [("search", "c000000000000001")]


# -- ids and services ------------------------------------------------------------------------


def test_traceparent_groups_by_its_trace_id(tmp_path: Path) -> None:
    a = write(
        tmp_path / "gateway.jsonl",
        jl(
            ts="2024-03-14T14:00:00.000Z",
            msg="in",
            headers={"traceparent": f"00-{T}-00f067aa0ba902b7-01"},
        ),
        jl(ts="2024-03-14T14:00:00.100Z", msg="other", traceparent=f"00-{U}-00f067aa0ba902b7-01"),
    )
    b = write(tmp_path / "api.log", f"2024-03-14T14:00:00.050Z INFO handled trace_id={T}")
    # The user pastes a traceparent with another span id: the trace id is what groups.
    report = stitch_logs([a, b], trace_id=f"00-{T}-1111111111111111-00")
    assert report.trace_id == T
    assert [(e.service, e.message) for e in report.timeline] == [
        ("gateway", "in"),
        ("api", f"handled trace_id={T}"),
    ]


def test_linked_request_id_brings_records_that_carry_only_it(tmp_path: Path) -> None:
    edge = write(
        tmp_path / "edge.jsonl",
        jl(ts="2024-03-14T14:00:00.000Z", msg="accepted", request_id="req-9", trace_id=T),
        jl(ts="2024-03-14T14:00:00.900Z", msg="access log", request_id="req-9"),
        jl(ts="2024-03-14T14:00:01.000Z", msg="batch", request_id="batch-1", trace_id=U),
    )
    report = stitch_logs([edge], trace_id=T)
    assert report.linked_ids == ("req-9",)
    assert [e.message for e in report.timeline] == ["accepted", "access log"]


def test_service_from_records_or_file_name(tmp_path: Path) -> None:
    named = tmp_path / "payment-service-2024-03-14.log.1.gz"
    named.write_bytes(gzip.compress(f"2024-03-14T14:00:00Z INFO charge trace_id={T}\n".encode()))
    own = write(
        tmp_path / "app.log",
        jl(ts="2024-03-14T14:00:01Z", msg="x", trace_id=T, **{"service.name": "ledger"}),
    )
    report = stitch_logs([named, own], trace_id=T)
    assert [(f.service, f.service_from) for f in report.files] == [
        ("payment-service", "file name"),
        ("ledger", "records"),
    ]
    assert [e.service for e in report.timeline] == ["payment-service", "ledger"]
    assert service_from_filename("checkout_service.20240314T1030.ndjson.xz") == "checkout_service"
    assert {
        service_key(n)
        for n in ("checkout", "checkoutservice", "checkout-service", "Checkout_Service")
    } == {"checkout"}


# -- findings ------------------------------------------------------------------------------


def _checkout_logs(tmp_path: Path) -> list[Path]:
    """checkout calls inventory and payment; payment calls stripe and goes quiet."""
    checkout = write(
        tmp_path / "checkout-service.jsonl",
        jl(ts="2024-03-14T14:00:00.000Z", level="info", msg="POST /checkout", trace_id=T),
        jl(
            ts="2024-03-14T14:00:00.010Z", level="info", msg="calling inventory-service", trace_id=T
        ),
        jl(
            ts="2024-03-14T14:00:00.100Z",
            level="info",
            msg="reserve",
            url="http://inventory-service:8080/reservations",
            trace_id=T,
        ),
        jl(ts="2024-03-14T14:00:00.200Z", level="info", msg="calling payment-service", trace_id=T),
        jl(ts="2024-03-14T14:00:00.300Z", level="info", msg="calling fraud-service", trace_id=T),
        jl(
            ts="2024-03-14T14:00:05.200Z",
            level="warn",
            msg="payment-service timed out after 5s",
            trace_id=T,
        ),
        jl(
            ts="2024-03-14T14:00:05.300Z",
            level="info",
            msg="POST /checkout 503",
            trace_id=T,
            status=503,
        ),
        jl(ts="2024-03-14T14:00:06.000Z", level="error", msg="later error", trace_id=T),
    )
    inventory = write(
        tmp_path / "inventory-service.log",
        f"2024-03-14T14:00:00.020Z INFO reserved X-Trace-Id: {T}",
    )
    payment = write(
        tmp_path / "payment-service.log",
        f"ts=2024-03-14T14:00:00.210Z level=info msg=charge trace_id={T}",
        f"ts=2024-03-14T14:00:00.220Z level=info msg=stripe url=https://api.stripe.com/v1 "
        f"trace_id={T}",
    )
    fraud = write(
        tmp_path / "fraud-service.log",
        f"ts=2024-03-14T14:00:00.100Z level=info msg=scored trace_id={U}",
    )
    return [checkout, inventory, payment, fraud]


def test_first_error_counts_a_5xx_status(tmp_path: Path) -> None:
    report = stitch_logs(_checkout_logs(tmp_path), trace_id=T)
    assert report.first_error is not None
    assert (report.first_error.service, report.first_error.message) == (
        "checkout-service",
        "POST /checkout 503",
    )
    assert report.first_error.where.endswith("checkout-service.jsonl:7")


def test_gaps_called_but_never_answered_and_silence(tmp_path: Path) -> None:
    report = stitch_logs(_checkout_logs(tmp_path), trace_id=T)
    gaps = {(g.kind, g.service, g.caller) for g in report.gaps}
    assert gaps == {
        ("no_answer", "fraud-service", "checkout-service"),  # its logs are here, not for T
        ("not_in_logs", "stripe", "payment-service"),
        ("silence", "payment-service", "checkout-service"),
    }
    silence = next(g for g in report.gaps if g.kind == "silence")
    assert silence.since == at("2024-03-14T14:00:00.220Z")
    assert silence.at == at("2024-03-14T14:00:05.200Z")
    assert silence.until is None
    assert silence.evidence.endswith("checkout-service.jsonl:6")
    no_answer = next(g for g in report.gaps if g.kind == "no_answer")
    assert no_answer.since == at("2024-03-14T14:00:00.300Z")


def test_hop_order_against_the_service_map(tmp_path: Path) -> None:
    edges = {("checkout", "inventory_service"), ("checkoutservice", "payment")}
    report = stitch_logs(_checkout_logs(tmp_path), trace_id=T, known_edges=edges)
    assert [(h.service, h.caller, h.evidence, h.in_service_map) for h in report.hops] == [
        ("checkout-service", None, "first", None),
        ("inventory-service", "checkout-service", "call", True),
        ("payment-service", "checkout-service", "call", True),
    ]
    missing = stitch_logs(
        _checkout_logs(tmp_path), trace_id=T, known_edges={("checkout", "inventory")}
    )
    flagged = [(h.caller, h.service) for h in missing.hops if h.in_service_map is False]
    assert flagged == [("checkout-service", "payment-service")]
    assert "edge not in the service map" in missing.to_markdown()
    unmapped = stitch_logs(_checkout_logs(tmp_path), trace_id=T)
    assert all(h.in_service_map is None for h in unmapped.hops)


def test_hop_without_call_evidence_falls_back_to_order(tmp_path: Path) -> None:
    a = write(tmp_path / "a.log", f"2024-03-14T14:00:00.000Z INFO start trace_id={T}")
    b = write(tmp_path / "b.log", f"2024-03-14T14:00:00.100Z INFO work trace_id={T}")
    c = write(tmp_path / "c.log", f"2024-03-14T14:00:00.200Z INFO more trace_id={T}")
    report = stitch_logs([c, a, b], trace_id=T, known_edges={("a", "b")})
    assert [(h.caller, h.service, h.evidence, h.in_service_map) for h in report.hops] == [
        (None, "a", "first", None),
        ("a", "b", "order", True),
        ("b", "c", "order", False),
    ]


def test_around_picks_the_id_whose_first_error_is_earliest(tmp_path: Path) -> None:
    log = write(
        tmp_path / "api.jsonl",
        jl(ts="2024-03-14T13:00:00Z", level="error", msg="long before", trace_id="early-1"),
        jl(ts="2024-03-14T14:00:00Z", level="info", msg="start", trace_id="b-2"),
        jl(ts="2024-03-14T14:01:00Z", level="error", msg="second", trace_id="b-2"),
        jl(ts="2024-03-14T14:00:30Z", level="error", msg="first", trace_id="a-1"),
        jl(ts="2024-03-14T14:02:00Z", level="error", msg="again", trace_id="a-1"),
        jl(ts="2024-03-14T14:03:00Z", level="info", msg="GET / 502", trace_id="c-3"),
        jl(ts="2024-03-14T14:04:00Z", level="error", msg="no id at all"),
    )
    report = stitch_logs([log], around=at("2024-03-14T14:02:00Z"), window=timedelta(minutes=5))
    assert report.selected_by == "around"
    assert report.trace_id == "a-1"
    assert [e.message for e in report.timeline] == ["first", "again"]
    assert [(c.id, c.first_error.message, c.errors) for c in report.others] == [
        ("b-2", "second", 1),
        ("c-3", "GET / 502", 1),
    ]
    assert report.errors_without_id == 1
    whole = stitch_logs([log])  # no time given: the whole files are the window
    assert whole.trace_id == "early-1"


def test_malformed_lines_reported_by_file_and_line_and_skipped(tmp_path: Path) -> None:
    good = jl(ts="2024-03-14T14:00:00Z", level="info", msg="ok", trace_id=T)
    lines = [good, '{"ts": "2024-03-14T14:00:01Z", "msg": "cut', "garbage"]
    lines += [f'{{"broken": {i}' for i in range(6)] + [good.replace("ok", "still ok")]
    log = write(tmp_path / "api.jsonl", *lines)
    fmt = write(
        tmp_path / "pay.log",
        f"ts=2024-03-14T14:00:02Z level=error msg=fine trace_id={T}",
        f'ts=2024-03-14T14:00:03Z level=info msg="unterminated trace_id={T}',
    )
    for report in (stitch_logs([log, fmt], trace_id=T), stitch_logs([log, fmt])):
        api, pay = report.files
        assert [e.message for e in report.timeline] == ["ok", "still ok", "fine"]
        assert api.malformed == 8 and api.records == 2
        assert [n for n, _, _ in api.malformed_lines] == [2, 3, 4, 5, 6]
        assert "truncated" in api.malformed_lines[0][1]
        assert (pay.malformed, [n for n, _, _ in pay.malformed_lines]) == (1, [2])
        md = report.to_markdown()
        assert f"`{log}:2`" in md and f"`{log}`: 3 more" in md and f"`{fmt}:2`" in md


def test_stack_trace_lines_stay_with_their_record(tmp_path: Path) -> None:
    log = write(
        tmp_path / "users.log",
        f"2024-03-14T14:00:00.000Z ERROR lookup failed trace_id={T}",
        "Traceback (most recent call last):",
        '  File "users/db.py", line 41, in get_user',
        "psycopg.OperationalError: server closed the connection unexpectedly",
        f"2024-03-14T14:00:01.000Z INFO next trace_id={U}",
        "  indented line of the other record",
    )
    report = stitch_logs([log], trace_id=T)
    assert report.files[0].malformed == 0
    assert report.timeline[0].extra == (
        "Traceback (most recent call last):",
        '  File "users/db.py", line 41, in get_user',
        "psycopg.OperationalError: server closed the connection unexpectedly",
    )


def test_unreadable_files_are_reported_and_the_others_stitched(tmp_path: Path) -> None:
    good = write(tmp_path / "api.jsonl", jl(ts="2024-03-14T14:00:00Z", msg="ok", trace_id=T))
    missing = tmp_path / "nope.log"
    binary = tmp_path / "core.dump"
    binary.write_bytes(bytes(range(256)) * 64)
    truncated = tmp_path / "old.log.gz"
    body = [jl(ts="2024-03-14T14:00:01Z", msg="zip", trace_id=T)]
    body += [jl(ts="2024-03-14T14:00:02Z", msg=f"other {i}", trace_id=U) for i in range(500)]
    data = gzip.compress("\n".join(body).encode())
    truncated.write_bytes(data[: len(data) // 2])
    prose = write(tmp_path / "notes.txt", "Remember to rotate the logs.", "Thanks!")
    report = stitch_logs([missing, good, binary, truncated, prose], trace_id=T)
    assert [e.message for e in report.timeline] == ["ok", "zip"]
    errors = {Path(f.path).name: f.error for f in report.files}
    assert errors["api.jsonl"] is None
    assert "cannot read" in (errors["nope.log"] or "")
    assert "binary" in (errors["core.dump"] or "")
    assert "read error after line" in (errors["old.log.gz"] or "")
    assert "format not recognised" in (errors["notes.txt"] or "")
    assert report.to_json()["counts"]["unreadable"] == 4


def test_bad_zone_and_bad_id_are_kb_errors(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", f"2024-03-14 14:00:00 INFO x trace_id={T}")
    with pytest.raises(KBError, match="Mars/Olympus"):
        stitch_logs([log], trace_id=T, tz_by_file={"a.log": "Mars/Olympus"})
    with pytest.raises(KBError, match="not a usable"):
        stitch_logs([log], trace_id="null")
    report = stitch_logs([log], trace_id=T, tz_by_file={"b.log": "UTC"})
    assert any("--tz b.log=UTC: no such file" in w for w in report.warnings)


def test_option_parsers_for_the_command_line() -> None:
    assert parse_window("10m") == timedelta(minutes=10)
    assert parse_window("90") == timedelta(seconds=90)
    assert parse_window("1.5h") == timedelta(minutes=90)
    assert parse_when("2024-03-14T15:02:00+01:00") == at("2024-03-14T14:02:00Z")
    assert parse_when("2024-03-14T14:02:00") == at("2024-03-14T14:02:00Z")
    assert parse_when("2024-03-14 14:02") == at("2024-03-14T14:02:00Z")
    assert parse_when("1710424920") == at("2024-03-14T14:02:00Z")
    assert parse_tz_options(["users.log=Europe/Berlin", "a=b.log=UTC"]) == {
        "users.log": "Europe/Berlin",
        "a=b.log": "UTC",
    }
    for bad in (
        lambda: parse_window("soon"),
        lambda: parse_when("yesterday"),
        lambda: parse_tz_options(["users.log"]),
        lambda: parse_tz_options(["users.log=Mars/Olympus"]),
    ):
        with pytest.raises(KBError):
            bad()


def test_json_shape_is_stable(tmp_path: Path) -> None:
    data = stitch_logs(_checkout_logs(tmp_path), trace_id=T).to_json()
    assert list(data) == [
        "trace_id",
        "selected_by",
        "around",
        "window_seconds",
        "linked_ids",
        "first_error",
        "services",
        "hops",
        "gaps",
        "timeline",
        "timeline_dropped",
        "other_ids",
        "other_ids_dropped",
        "errors_without_id",
        "files",
        "counts",
        "warnings",
    ]
    assert data["timeline"][0] == {
        "time": "2024-03-14T14:00:00.000Z",
        "service": "checkout-service",
        "level": "INFO",
        "message": "POST /checkout",
        "file": str(tmp_path / "checkout-service.jsonl"),
        "line": 1,
    }
    assert data["counts"] == {
        "files": 4,
        "unreadable": 0,
        "records": 12,
        "records_for_id": 11,
        "malformed": 0,
    }
    assert json.loads(json.dumps(data)) == data


# -- the demo organisation's incident ------------------------------------------------------


def _demo(org: Any) -> tuple[dict, list[Path], set[tuple[str, str]]]:
    truth = org.manifest["logs"]
    paths = [org.root / f["path"] for f in truth["files"].values()]
    m = org.manifest
    edges = {(d["from"], d["to"]) for d in m["declared_dependencies"] if d["kind"] == "sync_http"}
    edges |= {(d["from"], d["to"]) for d in m["former_dependencies"]}
    return truth, paths, edges


def test_demo_incident_logs_stitch_into_the_story(demo_org: Any) -> None:
    truth, paths, edges = _demo(demo_org)
    local = truth["local_time"]
    report = stitch_logs(
        paths,
        trace_id=truth["trace_id"],
        tz_by_file={local["path"].rsplit("/", 1)[1]: local["tz"]},
        known_edges=edges,
    )
    assert report.services == truth["services_in_order"]
    assert [h.caller for h in report.hops[1:]] == ["order-service"] * 3
    assert all(h.in_service_map for h in report.hops[1:])
    first = truth["first_error"]
    assert report.first_error is not None
    assert report.first_error.service == first["service"]
    assert report.first_error.time == at(first["time"])
    assert report.first_error.where == f"{demo_org.root / first['path']}:{first['line']}"
    assert first["message"] in report.first_error.message
    gap = truth["gap"]
    silence = next(g for g in report.gaps if g.kind == gap["kind"])
    assert (silence.service, silence.caller) == (gap["service"], gap["caller"])
    assert silence.since == at(gap["since"])
    assert silence.at == at(gap["timeout_at"])
    assert truth["request_id"] in report.linked_ids
    per_service = {f.service: f.records_for_id for f in report.files}
    assert per_service == truth["records_for_trace"]
    bad = {(Path(f.path).name, n) for f in report.files for n, _, _ in f.malformed_lines}
    assert bad == {(Path(m["path"]).name, m["line"]) for m in truth["malformed"]}
    assert not any("read as UTC" in w for w in report.warnings)
    formats = {f.service: (f.format, f.compression) for f in report.files}
    assert formats == {s: (f["format"], f["compression"]) for s, f in truth["files"].items()}


def test_demo_incident_without_tz_is_out_of_order_and_warned(demo_org: Any) -> None:
    truth, paths, _ = _demo(demo_org)
    report = stitch_logs(paths, trace_id=truth["trace_id"])
    local = truth["local_time"]["path"].rsplit("/", 1)[1]
    assert any(local in w and "read as UTC" in w for w in report.warnings)
    assert report.services[-1] == "user-service"  # an hour late: the zone matters
    assert report.services != truth["services_in_order"]


def test_demo_incident_around_the_page_finds_the_failing_checkout(demo_org: Any) -> None:
    truth = demo_org.manifest["logs"]
    local = truth["local_time"]
    report = stitch_logs(
        [demo_org.root / truth["dir"]],
        around=at("2024-03-14T14:02:31Z"),  # the PagerDuty page
        window=timedelta(minutes=5),
        tz_by_file={local["path"].rsplit("/", 1)[1]: local["tz"]},
    )
    assert report.trace_id == truth["trace_id"]
    assert len(report.others) == truth["failed_checkouts"] - 1
    assert report.errors_without_id == 1  # user-service lost its database connection
