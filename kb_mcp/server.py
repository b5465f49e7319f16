"""The MCP server: kb's tools and resources over the SDK's low-level `Server`.

The low-level server is used rather than `MCPServer` because every list here pages
(`resources/list` included) and every tool declares its output schema and annotations
explicitly; the handlers below are the whole protocol surface.

kb is called on one worker thread: its services are built lazily and cache what they read,
so calls are serialised there while the event loop keeps serving the transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from mcp import types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from kb import KB, KBError
from kb_mcp import resources
from kb_mcp.tools import Rendered, ToolSpec, offset_of, tools_for

log = logging.getLogger("kb_mcp")
T = TypeVar("T")

INSTRUCTIONS = """\
kb holds this organisation's engineering knowledge across all its repositories: ADRs,
commit history, docs, code comments, API and event contracts, incident channels and
postmortems, and what seniors taught it. Use it before you change code you did not write:
- danger_zones(path) before editing a file: whether it is a danger zone, why, whom to ask;
- ask(question) for why something is built the way it is, or what broke before;
- who_knows(path, service or topic) to find the people who know an area now.
Answers cite their sources as [n]; cite them in turn when you rely on them.
Resources: service://{name}, adr://{repo}/{number}.
"""


def _version() -> str:
    try:
        return version("system-wisdom")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0"


def _validation_message(exc: ValidationError) -> str:
    """Which arguments were wrong and why, in one line (no values echoed back)."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "invalid arguments: " + "; ".join(parts)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


class KBServer:
    """kb's tools and resources, served by an MCP low-level `Server`."""

    def __init__(self, app: KB) -> None:
        self.app = app
        self.tools: dict[str, ToolSpec] = {t.name: t for t in tools_for(app)}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb")
        self.server: Server[Any] = Server(
            "kb",
            version=_version(),
            title="kb: the organisation's engineering knowledge",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates,
            on_read_resource=self._read_resource,
        )

    async def _in_kb(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a KB call on kb's worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    def warm_up(self) -> None:
        """Load what the first call would (stores, the query encoder), before serving."""
        self._worker.submit(self._warm_up).result()

    def _warm_up(self) -> None:
        if self.app.revision() is None:
            return  # no knowledge base yet: every call will say so
        _ = self.app.answers
        self.app.services()

    def close(self) -> None:
        """Stop the worker and release kb's connections."""
        self._worker.shutdown(wait=True)
        self.app.close()

    # -- tools ----------------------------------------------------------------------------

    async def _list_tools(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[self._tool(t) for t in self.tools.values()])

    @staticmethod
    def _tool(spec: ToolSpec) -> types.Tool:
        return types.Tool(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            input_schema=spec.args.model_json_schema(),
            output_schema=spec.output.model_json_schema(),
            annotations=types.ToolAnnotations(
                title=spec.title,
                read_only_hint=spec.read_only,
                destructive_hint=False,
                idempotent_hint=spec.read_only,
                # kb is a closed world: its own stores, no calls out.
                open_world_hint=False,
            ),
        )

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = self.tools.get(params.name)
        if spec is None:
            return _error(f"unknown tool {params.name!r} (kb offers: {', '.join(self.tools)})")
        try:
            args = spec.args.model_validate(params.arguments or {})
        except ValidationError as exc:
            return _error(_validation_message(exc))
        try:
            rendered: Rendered = await self._in_kb(self._run, spec, args)
        except KBError as exc:
            return _error(str(exc))
        except Exception as exc:
            # The traceback stays in the server's log; the client gets the message.
            log.exception("tool %s failed", spec.name)
            return _error(f"{spec.name} failed: {type(exc).__name__}: {exc}")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=rendered.text)],
            structured_content=rendered.data,
        )

    def _run(self, spec: ToolSpec, args: Any) -> Rendered:
        if self.app.revision() is None:
            raise KBError(
                "no knowledge base here yet: run `kb init` and `kb ingest ...` "
                "(or start `kb mcp --home DIR` on one)"
            )
        return spec.call(self.app, args)

    # -- resources ------------------------------------------------------------------------

    async def _list_resources(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        cursor = params.cursor if params else None
        try:
            offset = offset_of(cursor)
            items = await self._in_kb(self._listing)
        except KBError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        shown, next_cursor = resources.page_of(items, offset)
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=r.uri,
                    name=r.name,
                    title=r.title,
                    description=r.description,
                    mime_type=resources.MARKDOWN,
                )
                for r in shown
            ],
            next_cursor=next_cursor,
        )

    def _listing(self) -> list[resources.Listed]:
        if self.app.revision() is None:
            return []
        return resources.listing(self.app)

    async def _list_templates(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=t.uri_template,
                    name=t.name,
                    title=t.title,
                    description=t.description,
                    mime_type=resources.MARKDOWN,
                )
                for t in resources.templates_for(self.app)
            ]
        )

    async def _read_resource(
        self, ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            text = await self._in_kb(resources.read, self.app, uri)
        except KBError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except Exception as exc:
            log.exception("reading %s failed", uri)
            raise MCPError(types.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}") from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=resources.MARKDOWN, text=text)]
        )

    # -- transports -----------------------------------------------------------------------

    async def serve_stdio(self) -> None:
        """Serve one client over stdin/stdout until it closes them."""
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read, write):
            await self.server.run(read, write, self.server.create_initialization_options())

    async def serve_http(self, host: str, port: int) -> None:
        """Serve Streamable HTTP at http://host:port/mcp until stopped."""
        import uvicorn

        app = self.server.streamable_http_app(host=host)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        await uvicorn.Server(config).serve()
