"""`kb ingest …`: a git repository, a Slack export or workspace, an ADR folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from kb.cli.base import PARTIAL_FAILURE_EXIT, KBGroup, err, example, get_kb, json_option, out

_COUNTS = (
    "commits_written", "documents_written", "documents_unchanged", "documents_deleted",
    "chunks_written", "texts_embedded", "services", "dependencies", "wisdom_entries",
    "incidents", "people_seen", "secrets_redacted",
)  # fmt: skip


@click.group(cls=KBGroup)
def ingest() -> None:
    """Ingest a source: a git repo, a Slack export or workspace, an ADR folder.

    Runs are incremental (a second run with nothing new does almost nothing) and
    idempotent. Items that cannot be read are reported with their file/line/channel and
    skipped; the exit code is then 3 (partial) and `--json` lists them under "failures".
    """


def _run(ctx: click.Context, kind: str, name: str, location: str, options: dict[str, Any],
         as_json: bool) -> None:  # fmt: skip
    from kb.contract.connector import SourceConfig

    app = get_kb(ctx)
    source = SourceConfig(kind=kind, name=name, location=location, options=options)
    status = err.status(f"ingesting {kind} {name}") if err.is_terminal and not as_json else None

    def on_batch(report: Any) -> None:
        if status is not None:
            idx = report.index
            status.update(
                f"ingesting {kind} {name}: {report.batches} batches, "
                f"{report.commits_written} commits, {idx.documents_written} documents"
            )

    if status is not None:
        status.start()
    try:
        report = app.ingest(source, on_batch=on_batch)
    finally:
        if status is not None:
            status.stop()
    summary = report.to_json()
    if as_json:
        click.echo(json.dumps(summary))
    else:
        table = Table("what", "count", title=f"{kind} {name}")
        for key in _COUNTS:
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
    "kb ingest git ./billing --web-url https://git.example.com/team/billing",
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
    "--web-url",
    metavar="URL",
    help="Where the repository is browsed on the web, for citation links "
    "[default: derived from its remote: GitHub, GitLab, Bitbucket or Gitea].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    help="Commits per checkpoint: a crash loses at most one batch of work "
    "[default: 500, 5000 with --history-only].",
)
@json_option("the run summary")
@click.pass_context
def ingest_git(ctx: click.Context, path: Path, name: str | None, history_only: bool,
               services: tuple[str, ...], web_url: str | None, batch_size: int | None,
               as_json: bool) -> None:  # fmt: skip
    """Ingest a local git repository: its whole history, docs, ADRs, code, contracts."""
    resolved = path.expanduser().resolve()
    options: dict[str, Any] = {"history_only": history_only}
    if batch_size is not None:
        options["batch_size"] = batch_size
    if web_url:
        options["web_url"] = web_url
    if services:
        mapping = {}
        for item in services:
            prefix, sep, svc = item.partition("=")
            if not sep or not svc:
                raise click.BadParameter(f"{item!r} is not PREFIX=NAME", param_hint="--service")
            mapping[prefix.strip("/")] = svc
        options["services"] = mapping
    _run(ctx, "git", name or resolved.name, str(resolved), options, as_json)


@ingest.command("slack-export")
@example(
    "kb ingest slack-export shop-slack-export.zip",
    "kb ingest slack-export ./export-dir --name shopfast --workspace-url https://shopfast.slack.com",
)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", default="slack", show_default=True, help="Name of the workspace in kb.")
@click.option("--workspace-url", help="Base URL for permalinks (default https://NAME.slack.com).")
@json_option("the run summary")
@click.pass_context
def ingest_slack_export(ctx: click.Context, path: Path, name: str, workspace_url: str | None,
                        as_json: bool) -> None:  # fmt: skip
    """Ingest a Slack workspace export (zip or folder): threads, people, incident channels."""
    options = {"workspace_url": workspace_url} if workspace_url else {}
    _run(ctx, "slack-export", name, str(path.expanduser().resolve()), options, as_json)


@ingest.command("adr")
@example("kb ingest adr ~/architecture/decisions", "kb ingest adr ./adrs --name platform-adrs")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--name", help="Name of the ADR collection (default: the directory name).")
@json_option("the run summary")
@click.pass_context
def ingest_adr(ctx: click.Context, directory: Path, name: str | None, as_json: bool) -> None:
    """Ingest a folder of architecture decision records kept outside any repo."""
    resolved = directory.expanduser().resolve()
    _run(ctx, "adr", name or resolved.name, str(resolved), {}, as_json)


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
@json_option("the run summary")
@click.pass_context
def ingest_slack(ctx: click.Context, channels: tuple[str, ...], name: str,
                 workspace_url: str | None, as_json: bool) -> None:  # fmt: skip
    """Ingest channels live through the Slack Web API (needs KB_SLACK_BOT_TOKEN)."""
    options: dict[str, Any] = {"channels": [c.lstrip("#") for c in channels]}
    if workspace_url:
        options["workspace_url"] = workspace_url
    location = get_kb(ctx).settings.slack_api_url or "https://slack.com/api/"
    _run(ctx, "slack", name, location, options, as_json)
