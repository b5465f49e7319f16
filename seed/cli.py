"""`kb seed DIR`: the demo organisation, a `kb` command through the `kb.commands` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb.cli.base import example


@click.command()
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
    from kb.errors import KBError
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
    click.echo(f"demo organisation written to {directory} (seed {seed_value})")
    for name in repos:
        click.echo(f"  repos/{name}")
    click.echo("  slack-export/ and slack-export.zip")
    click.echo(f"  {org.manifest['logs']['dir']}/ (the checkout outage's logs)")
