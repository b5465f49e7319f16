"""`kb mcp`: serve kb to coding agents over MCP (a `kb` command through `kb.commands`)."""

from __future__ import annotations

import anyio
import click

from kb.cli.base import example, get_kb


@click.command("mcp")
@example(
    "kb mcp",
    "kb --home /srv/kb mcp",
    "kb mcp --http --port 8765",
)
@click.option("--http", "http", is_flag=True, help="Serve Streamable HTTP instead of stdio.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (--http)."
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
    help="Port to listen on (--http); the endpoint is http://HOST:PORT/mcp.",
)  # fmt: skip
@click.pass_context
def mcp(ctx: click.Context, http: bool, host: str, port: int) -> None:
    """Serve kb to coding agents over MCP: stdio, or Streamable HTTP; read-only by default."""
    import logging
    import sys

    from kb_mcp.server import KBServer

    # stdout is the protocol's channel over stdio: everything else goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    server = KBServer(get_kb(ctx))
    server.warm_up()
    try:
        if http:
            click.echo(f"kb mcp: serving http://{host}:{port}/mcp", err=True)
            anyio.run(server.serve_http, host, port)
        else:
            anyio.run(server.serve_stdio)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
