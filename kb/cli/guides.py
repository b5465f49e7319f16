"""`kb incident`, `kb trace`, `kb postmortem`: what the on-call engineer reads first."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import click

from kb.cli.base import example, get_kb, json_option, out, require_kb
from kb.errors import KBError


def _duration(flag: str, text: str) -> timedelta:
    from kb.guides.stitch import parse_window

    try:
        return parse_window(text)
    except KBError:
        raise KBError(f"{flag} {text!r}: give a duration such as 72h, 90m or 2d") from None


def _time(flag: str, text: str | None) -> datetime | None:
    from kb.guides.stitch import parse_when

    if text is None:
        return None
    try:
        return parse_when(text)
    except KBError:
        raise KBError(f"{flag} {text!r}: give a time such as 2024-03-14T14:02:00Z") from None


def _emit(text: str, output: Path | None) -> None:
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        out.print(f"Wrote {output}", markup=False)
    else:
        click.echo(text, nl=False)


@click.command("incident")
@example(
    'kb incident payment-service --symptom "timeouts on POST /payments"',
    "kb incident order-service --symptom 5xx --at 2024-03-14T14:02Z --since 24h --json",
    "kb incident order-service --logs logs/*.log -o plan.md",
)
@click.argument("service")
@click.option("--symptom", help="What is seen: 'timeouts', 'consumer lag', '5xx on checkout'.")
@click.option("--at", "at", metavar="TIME", help="When it started (default: kb's now).")
@click.option("--since", default="72h", show_default=True, help="How far back changes count.")
@click.option(
    "--logs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Log files to stitch into the plan (repeatable).",
)
@click.option("--tz", "tz", multiple=True, metavar="FILE=ZONE", help="Zone of a log file.")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print markdown (the default).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it here."
)
@json_option("the plan as one object")
@click.pass_context
def incident(ctx: click.Context, service: str, symptom: str | None, at: str | None, since: str,
             logs: tuple[Path, ...], tz: tuple[str, ...], as_markdown: bool,
             output: Path | None, as_json: bool) -> None:  # fmt: skip
    """The incident trace plan: direction, blast radius, what to check, similar incidents,
    suspect changes, danger zones, whom to page, the checklist."""
    from kb.guides.stitch import parse_tz_options

    if as_json and as_markdown:
        raise KBError("give --json or --markdown, not both")
    app = get_kb(ctx)
    require_kb(app)
    plan = app.incidents.plan(
        service,
        symptom=symptom,
        at=_time("--at", at),
        since=_duration("--since", since),
        logs=list(logs),
        tz_by_file=parse_tz_options(tz),
    )
    _emit(json.dumps(plan.to_json()) + "\n" if as_json else plan.to_markdown(), output)


@click.command("trace")
@example(
    "kb trace logs/*.log --id 4bf92f3577b34da6a3ce929d0e0e4736",
    "kb trace logs/ --around 2024-03-14T14:02Z --window 10m --tz users.log=Europe/Berlin",
    "kb trace order.log.gz payments.log --json",
)
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--id", "trace_id", help="The correlation id to follow.")
@click.option("--around", metavar="TIME", help="Follow the first failing id near this time.")
@click.option("--window", default="10m", show_default=True, help="Around TIME, this either side.")
@click.option("--tz", "tz", multiple=True, metavar="FILE=ZONE", help="Zone of a log file.")
@json_option("the stitched timeline as one object")
@click.pass_context
def trace(ctx: click.Context, logs: tuple[Path, ...], trace_id: str | None, around: str | None,
          window: str, tz: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Stitch logs of several services into one timeline: first error, path, gaps."""
    from kb.guides.stitch import parse_tz_options

    report = get_kb(ctx).incidents.trace(
        list(logs),
        trace_id=trace_id,
        around=_time("--around", around),
        window=_duration("--window", window),
        tz_by_file=parse_tz_options(tz),
    )
    if as_json:
        click.echo(json.dumps(report.to_json()))
        return
    click.echo(report.to_markdown(), nl=False)


@click.command("postmortem")
@example(
    "kb postmortem INC-2024-03",
    "kb postmortem INC-2024-03 --logs logs/INC-2024-03/ -o postmortem.md",
    "kb postmortem INC-2025-07 --json",
)
@click.argument("incident")
@click.option(
    "--logs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Log files to stitch into the timeline (repeatable).",
)
@click.option("--tz", "tz", multiple=True, metavar="FILE=ZONE", help="Zone of a log file.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it here."
)
@json_option("the draft as one object")
@click.pass_context
def postmortem(ctx: click.Context, incident: str, logs: tuple[Path, ...], tz: tuple[str, ...],
               output: Path | None, as_json: bool) -> None:  # fmt: skip
    """A postmortem draft from the incident channel, logs, correlated changes and the plan:
    every item cited, every lesson with its `kb remember` command."""
    from kb.guides.stitch import parse_tz_options

    app = get_kb(ctx)
    require_kb(app)
    draft = app.incidents.postmortem(incident, logs=list(logs), tz_by_file=parse_tz_options(tz))
    _emit(json.dumps(draft.to_json()) + "\n" if as_json else draft.to_markdown(), output)
