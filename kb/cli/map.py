"""`kb map`, `kb blast-radius`, `kb impact`, `kb coupling`, `kb contracts`, `kb assess`: the
service map and the analyses over it (KB.servicemap). Each prints its result's markdown, or
with --json its stable `to_json()`."""

from __future__ import annotations

import json
from typing import Any

import click

from kb.cli.base import example, get_kb, json_option, out, require_kb


def _show(result: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        out.print(result.to_markdown(), markup=False)


@click.command("map")
@example(
    "kb map",
    "kb map --format json",
    "kb map --service payment-service --depth 2 --format mermaid",
    "kb map --format dot | dot -Tsvg > map.svg",
)
@click.option("--service", help="Only this service and its neighbours.")
@click.option(
    "--depth",
    type=click.IntRange(0, 20),
    help="With --service: how many edges away to go [default: 1].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "mermaid", "dot"]),
    default="markdown",
    show_default=True,
    help="markdown: the edges and a Mermaid drawing; json: services, edges with evidence, "
    "infrastructure; mermaid / dot: a drawing (sync calls solid, events dashed).",
)
@json_option("the map (same as --format json)")
@click.pass_context
def map_(ctx: click.Context, service: str | None, depth: int | None, fmt: str,
         as_json: bool) -> None:  # fmt: skip
    """Who calls whom and how: services, edges with evidence, infrastructure."""
    app = get_kb(ctx)
    require_kb(app)
    smap = app.servicemap.map(service, depth)
    if as_json or fmt == "json":
        click.echo(json.dumps(smap.to_json()))
    elif fmt == "mermaid":
        click.echo(smap.to_mermaid(), nl=False)
    elif fmt == "dot":
        click.echo(smap.to_dot(), nl=False)
    else:  # as is: a terminal's line wrapping would break the Mermaid block
        click.echo(smap.to_markdown(), nl=False)


@click.command("blast-radius")
@example("kb blast-radius user-service", "kb blast-radius payment-service --json")
@click.argument("service")
@json_option("who fails and whose work queues, with each path")
@click.pass_context
def blast_radius(ctx: click.Context, service: str, as_json: bool) -> None:
    """Who depends on SERVICE, transitively: sync callers fail with it, async consumers queue."""
    app = get_kb(ctx)
    require_kb(app)
    _show(app.servicemap.blast_radius(service), as_json)


@click.command("impact")
@example(
    "kb impact payment.completed",
    'kb impact "GET /users/{id}"',
    "kb impact user-service:openapi.yaml --json",
    "kb impact PaymentService/Charge",
)
@click.argument("target")
@json_option("the consumers, co-changes and people")
@click.pass_context
def impact(ctx: click.Context, target: str, as_json: bool) -> None:
    """Who consumes a contract PATH, a TOPIC, an RPC or an ENDPOINT; what changed with it;
    who needs to hear."""
    app = get_kb(ctx)
    require_kb(app)
    _show(app.servicemap.impact(target), as_json)


@click.command("coupling")
@example("kb coupling", "kb coupling --min-support 5 --json")
@click.option(
    "--min-support",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Report pairs that changed together at least this often.",
)
@click.option(
    "--window",
    "window_hours",
    type=click.FloatRange(0),
    default=0.5,
    show_default=True,
    help="Hours between one person's commits that still make one change.",
)
@json_option("the pairs with their evidence commits")
@click.pass_context
def coupling(ctx: click.Context, min_support: int, window_hours: float, as_json: bool) -> None:
    """Services that change together; those with no declared dependency are flagged."""
    app = get_kb(ctx)
    require_kb(app)
    _show(app.servicemap.coupling(min_support, window_hours), as_json)


@click.command("contracts")
@example("kb contracts", "kb contracts --service order-service --json")
@click.option("--service", help="Only this service's calls, topics and contracts.")
@json_option("the findings, each with file:line")
@click.pass_context
def contracts(ctx: click.Context, service: str | None, as_json: bool) -> None:
    """Contract compliance: calls the OpenAPI specs lack, errors never handled, endpoints
    nobody calls, topics the AsyncAPI specs lack."""
    app = get_kb(ctx)
    require_kb(app)
    _show(app.servicemap.contracts(service), as_json)


@click.command("assess")
@example("kb assess", "kb assess inventory-service --json")
@click.argument("service", required=False)
@json_option("the verdicts with reasons and evidence")
@click.pass_context
def assess(ctx: click.Context, service: str | None, as_json: bool) -> None:
    """Keep SERVICE separate, or consider merging it? With the reasons and a Conway check."""
    app = get_kb(ctx)
    require_kb(app)
    _show(app.servicemap.assess(service), as_json)
