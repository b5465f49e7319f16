"""The `kb` command line: a thin shell over the KB services (parse, call one method, render).

Commands live by area: `admin` (init, config, status), `ingest`, `answers` (ask, remember,
feedback, gaps), `risk` (bus-factor, who, hotspots, wisdom); each renders its results for
the terminal, and `--json` prints the result's stable `to_json()`.
"""

from __future__ import annotations

from pathlib import Path

import click

from kb.cli import admin, answers, guides, ingest, risk
from kb.cli import map as service_map
from kb.cli import onboarding as onboarding_cli
from kb.cli.base import KBRoot


@click.group(cls=KBRoot, context_settings={"help_option_names": ["-h", "--help"]})
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


for _command in (
    admin.init, admin.config, admin.status,
    ingest.ingest,
    answers.ask, answers.remember, answers.feedback, answers.gaps,
    risk.bus_factor, risk.who, risk.hotspots, risk.wisdom, risk.danger_zones,
    service_map.map_, service_map.blast_radius, service_map.impact, service_map.coupling,
    service_map.contracts, service_map.assess,
    guides.incident, guides.trace, guides.postmortem,
):  # fmt: skip
    cli.add_command(_command)

cli.add_command(onboarding_cli.onboarding)
cli.add_command(onboarding_cli.context)


def main() -> None:
    """Console-script entry point."""
    cli(obj={})
