"""`kb mcp` as a client sees it: the SDK's own client talks to the server started as a
subprocess, over stdio (one server for the module) and over Streamable HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextResourceContents

from kb.app import KB

T = TypeVar("T")
AGENT = "test-agent"
LISTING_TOOLS = {"danger_zones", "who_knows"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return env | extra


class Session:
    """A client connected to one `kb mcp` subprocess, driven from synchronous tests.

    The client lives in one task of a portal's event loop for the whole module; each test
    call runs there and waits for its answer.
    """

    def __init__(self, server: StdioServerParameters | str) -> None:
        self._cm = start_blocking_portal()
        self.portal: BlockingPortal = self._cm.__enter__()
        self.client: Client
        self._stop: anyio.Event
        self.portal.start_task(self._hold, server)

    async def _hold(self, server: Any, *, task_status: TaskStatus[None]) -> None:
        self._stop = anyio.Event()
        async with Client(server, read_timeout_seconds=120) as client:
            self.client = client
            task_status.started()
            await self._stop.wait()

    def __call__(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return self.portal.call(fn, *args)

    def tool(self, name: str, **arguments: Any) -> CallToolResult:
        """Call a tool; the result as the client got it (validated against its schema)."""
        return self(self.client.call_tool, name, arguments)

    def close(self) -> None:
        self.portal.call(self._stop.set)
        self._cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def mcp_home(
    copy_demo_home: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the session's demo knowledge base (this module teaches its copy), with the
    ONNX query encoder `kb init` exports, as a real home has."""
    from kb.embedding.query_encoder import ensure_query_encoder

    home = copy_demo_home(tmp_path_factory.mktemp("mcp") / "kb")
    ensure_query_encoder(home / "models")
    return home


