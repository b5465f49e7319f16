"""The Slack export connector on a crafted export (directory and zip), damaged input included."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fakes.slack_api import sample_workspace, ts, write_export
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.slack_common import (
    ChannelInfo,
    Directory,
    SlackSite,
    SlackUser,
    message_chunks,
    read_message,
    render_markup,
)
from connectors.slack_export import SlackExportConnector, parse_day
from connectors.slack_incidents import channel_records, incident_channel_kind
from kb.app import KB
from kb.contract.chunking import MAX_CHUNK_CHARS
from kb.contract.connector import SourceConfig
from kb.contract.records import (
    Checkpoint,
    DocumentRecord,
    Failure,
    IncidentRecord,
    PersonRecord,
    Record,
    WisdomRecord,
)
from kb.errors import SourceError
from kb.settings import Settings
from kb.store.models import Incident, Person, Severity, WisdomKind


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """The sample workspace as an unzipped export."""
    return write_export(sample_workspace(), tmp_path / "export")


def run(path: Path, cursor: dict[str, Any] | None = None, **options: Any) -> list[Record]:
    source = SourceConfig("slack-export", "acme", str(path), options)
    return list(SlackExportConnector(source, Settings(home=path.parent / "kb")).load(cursor or {}))


T = TypeVar("T")


def of_type(records: Iterable[Record], kind: type[T]) -> list[T]:
    return [r for r in records if isinstance(r, kind)]


def docs(records: Iterable[Record]) -> dict[str, DocumentRecord]:
    return {d.external_id: d for d in of_type(records, DocumentRecord)}


def at(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def test_one_document_per_thread_and_per_channel_day(export: Path) -> None:
    records = run(export)
    found = docs(records)
    parent = ts("2024-03-14 23:50")
    assert set(found) == {
        "slack:acme:C01:day:2024-03-14",
        f"slack:acme:C01:{parent}",
        "slack:acme:C01:day:2024-03-15",
        f"slack:acme:C01:{ts('2024-03-15 11:00')}",
        f"slack:acme:C02:{ts('2024-03-16 02:00')}",
        "slack:acme:C02:day:2024-03-16",
        f"slack:acme:C02:{ts('2024-03-16 12:00')}",
        "slack:acme:C03:day:2024-03-20",
        "slack:acme:C03:day:2024-03-21",
    }
    # The thread spans two day files; the broadcast reply is in it once, not in the day doc.
    thread = found[f"slack:acme:C01:{parent}"]
    assert thread.body == (
        "carol (2024-03-14 23:50 UTC): Anyone seen flaky tests in checkout-service?\n"
        "They fail on CI only\n"
        "Alice Adams (2024-03-14 23:55 UTC): yes, @U99 looked at it\n"
        "Bob Brown (2024-03-15 00:10 UTC): it was clock skew on the CI runners"
    )
    assert thread.title == "#general: Anyone seen flaky tests in checkout-service?"
    assert thread.url == f"https://acme.slack.com/archives/C01/p{parent.replace('.', '')}"
    assert (thread.author_name, thread.created_at, thread.updated_at) == (
        "carol",
        at("2024-03-14 23:50"),
        at("2024-03-15 00:10"),
    )
    assert thread.meta["participants"] == ["carol", "Alice Adams", "Bob Brown"]
    assert (thread.meta["reply_count"], thread.meta["thread_ts"]) == (2, parent)
    assert "clock skew" not in found["slack:acme:C01:day:2024-03-15"].body
    # Joins are noise; the channel topic is metadata, not text.
    assert not any("has joined" in d.body or "has left" in d.body for d in found.values())
    assert not any("set the channel topic" in d.body for d in found.values())
    assert found["slack:acme:C03:day:2024-03-20"].meta["topic"] == "SEV1: checkout down"


def test_markup_files_bots_and_tombstones_read_as_text(export: Path) -> None:
    found = docs(run(export))
    day = found["slack:acme:C01:day:2024-03-14"]
    assert day.body == (
        "Alice Adams (2024-03-14 09:00 UTC): Morning @here — deploy of job 42 "
        "(https://ci.acme.io/job/42) today & tomorrow, see https://wiki.acme.io/deploys\n"
        "Bob Brown (2024-03-14 09:10 UTC): see #incidents and #inc-2024-03-checkout-down, "
        "mail ops@acme.io, ask @Alice Adams if 1 < 2"
    )
    assert day.title.startswith("#general 2024-03-14: Morning @here")
    assert day.meta["date"] == "2024-03-14"
    files_and_bot = found["slack:acme:C01:day:2024-03-15"].body
    assert "here is the trace\n[files: trace.log, heap.png]" in files_and_bot
    assert "Deploys (2024-03-15 12:00 UTC): Deploy\nDeployed order-service v2.3.1" in files_and_bot
    gone = found[f"slack:acme:C01:{ts('2024-03-15 11:00')}"]
    assert gone.body.splitlines()[0].endswith("(message deleted)")
    assert gone.title == "#general: (message deleted)"
    assert gone.author_name is None
    alert = found[f"slack:acme:C02:{ts('2024-03-16 02:00')}"]
    assert alert.author_name == "PagerDuty"
    assert "HighLatency\np99=2.4s on payment-service" in alert.body
    assert "latency alert" not in alert.body  # the fallback only stands in for missing text


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<@U01> and <@U77|old>", "@Alice Adams and @old"),
        ("<@U99>", "@U99"),
        ("<#C0123|incidents> <#C02>", "#incidents #general"),
        ("<!here> <!channel> <!subteam^S1|@oncall>", "@here @channel @oncall"),
        ("<https://x.io/a?b=1&amp;c=2|the runbook>", "the runbook (https://x.io/a?b=1&c=2)"),
        ("<https://x.io> <https://x.io|x.io>", "https://x.io https://x.io"),
        ("<mailto:a@b.io|a@b.io> <mailto:c@d.io>", "a@b.io c@d.io"),
        ("a &lt;b&gt; &amp;&amp; c", "a <b> && c"),
    ],
)
def test_markup_renders_readably(markup: str, text: str) -> None:
    directory = Directory({"U01": SlackUser("U01", "Alice Adams")}, {"C02": "general"})
    assert render_markup(markup, directory) == text


def test_edited_messages_read_as_their_current_text(export: Path) -> None:
    day_file = export / "general" / "2024-03-14.json"
    messages = json.loads(day_file.read_text())
    original = ts("2024-03-14 09:10")
    messages.append(
        {"type": "message", "subtype": "message_changed", "ts": ts("2024-03-14 09:30", 1),
         "message": {"type": "message", "user": "U02", "ts": original,
                     "text": "see the new runbook", "edited": {"user": "U02"}}}
    )  # fmt: skip
    day_file.write_text(json.dumps(messages))
    body = docs(run(export))["slack:acme:C01:day:2024-03-14"].body
    assert "Bob Brown (2024-03-14 09:10 UTC): see the new runbook" in body
    assert "mail ops@acme.io" not in body
    assert body.count("Bob Brown") == 1


def test_permalinks_of_replies_and_a_workspace_url(export: Path) -> None:
    site = SlackSite("acme", "https://acme.enterprise.slack.com/")
    assert site.permalink("C01", "1710460200.000100") == (
        "https://acme.enterprise.slack.com/archives/C01/p1710460200000100"
    )
    assert site.permalink("C01", "1710460500.000000", "1710460200.000100") == (
        "https://acme.enterprise.slack.com/archives/C01/p1710460500000000"
        "?thread_ts=1710460200.000100&cid=C01"
    )
    # Replies whose parent is older than the export: the thread links to its first reply.
    orphan = [{"type": "message", "user": "U01", "ts": ts("2024-03-17 08:00"),
               "thread_ts": ts("2024-01-01 08:00"), "text": "still happening"}]  # fmt: skip
    (export / "general" / "2024-03-17.json").write_text(json.dumps(orphan))
    found = docs(run(export, workspace_url="https://acme.enterprise.slack.com"))
    doc = found[f"slack:acme:C01:{ts('2024-01-01 08:00')}"]
    assert doc.url == (
        f"https://acme.enterprise.slack.com/archives/C01/p{ts('2024-03-17 08:00').replace('.', '')}"
        f"?thread_ts={ts('2024-01-01 08:00')}&cid=C01"
    )


def test_incident_channel_becomes_one_incident_with_its_known_issue(export: Path) -> None:
    records = run(export)
    incidents = {i.external_id: i for i in of_type(records, IncidentRecord)}
    incident = incidents["incident:INC-2024-03"]
    assert incident.title == "SEV1: checkout down"
    assert (incident.started_at, incident.ended_at) == (
        at("2024-03-20 14:01"),
        at("2024-03-20 14:40"),
    )
    assert incident.severity is Severity.CRITICAL
    assert incident.services == ("checkout-service", "order-service", "payment-service")
    assert incident.root_cause == "Stripe latency spike and no timeout on the payment-service call"
    assert incident.resolution == "2s timeout and a circuit breaker in the payment-service client"
    assert incident.channel == "inc-2024-03-checkout-down"
    assert incident.meta["participants"] == ["Alice Adams", "Bob Brown", "carol"]
    assert incident.meta["message_count"] == 5
    wisdom = {w.external_id: w for w in of_type(records, WisdomRecord)}
    known = wisdom["incident:INC-2024-03#known-issue"]
    assert known.kind is WisdomKind.KNOWN_ISSUE
    assert known.service == "checkout-service"
    assert known.document_external_id == "slack:acme:C03:day:2024-03-21"
    assert (known.said_by_name, known.created_at) == ("Alice Adams", at("2024-03-21 10:00"))
    assert "Root cause: Stripe latency spike" in known.body
    assert known.body.startswith("Symptom: checkout-service returns 502s")
    # Documents come before the wisdom that points at them (one batch, same checkpoint).
    order = [getattr(r, "external_id", None) for r in records]
    assert order.index("slack:acme:C03:day:2024-03-21") < order.index(known.external_id)


def test_shared_incidents_channel_gives_one_incident_per_alert_thread(export: Path) -> None:
    day = export / "incidents" / "2024-03-16.json"
    messages = json.loads(day.read_text())
    second = ts("2024-03-16 18:00")
    messages += [
        {"type": "message", "user": "U02", "ts": second, "thread_ts": second, "reply_count": 1,
         "text": "search-service 5xx spike, tracking as INC-2024-07 (sev 3)"},
        {"type": "message", "user": "U01", "ts": ts("2024-03-16 18:30"), "thread_ts": second,
         "text": "the cause was a bad index rebuild, mitigation: reverted the alias"},
    ]  # fmt: skip
    day.write_text(json.dumps(messages))
    records = run(export)
    shared = {
        i.external_id: i for i in of_type(records, IncidentRecord) if i.channel == "incidents"
    }
    alert = ts("2024-03-16 02:00")
    assert set(shared) == {f"slack:acme:C02:{alert}#incident", "incident:INC-2024-07"}  # no lunch
    paged = shared[f"slack:acme:C02:{alert}#incident"]
    assert paged.title == "[FIRING] SEV2 payment-service p99 latency above 2s"
    assert paged.severity is Severity.HIGH
    assert paged.services == ("payment-service", "order-service")
    assert paged.root_cause == "connection pool exhausted after an order-service retry storm"
    assert paged.resolution == "raised the pool to 50 and capped retries"
    assert paged.ended_at == at("2024-03-16 02:35")
    assert paged.meta["alerts_from"] == ["PagerDuty"]
    searched = shared["incident:INC-2024-07"]
    assert searched.severity is Severity.MEDIUM
    assert searched.root_cause == "a bad index rebuild, mitigation: reverted the alias"
    assert searched.resolution == "reverted the alias"
    assert incident_channel_kind("incidents") == "shared"
    assert incident_channel_kind("inc_42_db") == incident_channel_kind("incident-x") == "channel"
    assert incident_channel_kind("since-then") is None


def test_people_deactivation_bots_and_activity_span(export: Path) -> None:
    records = run(export)
    listed = {p.slack_id: p for p in of_type(records, PersonRecord) if p.seen_at is None}
    assert listed["U01"].emails == ("alice@acme.io",) and listed["U01"].name == "Alice Adams"
    assert listed["U02"].name == "Bob Brown"  # profile.real_name when real_name is absent
    assert listed["U03"].left_at == at("2024-03-20 14:40")  # deactivated: last message seen
    # Deactivated without a message: no evidence of when (`updated` is not evidence).
    assert listed["U04"].left_at is None and listed["U05"].left_at is None
    assert listed["U01"].left_at is None
    assert listed["U06"].is_bot and listed["USLACKBOT"].is_bot and not listed["U01"].is_bot
    seen = [p.seen_at for p in of_type(records, PersonRecord) if p.slack_id == "U01" and p.seen_at]
    assert min(seen) == at("2024-03-14 09:00") and max(seen) == at("2024-03-21 10:00")
    bots = {p.name for p in of_type(records, PersonRecord) if p.is_bot and p.seen_at}
    assert bots == {"PagerDuty", "Deploys"}


def test_chunks_hold_whole_messages_and_cut_only_a_giant_one() -> None:
    blocks = [f"Alice ({i}): " + "word " * 40 for i in range(12)] + ["Bob (x): " + "z" * 2000]
    chunks = message_chunks("#t", blocks)
    assert all(len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
    whole = [c for c in chunks if "z" not in c.text]
    assert len(whole) > 1 and all(c.text.startswith("Alice (") for c in whole)
    assert sum(c.text.count("Alice (") for c in whole) == 12
    assert "".join(c.text for c in chunks if "zzz" in c.text).count("z") == 2000
    assert chunks[-1].end_line == len(blocks)


def test_zip_reads_like_the_directory(export: Path, tmp_path: Path) -> None:
    archive = tmp_path / "acme.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(export.rglob("*.json")):
            zf.write(path, f"Acme Slack export Mar 1 2024/{path.relative_to(export)}")
    from_zip, from_dir = run(archive), run(export)
    assert docs(from_zip) == docs(from_dir)
    assert of_type(from_zip, IncidentRecord) == of_type(from_dir, IncidentRecord)
    assert not of_type(from_zip, Failure)


def test_second_run_skips_unchanged_channels_and_rereads_a_changed_one(export: Path) -> None:
    first = run(export)
    cursor = of_type(first, Checkpoint)[-1].cursor
    assert set(cursor["channels"]) == {"general", "incidents", "inc-2024-03-checkout-down"}
    assert run(export, cursor) == [Checkpoint(cursor)]
    day = export / "incidents" / "2024-03-16.json"
    day.write_text(
        json.dumps(
            [*json.loads(day.read_text()),
             {"type": "message", "user": "U01", "ts": ts("2024-03-16 20:00"), "text": "quiet now"}]
        )
    )  # fmt: skip
    again = run(export, cursor)
    assert {d.meta["channel"] for d in of_type(again, DocumentRecord)} == {"incidents"}
    assert "quiet now" in docs(again)["slack:acme:C02:day:2024-03-16"].body
    final = of_type(again, Checkpoint)[-1].cursor
    assert final["channels"]["incidents"] != cursor["channels"]["incidents"]
    assert final["channels"]["general"] == cursor["channels"]["general"]


def test_truncated_zip_is_reported_and_what_survives_is_read(export: Path, tmp_path: Path) -> None:
    archive = tmp_path / "acme.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(export.rglob("*.json"), key=lambda p: (p.parent != export, str(p))):
            zf.write(path, path.relative_to(export).as_posix())
    data = archive.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: int(len(data) * 0.7)])  # a partial download: no central directory
    records = run(cut)
    failures = of_type(records, Failure)
    assert failures[0].where == str(cut) and "truncated" in failures[0].message
    found = docs(records)
    assert "slack:acme:C01:day:2024-03-14" in found  # users.json and #general survived
    assert "Alice Adams" in found["slack:acme:C01:day:2024-03-14"].body
    assert isinstance(records[-1], Checkpoint)
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04" + b"\x00" * 10)
    records = run(garbage)
    assert [type(r) for r in records] == [Failure, Checkpoint]
    assert "nothing could be recovered" in of_type(records, Failure)[0].message


def test_malformed_day_file_is_reported_with_line_and_skipped(export: Path) -> None:
    (export / "general" / "2024-03-15.json").write_text(
        '[\n  {"ts": "1710496800.000000",\n  oops\n]'
    )
    records = run(export)
    failure = next(f for f in of_type(records, Failure) if "general" in f.where)
    assert failure.where == "general/2024-03-15.json line 3 col 3"
    assert "invalid JSON" in failure.message
    found = docs(records)
    assert "slack:acme:C01:day:2024-03-14" in found and "slack:acme:C01:day:2024-03-15" not in found
    assert "slack:acme:C02:day:2024-03-16" in found  # the run went on


def test_odd_entries_are_reported_by_index(export: Path) -> None:
    day = export / "general" / "2024-03-14.json"
    day.write_text(json.dumps([*json.loads(day.read_text()), 42, {"text": "no ts"}, ["x"]]))
    failures = {f.where: f.message for f in of_type(run(export), Failure)}
    n = len(json.loads(day.read_text())) - 3
    assert "not a message object (got a number)" in failures[f"general/2024-03-14.json message {n}"]
    assert "without a valid ts" in failures[f"general/2024-03-14.json message {n + 1}"]
    assert "got an array" in failures[f"general/2024-03-14.json message {n + 2}"]


def test_missing_users_json_goes_on_with_raw_ids(export: Path) -> None:
    (export / "users.json").unlink()
    records = run(export)
    assert any(
        f.where.endswith("users.json") and "missing" in f.message for f in of_type(records, Failure)
    )
    body = docs(records)["slack:acme:C01:day:2024-03-14"].body
    assert body.startswith("U01 (2024-03-14 09:00 UTC): Morning")
    assert "ask @U01 if" in body


def test_a_path_that_is_no_export_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        run(tmp_path / "nope.zip")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(SourceError, match="neither a zip file nor a directory"):
        run(text)


def test_dms_are_skipped_unless_asked(export: Path) -> None:
    (export / "dms.json").write_text(json.dumps([{"id": "D01", "members": ["U01", "U02"]}]))
    (export / "D01").mkdir()
    shutil.copy(export / "general" / "2024-03-14.json", export / "D01" / "2024-03-14.json")
    assert not any(d.meta["channel_id"] == "D01" for d in of_type(run(export), DocumentRecord))
    assert any(
        d.meta["channel_id"] == "D01"
        for d in of_type(run(export, include_dms=True), DocumentRecord)
    )


# --- robustness: a day file is untrusted input ------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_TS_VALUES = st.sampled_from(["1710406800.000100", "1710406860.000000", "1", "x", ""]) | _JSON
_MESSAGE = st.fixed_dictionaries(
    {"ts": _TS_VALUES},
    optional={
        "text": _JSON | st.text(max_size=40),
        "user": st.sampled_from(["U01", "U99", "USLACKBOT"]) | _JSON,
        "subtype": st.sampled_from(
            ["bot_message", "tombstone", "thread_broadcast", "message_changed", "file_share",
             "channel_topic", "channel_join"]
        ) | _JSON,
        "thread_ts": _TS_VALUES,
        "reply_count": _JSON,
        "replies": _JSON,
        "files": _JSON,
        "file": _JSON,
        "attachments": _JSON,
        "message": _JSON | st.fixed_dictionaries({"ts": _TS_VALUES, "text": _JSON}),
        "bot_profile": _JSON,
        "user_profile": _JSON,
    },
)  # fmt: skip
_SITE = SlackSite("acme", "https://acme.slack.com")
_DIRECTORY = Directory({"U01": SlackUser("U01", "Alice Adams")})


def _read_all(channel: str, data: bytes) -> None:
    messages, failures = parse_day(channel, "2024-03-14", data, _DIRECTORY)
    assert all(isinstance(f, Failure) and f.where.startswith(channel) for f in failures)
    for record in channel_records(_SITE, ChannelInfo("C9", channel), messages, _DIRECTORY):
        if isinstance(record, DocumentRecord):
            assert record.chunks is not None
            assert all(len(c.text) <= MAX_CHUNK_CHARS for c in record.chunks)


@hyp_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_parser_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    _read_all("incidents", data)


@hyp_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON | st.lists(_MESSAGE | _JSON, max_size=6))
def test_parser_never_raises_on_arbitrary_json(value: Any) -> None:
    _read_all("inc-2024-03-x", json.dumps(value).encode())
    _read_all("incidents", json.dumps(value).encode())


def test_the_pipeline_stores_threads_incidents_and_who_left(export: Path, kb_app: KB) -> None:
    config = SourceConfig("slack-export", "acme", str(export))
    report = kb_app.ingestor().run(config, connector=SlackExportConnector(config, kb_app.settings))
    assert report.ok and report.incidents == 2 and report.index.documents_written == 9
    with kb_app.store.transaction() as session:
        incident = session.scalars(
            select(Incident).where(Incident.external_id == "incident:INC-2024-03")
        ).one()
        assert {s.name for s in incident.services} == {
            "checkout-service",
            "order-service",
            "payment-service",
        }
        carol = session.scalars(select(Person).where(Person.display_name == "carol")).one()
        assert carol.left_at == at("2024-03-20 14:40")
        assert carol.last_activity_at == at("2024-03-20 14:40")
        # Deactivated, never wrote: still known to have left (bus factor counts them gone).
        dave = session.scalars(select(Person).where(Person.display_name == "Dave Dunn")).one()
        assert dave.left_at is not None
        alice = session.scalars(select(Person).where(Person.display_name == "Alice Adams")).one()
        assert alice.left_at is None
    again = kb_app.ingestor().run(config, connector=SlackExportConnector(config, kb_app.settings))
    assert again.batches == 1 and again.index.documents_written == 0


def test_a_corrupt_member_is_reported_and_the_others_read(export: Path, tmp_path: Path) -> None:
    archive = tmp_path / "acme.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(export.rglob("*.json")):
            zf.write(path, path.relative_to(export).as_posix())
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("incidents/2024-03-16.json")
    at_byte = info.header_offset + 30 + len(info.filename) + 40
    data[at_byte] ^= 0xFF  # a flipped byte in the stored data: its CRC no longer matches
    archive.write_bytes(bytes(data))
    records = run(archive)
    (failure,) = of_type(records, Failure)
    assert failure.where == f"{archive}:incidents/2024-03-16.json" and "CRC" in failure.message
    assert {d.meta["channel"] for d in of_type(records, DocumentRecord)} == {
        "general",
        "inc-2024-03-checkout-down",
    }


def test_incident_ids_titles_pointers_and_alert_resolutions() -> None:
    site = SlackSite("acme", "https://acme.slack.com")
    alert, pointer = ts("2024-03-14 14:02"), ts("2024-03-14 14:04")
    raw: list[dict[str, Any]] = [
        {"ts": alert, "thread_ts": alert, "reply_count": 1, "subtype": "bot_message",
         "username": "PagerDuty", "text": "Triggered #1187: order-service 5xx > 5%"},
        {"ts": ts("2024-03-14 14:03"), "thread_ts": alert, "user": "U01", "text": "ack"},
        {"ts": pointer, "thread_ts": pointer, "reply_count": 1, "user": "U01",
         "text": "Declaring INC-2024-03 (SEV1). Working in <#C7|inc-2024-03-14-checkout>"},
        {"ts": ts("2024-03-14 14:51"), "thread_ts": pointer, "user": "U01",
         "text": "Resolved at 14:49 UTC"},
        {"ts": ts("2024-03-14 15:10"), "subtype": "bot_message", "username": "PagerDuty",
         "text": "Resolved #1187: order-service 5xx > 5%"},
    ]  # fmt: skip
    messages = [m for m in (read_message(r, _DIRECTORY) for r in raw) if m]
    shared = of_type(
        channel_records(site, ChannelInfo("C2", "incidents"), messages, _DIRECTORY), IncidentRecord
    )
    # The declaration thread belongs to its channel; the alert closes with its "Resolved #".
    assert [i.external_id for i in shared] == [f"slack:acme:C2:{alert}#incident"]
    assert shared[0].ended_at == at("2024-03-14 15:10")
    war_room = ChannelInfo(
        "C7", "inc-2024-03-14-checkout", topic="IC: Alice | status: resolved", purpose=""
    )
    (incident,) = of_type(
        channel_records(site, war_room, messages[2:4], _DIRECTORY), IncidentRecord
    )
    assert incident.external_id == "incident:INC-2024-03"
    assert incident.ended_at == at("2024-03-14 14:49")  # the time stated, not the post time
    assert incident.title == "IC: Alice | status: resolved"
    named = ChannelInfo("C7", "inc-2024-03-14-checkout", "IC: Alice", "INC-2024-03 Checkout down")
    (incident,) = of_type(channel_records(site, named, messages[3:4], _DIRECTORY), IncidentRecord)
    assert incident.title == "INC-2024-03 Checkout down"  # not the status line
    # A channel named after a date has no id in its name: the date is not taken for one.
    dated = ChannelInfo("C8", "inc-2024-03-14-checkout")
    (incident,) = of_type(channel_records(site, dated, messages[3:4], _DIRECTORY), IncidentRecord)
    assert incident.external_id == "slack:acme:C8#incident"
    numbered = ChannelInfo("C9", "inc-4711-db")
    (incident,) = of_type(
        channel_records(site, numbered, messages[3:4], _DIRECTORY), IncidentRecord
    )
    assert incident.external_id == "incident:INC-4711"


# --- the demo organisation (seed/) -------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Record]]:
    """The demo organisation's Slack export (the zip) read once, with its ground truth."""
    seed = pytest.importorskip("seed", reason="the demo organisation generator is unavailable")
    org = seed.generate_demo_org(tmp_path_factory.mktemp("demo") / "org", seed=42)
    return org.manifest, run(org.root / "slack-export.zip")


