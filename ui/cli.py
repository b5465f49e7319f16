"""`kb ui`: the dashboard, a `kb` command through the `kb.commands` entry point."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kb.cli.base import example

APP = Path(__file__).with_name("app.py")

# Streamlit must not phone home, open a browser or show tracebacks; the same settings are in
# ui/.streamlit/config.toml for `streamlit run` from ui/.
STREAMLIT_FLAGS = (
    "--browser.gatherUsageStats=false",
    "--server.headless=true",
    "--server.fileWatcherType=none",
    "--client.showErrorDetails=none",
    "--client.toolbarMode=minimal",
    "--global.showWarningOnDirectExecution=false",
)


def streamlit_command(port: int, address: str) -> list[str]:
    """The `streamlit run` command line of the dashboard."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        f"--server.port={port}", f"--server.address={address}", *STREAMLIT_FLAGS,
    ]  # fmt: skip


@click.command("ui")
@example("kb ui", "kb ui --port 8600", "kb --home /srv/kb ui --address 0.0.0.0")
@click.option("--port", type=int, default=8501, show_default=True, help="Port to serve on.")
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 to serve a team).",
)
@click.pass_context
def ui(ctx: click.Context, port: int, address: str) -> None:
    """The dashboard: knowledge risk, leavers, incidents, danger zones, ask, gaps, sources."""
    env = dict(os.environ)
    home = (ctx.find_root().obj or {}).get("home")
    if home:
        env["KB_HOME"] = str(Path(home).resolve())
    click.echo(f"kb dashboard on http://{address}:{port}  (Ctrl+C stops it)")
    sys.stdout.flush()
    os.execve(sys.executable, streamlit_command(port, address), env)
