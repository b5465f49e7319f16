"""`kb bot`: the Slack bot, a `kb` command through the `kb.commands` entry point."""

from __future__ import annotations

import logging
import sys

import click

from kb.cli.base import example, get_kb, require_kb
from kb.errors import ConfigError


def check_settings(settings: object, http: bool) -> None:
    """Stop with the setting to fix when a token (or the signing secret) is missing."""
    needed = ["slack_bot_token", "slack_signing_secret" if http else "slack_app_token"]
    missing = [f"KB_{name.upper()}" for name in needed if not getattr(settings, name)]
    if missing:
        mode = "HTTP mode" if http else "Socket Mode"
        raise ConfigError(f"`kb bot` in {mode} needs {' and '.join(missing)} (see README: Slack)")


@click.command("bot")
@example(
    "kb bot", "kb bot --http --port 3000", "KB_SLACK_API_URL=http://127.0.0.1:9000/api/ kb bot"
)
@click.option(
    "--http", "http", is_flag=True, help="Serve HTTP (Events API) instead of Socket Mode."
)
@click.option("--port", type=int, default=3000, show_default=True, help="HTTP mode's port.")
@click.option(
    "--address", default="0.0.0.0", show_default=True, help="HTTP mode's listening address."
)
@click.pass_context
def bot(ctx: click.Context, http: bool, port: int, address: str) -> None:
    """The Slack bot: cited answers, /kb commands, capture, feedback, incident briefs.

    Socket Mode (the default) needs KB_SLACK_BOT_TOKEN and KB_SLACK_APP_TOKEN and no public
    address; `--http` needs KB_SLACK_BOT_TOKEN and KB_SLACK_SIGNING_SECRET, and Slack's
    Request URLs pointing at http(s)://HOST:PORT/slack/events.
    """
    from bot.app import build_app
    from bot.server import HttpServer, redact_logs

    kb = get_kb(ctx)
    check_settings(kb.settings, http)
    require_kb(kb)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    redact_logs()
    # Answers are CPU-bound Python on a few threads; a shorter switch interval than the
    # default 5 ms lets an ack in between get the interpreter sooner.
    sys.setswitchinterval(0.001)
    app, slack = build_app(kb, http=http)
    slack.warm_up()
    if http:
        server = HttpServer(app, address, port)
        click.echo(f"kb bot: HTTP mode on {address}:{server.port}, path /slack/events")
        server.serve_forever()
        return
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert kb.settings.slack_app_token is not None  # checked above
    click.echo("kb bot: Socket Mode, connecting to Slack")
    SocketModeHandler(app, kb.settings.slack_app_token.get_secret_value()).start()
