"""What every kb command shares: the group, --help examples, the KB of an invocation.

Commands are registered by area (`kb.cli.admin`, `ingest`, `answers`, `risk`); commands of
other packages (`kb seed` from the demo organisation, `kb bot`, `kb ui`, `kb mcp`) join
through the `kb.commands` entry points, so kb imports none of them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from kb.errors import KBError

F = TypeVar("F", bound=Callable[..., Any])

COMMANDS_GROUP = "kb.commands"
DISTRIBUTION = "system-wisdom"
# Exit code of an ingest run that skipped some items (listed under "failures").
PARTIAL_FAILURE_EXIT = 3

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


def _examples_of(cmd: click.Command | None) -> list[str]:
    callback = getattr(cmd, "callback", None)
    inner = getattr(callback, "__wrapped__", callback)
    return list(getattr(inner, "kb_examples", ()) or getattr(callback, "kb_examples", ()))


def _plugin_commands() -> dict[str, EntryPoint]:
    # kb's own distribution first: reading it is ~30x cheaper than scanning every package.
    try:
        found = {
            ep.name: ep
            for ep in distribution(DISTRIBUTION).entry_points.select(group=COMMANDS_GROUP)
        }
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        found = {}
    for ep in entry_points(group=COMMANDS_GROUP):
        found.setdefault(ep.name, ep)
    return found


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
                    rows.extend(_examples_of(cmd.get_command(ctx, sub))[:1])
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


class KBRoot(KBGroup):
    """The `kb` group: also the commands other packages register under `kb.commands`.

    They are loaded only when named (or listed by --help), so a plain `kb bus-factor`
    never imports them.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_plugin_commands()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        ep = _plugin_commands().get(cmd_name)
        if ep is None:
            return None
        command = ep.load()
        if not isinstance(command, click.Command):
            raise click.ClickException(f"entry point {ep.value!r} is not a click command")
        return command


def get_kb(ctx: click.Context) -> Any:
    """The KB of this invocation, built once from settings (and --home)."""
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


def require_kb(app: Any) -> None:
    """Stop with a clear message when there is no knowledge base yet."""
    if app.revision() is None:
        raise KBError(
            f"no knowledge base at {app.settings.redacted()['effective_database_url']}: "
            "run `kb init` and `kb ingest ...` first"
        )


def json_option(what: str) -> Callable[[F], F]:
    """The --json flag every command a script may call takes."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")
