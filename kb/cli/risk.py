"""`kb bus-factor`, `kb who`, `kb hotspots`, `kb wisdom`, `kb danger-zones`: knowledge risk and
what kb knows."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from kb.cli.base import err, example, get_kb, json_option, out, require_kb
from kb.contract.kinds import WisdomKind


@click.command("bus-factor")
@example(
    "kb bus-factor",
    'kb bus-factor --without "Alex Morgan" --json',
    "kb bus-factor --repo payment-service --algorithm avelino2016 --json",
    "kb bus-factor --markdown demo-out/bus-factor.md",
)
@click.option("--repo", help="Only this repository.")
@click.option("--service", help="Only this service (its files in its repository).")
@click.option(
    "--algorithm",
    type=click.Choice(["default", "avelino2016"]),
    default="default",
    show_default=True,
    help="default: bots/vendored out, co-authors in, departed people gone; "
    "avelino2016: the published algorithm exactly, as its reference tool runs it.",
)
@click.option(
    "--without",
    "without",
    metavar="PERSON[,PERSON…]",
    help="Leaver simulation: what no one left would know if these people went.",
)
@click.option(
    "--depth",
    type=click.IntRange(0, 10),
    default=2,
    show_default=True,
    help="Directory levels to report a truck factor for.",
)
@click.option(
    "--markdown",
    "markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as markdown to this file.",
)
@json_option("the report as one object")
@click.pass_context
def bus_factor(ctx: click.Context, repo: str | None, service: str | None, algorithm: str,
               without: str | None, depth: int, markdown: Path | None,
               as_json: bool) -> None:  # fmt: skip
    """Truck factor per repo, service and directory: who alone knows what, what a leaver takes."""
    app = get_kb(ctx)
    require_kb(app)
    leavers = [p.strip() for p in (without or "").split(",") if p.strip()]
    report = app.busfactor.report(
        algorithm=algorithm, repo=repo, service=service, without=leavers, depth=depth
    )
    data = report.to_json()
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(report.to_markdown(), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(data))
        return
    if not data["repos"]:
        out.print("No repository in kb yet: run `kb ingest git PATH` first.")
        return
    title = f"Truck factor ({algorithm}"
    title += f", as of {data['as_of'][:10]})" if data["as_of"] else ")"
    table = Table("scope", "truck factor", "who", "files", "orphaned", title=title)
    # A repo that is one whole service shows once, as the service.
    same = {(s["name"], s["files_analyzed"]) for s in data["services"]}
    repos = [r for r in data["repos"] if (r["name"], r["files_analyzed"]) not in same]
    for kind, rows in (("service", data["services"]), ("repo", repos)):
        for row in rows:
            table.add_row(
                f"{kind} {row['name']}",
                str(row["truck_factor"]),
                ", ".join(row["truck_factor_authors"]) or "—",
                str(row["files_analyzed"]),
                str(row["orphaned_files"]),
            )
    out.print(table)
    risky = [p for p in data["people"] if p["sole_author_files"] and not p["departed"]][:8]
    if risky:
        out.print("\n[bold]Only they know[/] (files with no other author still here)")
        for p in risky:
            critical = ", ".join(dict.fromkeys(x.split(":", 1)[1] for x in p["truck_factor_of"]))
            critical = critical or "—"
            out.print(f"  {p['name']}: {p['sole_author_files']} files · critical to {critical}")
    if "without" in data:
        sim = data["without"]
        out.print(f"\n[bold]If {', '.join(sim['people'])} left[/]")
        out.print(
            f"  files no one would know: {sim['files_lost']} of {sim['files_known_now']} "
            f"({sim['share_files_lost']:.0%})"
        )
        out.print(
            f"  services that become unknowable: {len(sim['services_unknowable'])} of "
            f"{sim['services_known_now']} ({sim['share_services_unknowable']:.0%})"
            + (f": {', '.join(sim['services_unknowable'])}" if sim["services_unknowable"] else "")
        )
        out.print(
            f"  directories that become unknowable: {len(sim['directories_unknowable'])} of "
            f"{sim['directories_known_now']} ({sim['share_directories_unknowable']:.0%})"
        )


@click.command()
@example(
    "kb who payment-service",
    "kb who user-service:src/users/tokens.py",
    'kb who "refund retries" --json',
)
@click.argument("query")
@click.option(
    "--limit", type=click.IntRange(1, 50), default=5, show_default=True, help="People to list."
)
@json_option("the answer as one object")
@click.pass_context
def who(ctx: click.Context, query: str, limit: int, as_json: bool) -> None:
    """Who knows a path, a service or a topic now, with the evidence; departed people flagged."""
    app = get_kb(ctx)
    require_kb(app)
    experts = app.experts.who(query, limit=limit)
    if as_json:
        click.echo(json.dumps(experts.to_json()))
        return
    out.print(f"[bold]Who knows {query}[/] ({experts.kind}: {', '.join(experts.scope[:5])})")
    if not experts.people:
        out.print("No one kb knows of.")
    for e in experts.current:
        out.print(f"  [bold]{e.name}[/] — {e.reason()}", markup=True)
        for line in (
            *e.evidence["files"][:3],
            *e.evidence["commits"][:2],
            *e.evidence["threads"][:2],
        ):
            out.print(f"      {line}", markup=False)
    if experts.departed:
        out.print("[dim]Knew it, but left:[/]")
        for e in experts.departed:
            seen = e.last_activity.date().isoformat() if e.last_activity else "?"
            out.print(f"  {e.name} (last seen {seen}) — {e.reason()}", markup=False)


@click.command()
@example(
    "kb hotspots",
    "kb hotspots --repo inventory-service --limit 5",
    "kb hotspots --save",
    "kb --home demo-out/kb hotspots --json",
)
@click.option("--repo", help="Only this repository.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=15, show_default=True, help="Files to list."
)
@click.option(
    "--save",
    is_flag=True,
    help="Store the top hotspots as danger zones now (a full ingest does it by itself; "
    "a --history-only one does not).",
)
@json_option("the hotspots as one object")
@click.pass_context
def hotspots(ctx: click.Context, repo: str | None, limit: int, save: bool, as_json: bool) -> None:
    """Files that change often, break often, few still know and incidents name: the risky ones."""
    app = get_kb(ctx)
    require_kb(app)
    if save:
        saved = app.hotspots.refresh_danger_zones(repo)
        err.print(f"danger zones saved: {sum(saved.values())} in {len(saved)} repos")
    spots = app.hotspots.hotspots(repo=repo, limit=limit)
    if as_json:
        click.echo(json.dumps(spots.to_json()))
        return
    if not spots:
        out.print("No history in kb yet: run `kb ingest git PATH` first.")
        return
    table = Table("score", "file", "changes", "fixes", "reverts", "still here", "incidents",
                  title="Hotspots (churn × trouble × knowledge × incidents)")  # fmt: skip
    table.columns[1].overflow = "fold"
    for h in spots:
        table.add_row(
            f"{h.score:g}",
            f"{h.repo}:{h.path}",
            str(h.changes),
            str(len(h.fixes)),
            str(len(h.reverts)),
            ", ".join(h.authors_here) or "[red]no one[/]",
            ", ".join(i.id for i in h.incidents) or "—",
        )
    out.print(table)


@click.command()
@example(
    "kb wisdom --stale",
    "kb wisdom --service inventory-service --kind danger_zone",
    "kb wisdom --stale --json",
)
@click.option("--stale", is_flag=True, help="Only entries to re-verify, with the reasons.")
@click.option("--service", help="Only entries about this service (or repository).")
@click.option("--kind", type=click.Choice([k.value for k in WisdomKind]), help="Only this kind.")
@json_option("the entries as one object")
@click.pass_context
def wisdom(ctx: click.Context, stale: bool, service: str | None, kind: str | None,
           as_json: bool) -> None:  # fmt: skip
    """List what kb knows (danger zones, rules, rationale…); --stale: what to re-verify."""
    app = get_kb(ctx)
    require_kb(app)
    wanted = WisdomKind(kind) if kind else None
    if stale:
        flagged = app.staleness.stale(service=service, kind=wanted)
        if as_json:
            click.echo(json.dumps(flagged.to_json()))
            return
        if not flagged:
            out.print("Nothing to re-verify.")
            return
        out.print(f"[bold]{len(flagged)} entries to re-verify[/]")
        for e in flagged:
            where = e.entry.path_glob or e.entry.service or e.entry.repo or ""
            out.print(f"\n[bold]{e.entry.title}[/] [dim]({e.entry.kind}, {where})[/]")
            out.print(f"  {e.entry.external_id}", markup=False)
            for r in e.reasons:
                out.print(f"  - {r.detail}", markup=False)
        return
    rows = app.staleness.entries(service=service, kind=wanted)
    if as_json:
        click.echo(json.dumps(rows.to_json()))
        return
    if not rows:
        out.print("No wisdom entries match.")
        return
    table = Table("kind", "severity", "where", "title", "said by")
    table.columns[2].overflow = "fold"
    for r in rows:
        where = ":".join(x for x in (r.repo, r.path_glob) if x) or r.service or ""
        title = r.title.splitlines()[0][:70] if r.title else ""
        table.add_row(r.kind, r.severity, where, title, r.said_by or r.origin)
    out.print(table)


@click.command("danger-zones")
@example(
    "kb danger-zones inventory-service:src/inventory/reservations.py",
    "kb danger-zones src/orders/checkout.py --json",
)
@click.argument("path")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Zones to list."
)
@json_option("the zones as one object")
@click.pass_context
def danger_zones(ctx: click.Context, path: str, limit: int, as_json: bool) -> None:
    """Before editing PATH: is it a danger zone, why (with sources), and whom to ask."""
    app = get_kb(ctx)
    require_kb(app)
    zones = app.danger_zones(path, limit=limit)
    if as_json:
        click.echo(json.dumps(zones.to_json()))
        return
    out.print(zones.to_markdown(), markup=False)
