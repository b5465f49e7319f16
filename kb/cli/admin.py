"""`kb init`, `kb config`, `kb status`: the knowledge base itself."""

from __future__ import annotations

import json

import click
from rich.table import Table

from kb.cli.base import example, get_kb, json_option, out
from kb.errors import KBError


@click.command()
@example("kb init", "kb --home /srv/kb init", "KB_DATABASE_URL=postgresql://kb@db/kb kb init")
@json_option("the result")
@click.pass_context
def init(ctx: click.Context, as_json: bool) -> None:
    """Create the knowledge base, or upgrade its schema to this version."""
    result = get_kb(ctx).init()
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    if result.revision_before == result.revision:
        out.print(f"kb is up to date (schema {result.revision}) at {result.database}")
    elif result.revision_before is None:
        out.print(f"created kb (schema {result.revision}) at {result.database}")
    else:
        out.print(
            f"upgraded kb schema {result.revision_before} -> {result.revision} at {result.database}"
        )
    out.print(f"vectors: {result.vectors}")


@click.command()
@example("kb config", "kb config --json", "KB_LLM_PROVIDER=ollama kb config")
@json_option("the settings")
@click.pass_context
def config(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings (secrets redacted) and where each is set."""
    from kb.settings import describe

    app = get_kb(ctx)
    values = app.settings.redacted()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "value", "environment variable", "description")
    descriptions = describe()
    for name, value in values.items():
        env = f"KB_{name.upper()}" if name in descriptions else "(derived)"
        table.add_row(name, "" if value is None else str(value), env, descriptions.get(name, ""))
    out.print(table)


@click.command()
@example("kb status", "kb --home demo-out/kb status --json")
@json_option("the counts")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show what the knowledge base holds: rows per table, vectors, sources."""
    app = get_kb(ctx)
    if app.revision() is None:
        raise KBError(
            f"no knowledge base at {app.settings.redacted()['effective_database_url']}: "
            "run `kb init` first"
        )
    counts = app.status()
    if as_json:
        click.echo(json.dumps(counts))
        return
    table = Table("table", "rows")
    for name, n in counts.items():
        table.add_row(name, str(n))
    out.print(table)
