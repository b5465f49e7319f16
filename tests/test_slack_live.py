"""The live Slack connector against a local fake Slack Web API over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fakes.slack_api import TOKEN, FakeSlackAPI, FakeWorkspace, sample_workspace, ts, write_export

from connectors.slack_export import SlackExportConnector
from connectors.slack_live import SlackConnector
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
from kb.errors import ConfigError
from kb.settings import Settings

T = TypeVar("T")
CHANNELS = ["general", "incidents", "inc-2024-03-checkout-down"]


def of_type(records: Iterable[Record], kind: type[T]) -> list[T]:
    return [r for r in records if isinstance(r, kind)]


def docs(records: Iterable[Record]) -> dict[str, DocumentRecord]:
    return {d.external_id: d for d in of_type(records, DocumentRecord)}


@pytest.fixture
def workspace() -> FakeWorkspace:
    return sample_workspace()


@pytest.fixture
def api(workspace: FakeWorkspace) -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI(workspace) as server:
        yield server


def connector(
    api: FakeSlackAPI, tmp_path: Path, token: str | None = TOKEN, **options: Any
) -> SlackConnector:
    settings = Settings(
        home=tmp_path / "kb", slack_bot_token=token or None, slack_api_url=api.base_url
    )
    options.setdefault("channels", CHANNELS)
    return SlackConnector(SourceConfig("slack", "acme", "", options), settings)


def test_history_is_paginated_and_thread_replies_fetched(api: FakeSlackAPI, tmp_path: Path) -> None:
    records = list(connector(api, tmp_path, page_size=2).load({}))
    history = [r.params for r in api.calls("conversations.history") if r.params["channel"] == "C01"]
    assert len(history) == 4  # 7 top-level messages, two per page
    assert [p.get("cursor") for p in history] == [None, "offset:2", "offset:4", "offset:6"]
    assert all(p["limit"] == "2" for p in history)
    replied = {(r.params["channel"], r.params["ts"]) for r in api.calls("conversations.replies")}
    assert replied == {
        ("C01", ts("2024-03-14 23:50")),
        ("C01", ts("2024-03-15 11:00")),
        ("C02", ts("2024-03-16 02:00")),
        ("C02", ts("2024-03-16 12:00")),
    }
    thread = docs(records)[f"slack:acme:C01:{ts('2024-03-14 23:50')}"]
    assert thread.body.count("\n") == 3 and "clock skew" in thread.body
    assert all(r.path.startswith("/api/") for r in api.requests)
    assert {r.method for r in api.requests} == {
        "auth.test",
        "users.list",
        "conversations.list",
        "conversations.history",
        "conversations.replies",
    }
    cursor = of_type(records, Checkpoint)[-1].cursor
    assert cursor["channels"] == {
        "C01": ts("2024-03-15 12:00"),
        "C02": ts("2024-03-16 12:00"),
        "C03": ts("2024-03-21 10:10"),
    }


def test_same_records_as_the_export_of_the_same_workspace(
    api: FakeSlackAPI, workspace: FakeWorkspace, tmp_path: Path
) -> None:
    live = list(connector(api, tmp_path).load({}))
    export = write_export(workspace, tmp_path / "export")
    source = SourceConfig("slack-export", "acme", str(export))
    exported = list(SlackExportConnector(source, Settings(home=tmp_path / "kb")).load({}))
    assert docs(live) == docs(exported)
    assert len(docs(live)) == 9

    def by_id(records: list[Record]) -> dict[str, IncidentRecord | WisdomRecord]:
        return {r.external_id: r for r in records if isinstance(r, IncidentRecord | WisdomRecord)}

    assert by_id(live) == by_id(exported) and len(by_id(live)) == 4
    assert {i.external_id for i in of_type(live, IncidentRecord)} == {
        "incident:INC-2024-03",
        f"slack:acme:C02:{ts('2024-03-16 02:00')}#incident",
    }
    people = {p.slack_id: p for p in of_type(live, PersonRecord) if p.seen_at is None}
    assert people["U03"].left_at is not None and people["U01"].left_at is None


def test_second_run_fetches_only_what_is_newer(
    api: FakeSlackAPI, workspace: FakeWorkspace, tmp_path: Path
) -> None:
    live = connector(api, tmp_path)
    first = list(live.load({}))
    cursor = of_type(first, Checkpoint)[-1].cursor
    quiet = list(live.load(cursor))
    assert not of_type(quiet, DocumentRecord) and not of_type(quiet, PersonRecord)
    workspace.post("general", {"user": "U02", "ts": ts("2024-03-15 13:00"), "text": "new today"})
    parent = ts("2024-03-14 23:50")
    workspace.post("general", {"user": "U01", "ts": ts("2024-03-15 14:00"), "thread_ts": parent,
                               "text": "late reply: fixed for good"})  # fmt: skip
    seen = len(api.requests)
    again = list(live.load(cursor))
    history = [r.params for r in api.requests[seen:] if r.method == "conversations.history"]
    assert [p.get("oldest") for p in history if p["channel"] == "C02"] == [ts("2024-03-16 12:00")]
    assert history[0]["oldest"] == ts("2024-03-15 12:00")  # exclusive of the cursor message
    # The cursor's day is re-read up to the cursor so its document is rebuilt whole.
    assert history[1] == {
        "channel": "C01",
        "limit": "200",
        "oldest": str(int(ts("2024-03-15 00:00").split(".")[0])) + ".000000",
        "latest": ts("2024-03-15 12:00"),
        "inclusive": "true",
    }
    found = docs(again)
    assert set(found) == {"slack:acme:C01:day:2024-03-15", f"slack:acme:C01:{parent}"}
    day = found["slack:acme:C01:day:2024-03-15"].body
    assert "here is the trace" in day and "Bob Brown (2024-03-15 13:00 UTC): new today" in day
    assert found[f"slack:acme:C01:{parent}"].body.endswith("late reply: fixed for good")
    assert of_type(again, Checkpoint)[-1].cursor["channels"]["C01"] == ts("2024-03-15 13:00")


def test_threads_beyond_the_look_back_window_are_not_refetched(
    api: FakeSlackAPI, tmp_path: Path
) -> None:
    live = connector(api, tmp_path, thread_lookback_days=0)
    cursor = of_type(list(live.load({})), Checkpoint)[-1].cursor
    seen = len(api.requests)
    list(live.load(cursor))
    assert not [r for r in api.requests[seen:] if r.method == "conversations.replies"]


def test_an_incident_channel_is_reread_whole_when_it_changes(
    api: FakeSlackAPI, workspace: FakeWorkspace, tmp_path: Path
) -> None:
    live = connector(api, tmp_path, channels=["inc-2024-03-checkout-down"])
    cursor = of_type(list(live.load({})), Checkpoint)[-1].cursor
    workspace.post("inc-2024-03-checkout-down", {"user": "U02", "ts": ts("2024-03-22 09:00"),
                   "text": "root cause: the Stripe SDK retried without a deadline"})  # fmt: skip
    seen = len(api.requests)
    again = list(live.load(cursor))
    oldest = [
        r.params.get("oldest") for r in api.requests[seen:] if r.method == "conversations.history"
    ]
    assert oldest == [ts("2024-03-21 10:10"), None]
    (incident,) = of_type(again, IncidentRecord)
    assert incident.started_at is not None and incident.started_at.day == 20  # not the 22nd
    assert incident.root_cause == "the Stripe SDK retried without a deadline"
    assert incident.meta["message_count"] == 6


def test_rate_limit_is_honoured_with_retry_after(api: FakeSlackAPI, tmp_path: Path) -> None:
    live = connector(api, tmp_path, channels=["general"])
    api.rate_limit("conversations.history", times=1, retry_after=1)
    started = time.monotonic()
    records = list(live.load({}))
    assert 1.0 <= time.monotonic() - started < 5
    calls = api.calls("conversations.history")
    assert [c.status for c in calls[:2]] == [429, 200]
    assert calls[0].params == calls[1].params
    assert calls[1].at - calls[0].at >= 1.0
    assert live.rate_limits.waits == [1.0]
    assert "slack:acme:C01:day:2024-03-14" in docs(records)


def test_unknown_channel_is_a_failure_and_the_rest_goes_on(
    api: FakeSlackAPI, tmp_path: Path
) -> None:
    records = list(connector(api, tmp_path, channels=["#no-such-channel", "general"]).load({}))
    (failure,) = of_type(records, Failure)
    assert failure.where == "#no-such-channel" and "no-such-channel" in failure.message
    assert {d.meta["channel"] for d in of_type(records, DocumentRecord)} == {"general"}


def test_missing_or_rejected_token_is_a_config_error(api: FakeSlackAPI, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KB_SLACK_BOT_TOKEN"):
        connector(api, tmp_path, token=None)
    with pytest.raises(ConfigError, match="invalid_auth"):
        list(connector(api, tmp_path, token="xoxb-wrong").load({}))
    assert [r.method for r in api.requests] == ["auth.test"]


def test_kb_ingest_slack_cli_reads_token_and_api_url_from_settings(
    api: FakeSlackAPI, tmp_path: Path
) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_SLACK_BOT_TOKEN=TOKEN, KB_SLACK_API_URL=api.base_url)
    cmd = [sys.executable, "-m", "kb.cli", "--home", str(tmp_path / "kb"), "ingest", "slack"]
    for name in CHANNELS:
        cmd += ["--channel", f"#{name}"]
    res = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["documents_written"] > 0 and summary["incidents"] > 0
    assert api.calls("conversations.history")
    again = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env)
    assert json.loads(again.stdout)["documents_written"] == 0
    no_token = {k: v for k, v in env.items() if k != "KB_SLACK_BOT_TOKEN"}
    missing = subprocess.run(cmd, capture_output=True, text=True, env=no_token)
    assert missing.returncode == 1 and "KB_SLACK_BOT_TOKEN" in missing.stderr