@pytest.fixture(scope="module")
def mcp(mcp_home: Path) -> Iterator[Session]:
    """The SDK's client on `kb mcp` over stdio, remember enabled for an agent identity."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kb.cli", "--home", str(mcp_home), "mcp"],
        env=_env(KB_MCP_REMEMBER="1", KB_MCP_AGENT_IDENTITY=AGENT),
    )
    session = Session(server)
    yield session
    session.close()


def _text(result: CallToolResult) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text"
    return result.content[0].text


def _read(session: Session, uri: str) -> TextResourceContents:
    contents = session(session.client.read_resource, uri).contents
    assert len(contents) == 1 and isinstance(contents[0], TextResourceContents)
    return contents[0]


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [_resolve(s, defs) for s in schema[union]]
            return next((o for o in options if o.get("type") != "null"), options[0])
    return schema


def _uncovered(value: Any, schema: dict[str, Any], defs: dict[str, Any], at: str) -> list[str]:
    """Keys of a value that its schema does not name (a result grew, its schema did not)."""
    schema = _resolve(schema, defs)
    out = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                out.append(f"{at}.{key}")
            else:
                out += _uncovered(item, schema["properties"][key], defs, f"{at}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for item in value[:3]:
            out += _uncovered(item, schema["items"], defs, f"{at}[]")
    return out


def _schema_covers(session: Session, name: str, data: dict[str, Any]) -> None:
    tools = {t.name: t for t in session(session.client.list_tools).tools}
    schema = tools[name].output_schema
    assert schema is not None
    assert _uncovered(data, schema, schema.get("$defs", {}), name) == []


# -- listing --------------------------------------------------------------------------------


def test_tools_are_listed_read_only_with_typed_schemas(mcp: Session) -> None:
    tools = {t.name: t for t in mcp(mcp.client.list_tools).tools}
    assert {"ask", "danger_zones", "who_knows", "remember"} <= set(tools)
    # The others arrive with the KB methods they need; none is listed without its method.
    pending = {"service_context": "agent_context", "blast_radius": "servicemap",
               "change_impact": "servicemap", "incident_trace": "incidents"}  # fmt: skip
    for pending_tool, service in pending.items():
        assert (pending_tool in tools) == hasattr(KB, service), pending_tool
    for name, tool in tools.items():
        assert tool.description and tool.title
        assert tool.input_schema["type"] == "object" and tool.input_schema["properties"]
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (name != "remember")
        assert tool.annotations.destructive_hint is False
        if name in LISTING_TOOLS:
            props = tool.input_schema["properties"]
            assert props["limit"]["maximum"] == 50 and "cursor" in props
    assert tools["ask"].input_schema["required"] == ["question"]
    assert set((tools["danger_zones"].output_schema or {})["properties"]) >= {
        "danger_zone", "zones", "ask", "page"}  # fmt: skip


def test_resources_and_templates_are_listed(mcp: Session, demo_org: Any) -> None:
    listed = mcp(mcp.client.list_resources)
    uris = [r.uri for r in listed.resources]
    assert listed.next_cursor is None  # the demo's 14 fit one page of 50
    services = sorted(demo_org.manifest["services"])
    assert uris[: len(services)] == [f"service://{s}" for s in services]
    for adr in demo_org.manifest["adrs"]:
        assert f"adr://{adr['repo']}/{adr['number']}" in uris
    assert all(r.mime_type == "text/markdown" for r in listed.resources)
    templates = {t.uri_template for t in mcp(mcp.client.list_resource_templates).resource_templates}
    assert {"adr://{repo}/{number}", "service://{name}"} <= templates
    assert ("onboarding://{service}" in templates) == hasattr(KB, "onboarding")


# -- tools ----------------------------------------------------------------------------------


def test_ask_answers_with_the_clis_citations(mcp: Session) -> None:
    result = mcp.tool("ask", question="why is payment to order async?", k=5)
    data = _ok(result)
    assert data["answered"] and data["question"] == "why is payment to order async?"
    paths = {c["path"] for c in data["citations"]}
    assert "docs/adr/0003-async-payment-via-events.md" in paths
    assert any(c["kind"] == "commit" and "SHOP-412" in c["title"] for c in data["citations"])
    assert data["ask"] and data["ask"][0]["name"] == "Alex Morgan"
    text = _text(result)
    assert data["answer"].strip() in text and "**Sources**" in text
    for c in data["citations"]:  # every citation, numbered as the answer cites it
        assert f"[{c['number']}] {c['kind']}: " in text
    assert "[1]" in data["answer"]
    assert f"answer id `{data['id']}`" in text
    _schema_covers(mcp, "ask", data)


def test_danger_zones_say_why_and_whom_to_ask(mcp: Session, demo_org: Any) -> None:
    planted = next(d for d in demo_org.manifest["danger_zones"] if "legacy" in d["path"])
    result = mcp.tool("danger_zones", path=f"{planted['repo']}:{planted['path']}")
    data = _ok(result)
    assert data["danger_zone"] is True and data["repos"] == [planted["repo"]]
    zone = data["zones"][0]
    assert zone["scope"] == "file" and zone["line"] == planted["line"]
    assert zone["source"]["kind"] == "code" and zone["source"]["path"] == planted["path"]
    assert "Don't touch" in zone["body"]
    assert data["ask"] and not data["ask"][0]["departed"]
    assert data["page"] == {"offset": 0, "limit": 10, "total": data["total"], "next_cursor": None}
    text = _text(result)
    assert text.startswith(f"# Danger zone: {planted['repo']}:{planted['path']}")
    assert f"- [1] code: {zone['source']['title']}" in text and "**Ask**" in text
    _schema_covers(mcp, "danger_zones", data)


def test_danger_zones_page_through_a_directory(mcp: Session, demo_kb: tuple[KB, list[Any]]) -> None:
    query = "inventory-service:src/inventory"
    seen: list[str] = []
    cursor = None
    while True:
        data = _ok(mcp.tool("danger_zones", path=query, limit=2, cursor=cursor))
        assert len(data["zones"]) <= 2 and data["page"]["offset"] == len(seen)
        seen += [z["id"] for z in data["zones"]]
        cursor = data["page"]["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == data["total"] > 2 and len(set(seen)) == len(seen)
    assert seen == [z.id for z in demo_kb[0].danger_zones(query).zones]


def test_who_knows_pages_current_people_and_lists_who_left(mcp: Session) -> None:
    tokens = _ok(mcp.tool("who_knows", query="user-service:src/users/tokens.py"))
    assert tokens["kind"] == "path" and tokens["scope"] == ["user-service:src/users/tokens.py"]
    assert [p["name"] for p in tokens["people"]] == ["Alex Morgan"]
    assert "Chen Wei" in {p["name"] for p in tokens["departed"]}
    assert tokens["people"][0]["evidence"]["files"] == ["user-service:src/users/tokens.py"]
    assert tokens["page"]["next_cursor"] is None
    first = _ok(mcp.tool("who_knows", query="payment-service", limit=2))
    assert first["kind"] == "service" and len(first["people"]) == 2
    assert first["people"][0]["name"] == "Alex Morgan" and first["departed"]
    assert first["page"]["next_cursor"] == "2"
    second = _ok(mcp.tool("who_knows", query="payment-service", limit=2, cursor="2"))
    names = [p["name"] for p in second["people"]]
    assert names and not set(names) & {p["name"] for p in first["people"]}
    assert second["departed"] == [] and second["page"]["offset"] == 2
    assert "call again with cursor" in _text(mcp.tool("who_knows", query="payment-service",
                                                      limit=1))  # fmt: skip
    _schema_covers(mcp, "who_knows", first)


def test_remember_is_agent_taught_and_cited_as_such(mcp: Session) -> None:
    result = mcp.tool(
        "remember",
        text="Refund webhooks from Adyen arrive twice on retries: dedupe them by pspReference "
        "before booking, or the ledger double-counts the refund.",
        service="payment-service",
        kind="known_issue",
    )
    data = _ok(result)
    assert data["origin"] == "agent_taught" and data["said_by"] == AGENT
    assert data["id"].startswith("taught:") and "(agent-taught)" in _text(result)
    answer = _ok(mcp.tool("ask", question="do adyen refund webhooks arrive twice?"))
    notes = [c for c in answer["citations"] if c["kind"] == "note"]
    assert notes and notes[0]["author"] == AGENT
    assert f"As {AGENT} (a coding agent) noted on " in answer["answer"]
    # The note bears on the service's files, marked as the agent's.
    zones = _ok(mcp.tool("danger_zones", path="payment-service:src/payment/refunds.py"))
    taught = [z for z in zones["zones"] if z["id"] == data["id"]]
    assert taught and taught[0]["origin"] == "agent_taught" and taught[0]["scope"] == "service"
    assert AGENT not in {c["name"] for c in zones["ask"]}  # an agent is nobody to ask
    _schema_covers(mcp, "remember", data)


def test_teaching_never_loads_torch(mcp_home: Path) -> None:
    # A long-running server that is taught embeds the note with the ONNX export.
    code = (
        "import sys; from kb import KB, Settings; "
        f"app = KB(Settings(home={str(mcp_home)!r})); "
        "note = app.remember('Invoices are numbered per legal entity, never globally.', "
        "by='x'); print(note.id, 'torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr
    note_id, torch_loaded = res.stdout.split()
    assert note_id.startswith("taught:") and torch_loaded == "False"


def test_errors_are_tool_errors_with_the_message(mcp: Session) -> None:
    cases = {
        ("ask", ()): "invalid arguments: question: Field required",
        ("danger_zones", (("path", "x"), ("limit", 0))): "limit: Input should be greater",
        ("danger_zones", (("path", "x"), ("colour", "red"))): "colour: Extra inputs",
        ("danger_zones", (("path", "x"), ("cursor", "page-2"))): "bad cursor 'page-2'",
        ("danger_zones", (("path", " "),)): "give the path of a file or directory",
        ("who_knows", (("query", "   "),)): "ask about a path, a service or a topic",
        ("remember", (("text", "x"), ("service", "billing"))): "no service 'billing'",
        ("deploy", ()): "unknown tool 'deploy'",
    }
    for (name, args), message in cases.items():
        result = mcp.tool(name, **dict(args))
        assert result.is_error, (name, args)
        text = _text(result)
        assert message in text, (name, text)
        assert "Traceback" not in text and 'File "' not in text


def test_resources_read_as_markdown(mcp: Session, demo_org: Any) -> None:
    adr = _read(mcp, "adr://order-service/3")
    assert adr.mime_type == "text/markdown" and adr.uri == "adr://order-service/3"
    assert adr.text.startswith("# ADR-0003: Asynchronous payment via events")
    assert "- status: accepted" in adr.text and "- supersedes: ADR-0002" in adr.text
    old = _read(mcp, "adr://order-service/2").text
    assert "superseded by ADR-0003" in old
    service = _read(mcp, "service://payment-service").text
    assert service.startswith("# payment-service") and "## Who knows it" in service
    assert "order-service: async_event" in service
    for uri, message in (
        ("adr://order-service/9", "order-service has no ADR 9 (it has: 1, 2, 3)"),
        ("service://billing", "no service 'billing'"),
        ("ftp://x", "unknown resource 'ftp://x'"),
    ):
        with pytest.raises(MCPError) as caught:
            mcp(mcp.client.read_resource, uri)
        assert message in caught.value.message and "Traceback" not in caught.value.message


def test_an_empty_home_answers_with_what_to_do(tmp_path: Path) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kb.cli", "--home", str(tmp_path / "none"), "mcp"],
        env=_env(),
    )
    session = Session(server)
    try:
        result = session.tool("danger_zones", path="src/app.py")
        assert result.is_error
        assert "no knowledge base here yet: run `kb init`" in _text(result)
        assert session(session.client.list_resources).resources == []
    finally:
        session.close()


def test_resource_listings_page() -> None:
    from kb_mcp.resources import Listed, page_of
    from kb_mcp.schemas import RESOURCE_PAGE

    items = [Listed(f"service://s{i}", f"s{i}", f"s{i}", None) for i in range(RESOURCE_PAGE + 3)]
    first, cursor = page_of(items, 0)
    assert len(first) == RESOURCE_PAGE and cursor == str(RESOURCE_PAGE)
    rest, end = page_of(items, int(cursor))
    assert [r.uri for r in rest] == [f"service://s{i}" for i in range(RESOURCE_PAGE, 53)]
    assert end is None


# Tools over capabilities that arrive with the service map and the guides.


@pytest.mark.parametrize(
    ("tool", "method", "arguments"),
    [
        ("service_context", "agent_context", {"service": "payment-service"}),
        ("blast_radius", "servicemap", {"service": "payment-service"}),
        ("change_impact", "servicemap", {"target": "payment.completed"}),
        ("incident_trace", "incidents",
         {"service": "payment-service", "symptom": "timeouts on POST /payments"}),
    ],
)  # fmt: skip
def test_pending_tools_answer_once_kb_has_them(
    mcp: Session, tool: str, method: str, arguments: dict[str, Any]
) -> None:
    if not hasattr(KB, method):
        pytest.skip(f"this kb has no KB.{method} yet, so `kb mcp` offers no {tool}")
    data = _ok(mcp.tool(tool, **arguments))
    assert data


# -- Streamable HTTP ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streamable_http_serves_the_same_tools(mcp_home: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "--home", str(mcp_home), "mcp", "--http",
         "--port", str(port)],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "kb mcp --http did not start listening"
            time.sleep(0.2)
        session = Session(f"http://127.0.0.1:{port}/mcp")
        try:
            names = {t.name for t in session(session.client.list_tools).tools}
            assert {"ask", "danger_zones", "who_knows"} <= names
            assert "remember" not in names  # off unless the settings enable it
            data = _ok(session.tool("danger_zones", path="src/inventory/reservations.py"))
            assert data["danger_zone"] is True and data["repos"] == ["inventory-service"]
            assert _read(session, "service://order-service").text.startswith("# order-service")
        finally:
            session.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
