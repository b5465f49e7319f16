"""The `kb` command line: a thin shell over the KB services."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kb.contract.kinds import Feedback, Severity, WisdomKind
from kb.errors import KBError

F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def example(*lines: str) -> Callable[[F], F]:
    """Append worked examples to a command's --help."""

    def wrap(fn: F) -> F:
        body = "\n".join(f"  {line}" for line in lines)
        fn.__doc__ = f"{(fn.__doc__ or '').rstrip()}\n\n\b\nExamples:\n{body}\n"
        fn.__dict__["kb_examples"] = lines
        return fn

    return wrap


class KBGroup(click.Group):
    """Reports KBError as a one-line message (no traceback) and a non-zero exit."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List one example of every command under the command list."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            if isinstance(cmd, click.Group):
                for sub in cmd.list_commands(ctx):
                    subcmd = cmd.get_command(ctx, sub)
                    rows.extend(_examples_of(subcmd)[:1])
            else:
                rows.extend(_examples_of(cmd)[:1])
        if rows:
            with formatter.section("Examples"):
                formatter.write_text("\b\n" + "\n".join(rows))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KBError as exc:
            # One line whatever the width, and the message's own brackets are not markup.
            err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            sys.exit(1)


def _examples_of(cmd: click.Command | None) -> list[str]:
    callback = getattr(cmd, "callback", None)
    inner = getattr(callback, "__wrapped__", callback)
    return list(getattr(inner, "kb_examples", ()) or getattr(callback, "kb_examples", ()))


def _kb(ctx: click.Context) -> Any:
    """The KB for this invocation, built once from settings (and --home)."""
    obj = ctx.find_root().obj
    if obj.get("kb") is None:
        from kb.app import KB
        from kb.settings import Settings

        overrides: dict[str, Any] = {}
        if obj.get("home"):
            overrides["home"] = Path(obj["home"])
        # A bad KB_* value raises SettingsError, a KBError naming the variable: one line.
        settings = Settings(**overrides)
        obj["kb"] = KB(settings)
        ctx.call_on_close(obj["kb"].close)
    return obj["kb"]


@click.group(cls=KBGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Knowledge base directory (default: $KB_HOME, else ./.kb).",
)
@click.version_option(package_name="system-wisdom", prog_name="kb")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """kb: the institutional knowledge base of a software team.

    Ingests repositories, ADRs, contracts and incident channels, then answers
    "why is it like this?" with citations, and shows who alone knows what.
    """
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


@cli.command()
@example("kb init", "kb --home /srv/kb init", "KB_DATABASE_URL=postgresql://kb@db/kb kb init")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def init(ctx: click.Context, as_json: bool) -> None:
    """Create the knowledge base, or upgrade its schema to this version."""
    app = _kb(ctx)
    before, after = app.init()
    info = {
        "database": app.settings.redacted()["effective_database_url"],
        "vectors": app.settings.chroma_url or str(app.settings.chroma_path),
        "revision_before": before,
        "revision": after,
    }
    if as_json:
        click.echo(json.dumps(info))
        return
    if before == after:
        out.print(f"kb is up to date (schema {after}) at {info['database']}")
    elif before is None:
        out.print(f"created kb (schema {after}) at {info['database']}")
    else:
        out.print(f"upgraded kb schema {before} -> {after} at {info['database']}")
    out.print(f"vectors: {info['vectors']}")


@cli.command()
@example("kb config", "kb config --json", "KB_LLM_PROVIDER=ollama kb config")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@click.pass_context
def config(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings (secrets redacted) and where each is set."""
    from dataclasses import fields as dataclass_fields

    from kb.settings import Settings

    app = _kb(ctx)
    values = app.settings.redacted()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "value", "environment variable", "description")
    descriptions = {f.name: f.metadata["description"] for f in dataclass_fields(Settings)}
    for name, value in values.items():
        env = f"KB_{name.upper()}" if name in descriptions else "(derived)"
        desc = descriptions.get(name, "")
        table.add_row(name, "" if value is None else str(value), env, desc)
    out.print(table)