def test_demo_org_incident_channels_match_the_manifest(
    demo: tuple[dict[str, Any], list[Record]],
) -> None:
    manifest, records = demo
    assert not of_type(records, Failure)
    incidents = {i.external_id: i for i in of_type(records, IncidentRecord)}
    for truth in manifest["incidents"]:
        found = incidents[f"incident:{truth['id']}"]
        assert found.channel == truth["slack_channel"]
        assert found.severity is {"SEV1": Severity.CRITICAL, "SEV2": Severity.HIGH,
                                   "SEV3": Severity.MEDIUM}[truth["severity"]]  # fmt: skip
        assert found.ended_at == datetime.fromisoformat(truth["end"])
        started = datetime.fromisoformat(truth["start"])
        assert found.started_at is not None
        assert started <= found.started_at <= started + timedelta(minutes=15)  # alert → channel
        assert set(found.services) <= set(truth["services"]) and found.services
        assert found.root_cause and found.resolution
        words = {w for w in re.findall(r"[\w-]{5,}", truth["root_cause"].lower())}
        assert len(words & set(re.findall(r"[\w-]{5,}", found.root_cause.lower()))) >= 3
        assert f"incident:{truth['id']}#known-issue" in {
            w.external_id for w in of_type(records, WisdomRecord)
        }


def test_demo_org_people_who_left_and_bots(demo: tuple[dict[str, Any], list[Record]]) -> None:
    manifest, records = demo
    people = {p.slack_id: p for p in of_type(records, PersonRecord) if p.seen_at is None}
    for key in manifest["departed"]:
        truth = manifest["people"][key]
        left = people[truth["slack_id"]].left_at
        assert left is not None and left.date().isoformat() == truth["departed_on"]
    active = [p for p in manifest["people"].values() if p["slack_id"] and p["status"] == "active"]
    assert all(people[p["slack_id"]].left_at is None for p in active)
    assert {p.name for p in people.values() if p.is_bot} >= {"PagerDuty", "deploybot"}
