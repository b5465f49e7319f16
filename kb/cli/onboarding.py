"""`kb onboarding` and `kb context`: the guide a new hire reads, the file a coding agent reads."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb.cli.base import example, get_kb, json_option, out, require_kb
from kb.errors import KBError


@click.command()
@example(
    "kb onboarding",
    "kb onboarding --service payment-service -o onboarding-payment.md",
    "kb onboarding --json",
)
@click.option("--service", help="The guide to this service (default: the whole system).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the markdown to this file instead of printing it.",
)
@json_option("the guide")
@click.pass_context
def onboarding(ctx: click.Context, service: str | None, output: Path | None, as_json: bool
               ) -> None:  # fmt: skip
    """The onboarding guide: map, first week, danger zones, lessons, rules, decisions, whom to
    ask, open gaps; every item cited."""
    app = get_kb(ctx)
    require_kb(app)
    guide = app.onboarding.guide(service)
    if as_json:
        click.echo(json.dumps(guide.to_json()))
        return
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(guide.to_markdown(), encoding="utf-8")
        out.print(f"Wrote the onboarding guide to {output}", markup=False)
        return
    click.echo(guide.to_markdown())


@click.command()
@example(
    "kb context payment-service",
    "kb context payment-service --json",
    "kb context --all --write demo-out/context",
)
@click.argument("service", required=False)
@click.option("--all", "every", is_flag=True, help="Every service kb knows.")
@click.option(
    "--write",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write <service>.md files into this directory instead of printing.",
)
@click.option(
    "--into-repo",
    is_flag=True,
    help="Allow --write into an ingested repository (refused otherwise).",
)
@json_option("the context file")
@click.pass_context
def context(ctx: click.Context, service: str | None, every: bool, directory: Path | None,
            into_repo: bool, as_json: bool) -> None:  # fmt: skip
    """The context file a coding agent reads (AGENTS.md / CLAUDE.md form): what the service
    talks to and how, integration rules, danger zones, unwritten rules, owners and experts."""
    if bool(service) == every:
        raise KBError("name one SERVICE, or pass --all")
    if every and directory is None:
        raise KBError("--all writes files: add --write DIR")
    app = get_kb(ctx)
    require_kb(app)
    if directory is not None:
        written = app.agent_context.write(
            directory, None if every else [service], into_repo=into_repo
        )
        if as_json:
            click.echo(json.dumps(written.to_json()))
            return
        out.print(written.to_markdown(), markup=False)
        return
    result = app.agent_context.context(service)
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    click.echo(result.to_markdown())