@cli.command()
@example("kb status", "kb --home demo-out/kb status --json")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show what the knowledge base holds: rows per table, vectors, sources."""
    app = _kb(ctx)
    store = app.store
    if store.revision() is None:
        raise KBError(
            f"no knowledge base at {app.settings.redacted()['effective_database_url']}: "
            "run `kb init` first"
        )
    counts = store.counts()
    counts["vectors"] = app.vectors.count()
    if as_json:
        click.echo(json.dumps(counts))
        return
    table = Table("table", "rows")
    for name, n in counts.items():
        table.add_row(name, str(n))
    out.print(table)


@cli.command()
@example("kb seed demo-org", "kb seed /tmp/org --seed 7")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--seed",
    "seed_value",
    type=int,
    default=42,
    show_default=True,
    help="Random seed: the same seed gives byte-identical output.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
def seed(directory: Path, seed_value: int, as_json: bool) -> None:
    """Generate the demo organisation (six service repos, ADRs, Slack export) in DIRECTORY."""
    from seed import generate_demo_org

    try:
        org = generate_demo_org(directory, seed=seed_value)
    except FileExistsError as exc:
        raise KBError(str(exc)) from exc
    repos: list[str] = sorted(org.manifest["repos"])
    summary = {"directory": str(directory), "repos": repos, "seed": seed_value}
    if as_json:
        click.echo(json.dumps(summary))
        return
    out.print(f"demo organisation written to {directory} (seed {seed_value})")
    for name in repos:
        out.print(f"  repos/{name}")
    out.print("  slack-export/ and slack-export.zip")


PARTIAL_FAILURE_EXIT = 3


def _require_kb(app: Any) -> None:
    if app.revision() is None:
        raise KBError(
            f"no knowledge base at {app.settings.redacted()['effective_database_url']}: "
            "run `kb init` and `kb ingest ...` first"
        )


@cli.command()
@example(
    'kb ask "why is payment to order async?"',
    'kb ask "what must I never touch in inventory?" --json',
    'kb --home demo-out/kb ask "who knows the user token code now?" --k 3',
)
@click.argument("question")
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="How many sources to cite at most.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.pass_context
def ask(ctx: click.Context, question: str, k: int, as_json: bool) -> None:
    """Answer a question from the knowledge base, with citations (or say it doesn't know)."""
    app = _kb(ctx)
    _require_kb(app)
    answer = app.ask(question, k=k)
    if as_json:
        click.echo(json.dumps(answer.as_json()))
        return
    style = "bold" if answer.answered else "bold yellow"
    out.print(f"[{style}]{question}[/]\n")
    out.print(answer.answer, markup=False)
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            where = c.url or " ".join(
                x for x in (c.repo, (c.path or "") if c.path else None,
                            (c.commit or "")[:10] if c.commit else None) if x
            )  # fmt: skip
            extra = f" ({c.role})" if c.role not in ("answer",) else ""
            out.print(f"[{c.number}] {c.kind}: {c.title} — {where}{extra}", markup=False)
    out.print(
        f"\n[dim]confidence {answer.confidence:.2f} · answer id {answer.id} · "
        f"rate it: kb feedback {answer.id} up|down[/]"
    )


@cli.command()
@example(
    'kb remember "Never deploy payment-service on Fridays after 3pm" --service payment-service',
    'kb remember "The nightly report reads inventory tables directly" --kind danger_zone '
    '--by "Alex Morgan"',
)
@click.argument("text")
@click.option("--service", help="The service this is about.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in WisdomKind]),
    default=WisdomKind.UNWRITTEN_RULE.value,
    show_default=True,
    help="What kind of knowledge this is.",
)
@click.option("--by", "by", help="Who is telling (name or email); later answers credit them.")
@click.option(
    "--severity",
    type=click.Choice([s.value for s in Severity]),
    default="medium",
    show_default=True,
    help="How much it matters.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the stored note as JSON.")
@click.pass_context
def remember(ctx: click.Context, text: str, service: str | None, kind: str, by: str | None,
             severity: str, as_json: bool) -> None:  # fmt: skip
    """Teach kb something that is written nowhere, in your words; answers will cite you."""
    if not text.strip():
        raise KBError("nothing to remember: give the knowledge as TEXT")
    app = _kb(ctx)
    app.store.migrate()
    note_id, report = app.remember(
        text, service=service, kind=WisdomKind(kind), by=by, severity=Severity(severity)
    )
    if as_json:
        click.echo(json.dumps({"id": note_id, "redacted": report.secrets_redacted}))
        return
    who = f" from {by}" if by else ""
    out.print(f"remembered {note_id}{who}" + (f" about {service}" if service else ""))
    if report.secrets_redacted:
        err.print(f"[yellow]{report.secrets_redacted} secret(s) were redacted before storing[/]")


@cli.command()
@example("kb feedback 3f9a1c2b7d4e up", 'kb feedback 3f9a1c2b7d4e down --comment "ADR-2 is old"')
@click.argument("answer_id")
@click.argument("vote", type=click.Choice(["up", "down"]))
@click.option("--comment", help="What was wrong or missing.")
@click.pass_context
def feedback(ctx: click.Context, answer_id: str, vote: str, comment: str | None) -> None:
    """Rate an answer by its id; down-voted answers show up in `kb gaps`."""
    app = _kb(ctx)
    _require_kb(app)
    app.feedback(answer_id, Feedback(vote), comment)
    out.print(f"thanks: recorded {vote} for {answer_id}")


@cli.command()
@example("kb gaps", "kb gaps --json")
@click.option("--json", "as_json", is_flag=True, help="Print the gaps as JSON.")
@click.pass_context
def gaps(ctx: click.Context, as_json: bool) -> None:
    """Knowledge gaps: unanswered and down-voted questions by service, and who could answer."""
    app = _kb(ctx)
    _require_kb(app)
    from kb.answer.gaps import knowledge_gaps

    report = knowledge_gaps(app)
    if as_json:
        click.echo(json.dumps(report, default=str))
        return
    if not report["services"]:
        out.print("no knowledge gaps recorded")
        return
    for group in report["services"]:
        out.print(f"[bold]{group['service'] or '(no service)'}[/]")
        if group["ask"]:
            out.print("  best placed to answer: " + ", ".join(group["ask"]))
        for q in group["questions"]:
            why = "unanswered" if not q["answered"] else f"voted down: {q['comment'] or ''}"
            out.print(f"  - {q['question']}  [dim]({why}, {q['asked_at'][:10]}, {q['id']})[/]")


@cli.group(cls=KBGroup)
def ingest() -> None:
    """Ingest a source: a git repo, a Slack export or workspace, an ADR folder.

    Runs are incremental (a second run with nothing new does almost nothing) and
    idempotent. Items that cannot be read are reported with their file/line/channel and
    skipped; the exit code is then 3 (partial) and `--json` lists them under "failures".
    """


def _ingest(ctx: click.Context, kind: str, name: str, location: str, options: dict[str, Any],
            as_json: bool) -> None:  # fmt: skip
    from kb.contract.connector import SourceConfig, load_connector
    from kb.store.history import source_cursor

    app = _kb(ctx)
    config = SourceConfig(kind=kind, name=name, location=location, options=options)
    connector = load_connector(kind)(config, app.settings)
    prefetch = getattr(connector, "prefetch", None)
    if prefetch is not None:
        # The source starts reading (git log on another core) while the store loads.
        prefetch(source_cursor(app.reader, kind, name))
    from kb.ingest.pipeline import Ingestor, IngestReport

    app.store.migrate()
    status = err.status(f"ingesting {kind} {name}") if err.is_terminal and not as_json else None

    def on_batch(report: IngestReport) -> None:
        if status is not None:
            idx = report.index
            status.update(
                f"ingesting {kind} {name}: {report.batches} batches, "
                f"{report.commits_written} commits, {idx.documents_written} documents"
            )

    if status is not None:
        status.start()
    try:
        report = Ingestor(app, on_batch=on_batch).run(config, connector)
        if report.index.texts_embedded:
            app.ensure_query_encoder()  # torch is loaded already: make later asks fast
    finally:
        if status is not None:
            status.stop()
    summary = report.as_json()
    if as_json:
        click.echo(json.dumps(summary))
    else:
        table = Table("what", "count", title=f"{kind} {name}")
        for key in ("commits_written", "documents_written", "documents_unchanged",
                    "documents_deleted", "chunks_written", "texts_embedded", "services",
                    "dependencies", "wisdom_entries", "incidents", "people_seen",
                    "secrets_redacted"):  # fmt: skip
            table.add_row(key.replace("_", " "), str(summary[key]))
        for reason, n in summary["skipped"].items():
            table.add_row(f"skipped: {reason}", str(n))
        out.print(table)
        for failure in report.failures:
            err.print(f"[yellow]skipped[/] {failure['where']}: {failure['message']}")
    if not report.ok:
        sys.exit(PARTIAL_FAILURE_EXIT)


@ingest.command("git")
@example(
    "kb ingest git ../payment-service",
    "kb ingest git ~/src/monorepo --name shop --service apps/payment=payment-service",
    "kb ingest git ~/src/linux --history-only --json",
)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Name of the repo in kb (default: the directory name).")
@click.option(
    "--history-only",
    is_flag=True,
    help="Commits, changes and people only: no text, no embeddings (quick bus factor).",
)
@click.option(
    "--service",
    "services",
    multiple=True,
    metavar="PREFIX=NAME",
    help="Monorepo: files under PREFIX belong to service NAME (repeatable).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    help="Commits per checkpoint: a crash loses at most one batch of work "
    "[default: 500, 5000 with --history-only].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
def ingest_git(ctx: click.Context, path: Path, name: str | None, history_only: bool,
               services: tuple[str, ...], batch_size: int | None,
               as_json: bool) -> None:  # fmt: skip
    """Ingest a local git repository: its whole history, docs, ADRs, code, contracts."""
    resolved = path.expanduser().resolve()
    options: dict[str, Any] = {"history_only": history_only}
    if batch_size is not None:
        options["batch_size"] = batch_size
    if services:
        mapping = {}
        for item in services:
            prefix, sep, svc = item.partition("=")
            if not sep or not svc:
                raise click.BadParameter(f"{item!r} is not PREFIX=NAME", param_hint="--service")
            mapping[prefix.strip("/")] = svc
        options["services"] = mapping
    _ingest(ctx, "git", name or resolved.name, str(resolved), options, as_json)


@ingest.command("slack-export")
@example(
    "kb ingest slack-export shop-slack-export.zip",
    "kb ingest slack-export ./export-dir --name shopfast --workspace-url https://shopfast.slack.com",
)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", default="slack", show_default=True, help="Name of the workspace in kb.")
@click.option("--workspace-url", help="Base URL for permalinks (default https://NAME.slack.com).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
def ingest_slack_export(ctx: click.Context, path: Path, name: str, workspace_url: str | None,
                        as_json: bool) -> None:  # fmt: skip
    """Ingest a Slack workspace export (zip or folder): threads, people, incident channels."""
    options = {"workspace_url": workspace_url} if workspace_url else {}
    _ingest(ctx, "slack-export", name, str(path.expanduser().resolve()), options, as_json)


@ingest.command("adr")
@example("kb ingest adr ~/architecture/decisions", "kb ingest adr ./adrs --name platform-adrs")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--name", help="Name of the ADR collection (default: the directory name).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
def ingest_adr(ctx: click.Context, directory: Path, name: str | None, as_json: bool) -> None:
    """Ingest a folder of architecture decision records kept outside any repo."""
    resolved = directory.expanduser().resolve()
    _ingest(ctx, "adr", name or resolved.name, str(resolved), {}, as_json)


@ingest.command("slack")
@example(
    "kb ingest slack --channel incidents --channel inc-2024-03-14-checkout-outage",
    "KB_SLACK_BOT_TOKEN=xoxb-... kb ingest slack --channel incidents --json",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    required=True,
    help="Channel name to follow (repeatable).",
)
@click.option("--name", default="slack", show_default=True, help="Name of the workspace in kb.")
@click.option("--workspace-url", help="Base URL for permalinks (default https://NAME.slack.com).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_context
def ingest_slack(ctx: click.Context, channels: tuple[str, ...], name: str,
                 workspace_url: str | None, as_json: bool) -> None:  # fmt: skip
    """Ingest channels live through the Slack Web API (needs KB_SLACK_BOT_TOKEN)."""
    options: dict[str, Any] = {"channels": [c.lstrip("#") for c in channels]}
    if workspace_url:
        options["workspace_url"] = workspace_url
    app = _kb(ctx)
    location = app.settings.slack_api_url or "https://slack.com/api/"
    _ingest(ctx, "slack", name, location, options, as_json)


@cli.command("bus-factor")
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
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_context
def bus_factor(ctx: click.Context, repo: str | None, service: str | None, algorithm: str,
               without: str | None, depth: int, markdown: Path | None,
               as_json: bool) -> None:  # fmt: skip
    """Truck factor per repo, service and directory: who alone knows what, what a leaver takes."""
    app = _kb(ctx)
    _require_kb(app)
    leavers = [p.strip() for p in (without or "").split(",") if p.strip()]
    report = app.busfactor.report(
        algorithm=algorithm, repo=repo, service=service, without=leavers, depth=depth
    )
    data = report.as_json()
    if markdown is not None:
        from kb.analysis.busfactor_report import busfactor_markdown

        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(busfactor_markdown(report, data), encoding="utf-8")
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


@cli.command()
@example(
    "kb who payment-service",
    "kb who user-service:src/users/tokens.py",
    'kb who "refund retries" --json',
)
@click.argument("query")
@click.option(
    "--limit", type=click.IntRange(1, 50), default=5, show_default=True, help="People to list."
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.pass_context
def who(ctx: click.Context, query: str, limit: int, as_json: bool) -> None:
    """Who knows a path, a service or a topic now, with the evidence; departed people flagged."""
    app = _kb(ctx)
    _require_kb(app)
    experts = app.experts.who(query, limit=limit)
    if as_json:
        click.echo(json.dumps(experts.as_json()))
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


@cli.command()
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
@click.option("--json", "as_json", is_flag=True, help="Print the hotspots as one JSON object.")
@click.pass_context
def hotspots(ctx: click.Context, repo: str | None, limit: int, save: bool, as_json: bool) -> None:
    """Files that change often, break often, few still know and incidents name: the risky ones."""
    app = _kb(ctx)
    _require_kb(app)
    if save:
        saved = app.hotspots.refresh_danger_zones(repo)
        err.print(f"danger zones saved: {sum(saved.values())} in {len(saved)} repos")
    spots = app.hotspots.hotspots(repo=repo, limit=limit)
    if as_json:
        click.echo(json.dumps({"hotspots": [h.as_json() for h in spots]}))
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


@cli.command()
@example(
    "kb wisdom --stale",
    "kb wisdom --service inventory-service --kind danger_zone",
    "kb wisdom --stale --json",
)
@click.option("--stale", is_flag=True, help="Only entries to re-verify, with the reasons.")
@click.option("--service", help="Only entries about this service (or repository).")
@click.option("--kind", type=click.Choice([k.value for k in WisdomKind]), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as one JSON object.")
@click.pass_context
def wisdom(ctx: click.Context, stale: bool, service: str | None, kind: str | None,
           as_json: bool) -> None:  # fmt: skip
    """List what kb knows (danger zones, rules, rationale…); --stale: what to re-verify."""
    from kb.analysis.staleness import wisdom_json

    app = _kb(ctx)
    _require_kb(app)
    wanted = WisdomKind(kind) if kind else None
    if stale:
        flagged = app.staleness.stale(service=service, kind=wanted)
        if as_json:
            click.echo(json.dumps({"entries": [e.as_json() for e in flagged]}))
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
        click.echo(json.dumps({"entries": [wisdom_json(r) for r in rows]}))
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


def main() -> None:
    """Console-script entry point."""
    cli(obj={})


if __name__ == "__main__":
    main()
