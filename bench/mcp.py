"""How fast `kb mcp` answers a coding agent: warm tool-call latency over the stdio client.

    .venv/bin/python -m bench.mcp                          # demo organisation, seed 42
    .venv/bin/python -m bench.mcp --org DIR --home H       # reuse a generated org / kb home
    .venv/bin/python -m bench.mcp --home H --calls 50 --json

The run generates the demo organisation (or reuses --org), builds a kb home with the kb CLI
as bench.retrieval does (or reuses --home), starts `kb --home H mcp` as a subprocess and
talks to it with the MCP SDK's own client over stdio, as an agent would. Each tool (and each
resource template) is called once to warm it, then `--calls` times with arguments that vary
from call to call (the demo's eval questions, its danger-zone files and hotspots, services,
paths and topics, the events and endpoints a change may break, incident symptoms); every
call is timed at the client, from request to validated result. The report gives p50 / p95 /
max per tool against the target (p95 ≤ 200 ms).

`remember` writes a note through the ingestion pipeline (embedding it), which also makes the
next `ask` rebuild its retriever; it is measured last, on a copy of the home, apart from the
read-only tools.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from bench.retrieval import DEMO_QUESTIONS, EVAL_DIR, _demo_org, build_kb_home, kb_cli, load_notes

TARGET_P95_MS = 200.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def workload(org: Path) -> dict[str, list[dict[str, Any]]]:
    """Arguments for each tool, varied: what an agent on the demo organisation would ask."""
    manifest = json.loads((org / "manifest.json").read_text())
    questions = [q["question"] for q in json.loads(DEMO_QUESTIONS.read_text())["questions"]]
    services = sorted(manifest["services"])
    dangers = [f"{d['repo']}:{d['path']}" for d in manifest["danger_zones"]]
    files = []
    for repo in sorted(manifest["repos"]):
        root = org / "repos" / repo
        files += sorted(
            f"{repo}:{p.relative_to(root).as_posix()}"
            for p in root.rglob("*.py")
            if ".git" not in p.parts
        )[:6]
    paths = dangers + files
    deps = manifest["declared_dependencies"]
    events = sorted({d["via"] for d in deps if d["kind"] == "async_event"})
    endpoints = sorted({d["via"] for d in deps if d["kind"] == "sync_http"})
    topics = ["refund retries", "kafka consumer lag", "signing keys", "stock reservations",
              "email storm", "idempotency keys", "checkout timeouts"]  # fmt: skip
    return {
        "ask": [{"question": q} for q in questions],
        "danger_zones": [{"path": p} for p in paths]
        + [{"path": p.split(":", 1)[1]} for p in dangers]
        + [{"path": f"{s}:src", "limit": 5} for s in services],
        "who_knows": [{"query": q} for q in services + paths[:12] + topics],
        "service_context": [{"service": s} for s in services],
        "blast_radius": [{"service": s} for s in services],
        "change_impact": [{"target": t} for t in [*dangers, *files[:8], *events, *endpoints]],
        "incident_trace": [
            {"service": s, "symptom": symptom}
            for s in services
            for symptom in ("timeouts on checkout", "duplicate emails", "5xx after deploy")
        ],
    }


def resource_workload(org: Path) -> list[str]:
    """Resource URIs to read: every service page and every decision record."""
    manifest = json.loads((org / "manifest.json").read_text())
    uris = [f"service://{s}" for s in sorted(manifest["services"])]
    uris += [f"adr://{a['repo']}/{a['number']}" for a in manifest["adrs"]]
    return uris


async def _timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await fn()
    return (time.perf_counter() - start) * 1000, result


async def measure(home: Path, org: Path, calls: int, remember: bool) -> dict[str, list[float]]:
    """Milliseconds per call, per tool (and per resource template), over one stdio session."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    if remember:
        env |= {"KB_MCP_REMEMBER": "1", "KB_MCP_AGENT_IDENTITY": "bench-agent"}
    cli = kb_cli()
    server = StdioServerParameters(
        command=cli[0], args=[*cli[1:], "--home", str(home), "mcp"], env=env
    )
    timings: dict[str, list[float]] = {}
    start = time.perf_counter()
    async with Client(server, read_timeout_seconds=300) as client:
        _log(f"  server ready in {time.perf_counter() - start:.1f} s")
        offered = {t.name for t in (await client.list_tools()).tools}

        async def call(tool: str, args: dict[str, Any]) -> float:
            ms, result = await _timed(lambda: client.call_tool(tool, args))
            if result.is_error:
                raise SystemExit(f"{tool}({args}) failed: {result.content[0].text}")
            return ms

        if remember:
            notes = [
                f"Bench note {i}: the nightly settlement import must finish before the "
                f"ledger export starts (run {i})."
                for i in range(calls + 1)
            ]
            await call("remember", {"text": notes[0], "service": "payment-service"})
            timings["remember"] = [
                await call("remember", {"text": n, "service": "payment-service"}) for n in notes[1:]
            ]
            return timings
        for tool, argsets in workload(org).items():
            if tool not in offered:
                continue
            await call(tool, argsets[-1])  # warm: the first call builds what the tool needs
            timings[tool] = [await call(tool, argsets[i % len(argsets)]) for i in range(calls)]
        uris = resource_workload(org)
        for scheme in ("service", "adr"):
            mine = [u for u in uris if u.startswith(scheme + "://")]
            await client.read_resource(mine[-1])
            times = []
            for i in range(calls):
                uri = mine[i % len(mine)]
                ms, _ = await _timed(lambda uri=uri: client.read_resource(uri))
                times.append(ms)
            timings[f"resource {scheme}://"] = times
        ms_list, _ = await _timed(client.list_resources)
        timings["resources/list"] = [ms_list]
    return timings


def report(timings: dict[str, list[float]], home: Path, calls: int) -> dict[str, Any]:
    """Per tool: calls, p50, p95, max and whether p95 meets the target."""
    rows = []
    for name, times in timings.items():
        rows.append(
            {
                "tool": name,
                "calls": len(times),
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "max_ms": round(max(times), 1),
                "meets_target": percentile(times, 95) <= TARGET_P95_MS,
            }
        )
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "home": str(home),
        "calls_per_tool": calls,
        "target_p95_ms": TARGET_P95_MS,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}",
        "tools": rows,
    }


def markdown(data: dict[str, Any]) -> str:
    """The report as a markdown table."""
    lines = [
        f"Warm tool calls over stdio ({data['date']}, {data['machine']}), "
        f"target p95 ≤ {data['target_p95_ms']:g} ms:",
        "",
        "| tool | calls | p50 | p95 | max | p95 ≤ target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in data["tools"]:
        ok = "✓" if r["meets_target"] else "✗"
        lines.append(
            f"| {r['tool']} | {r['calls']} | {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms | "
            f"{r['max_ms']:.0f} ms | {ok} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Build or reuse a demo kb home, measure every tool over stdio, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--org", type=Path, help="A generated demo organisation to reuse.")
    parser.add_argument("--home", type=Path, help="A kb home to reuse (built when missing).")
    parser.add_argument("--calls", type=int, default=40, help="Timed calls per tool.")
    parser.add_argument("--skip-remember", action="store_true", help="Do not time `remember`.")
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
    args = parser.parse_args(argv)

    org = _demo_org(args.org)
    home = args.home or Path(tempfile.mkdtemp(prefix="kb-bench-mcp-")) / "kb"
    manifest = json.loads((org / "manifest.json").read_text())
    repos = {n: org / r["path"] for n, r in sorted(manifest["repos"].items())}
    notes = load_notes(EVAL_DIR / "demo_notes.json")
    build_kb_home(home, repos, org / manifest["slack"]["zip"], notes)
    _log(f"measuring {args.calls} warm calls per tool against {home}")
    timings = anyio.run(measure, home, org, args.calls, False)
    if not args.skip_remember:
        # remember writes: on a copy, so the home stays as built for the next run.
        scratch = Path(tempfile.mkdtemp(prefix="kb-bench-mcp-remember-")) / "kb"
        shutil.copytree(home, scratch)
        try:
            timings |= anyio.run(measure, scratch, org, max(5, args.calls // 4), True)
        finally:
            shutil.rmtree(scratch.parent, ignore_errors=True)
    data = report(timings, home, args.calls)
    print(json.dumps(data, indent=2) if args.json else markdown(data))
    return 0 if all(r["meets_target"] for r in data["tools"]) else 1


if __name__ == "__main__":
    sys.exit(main())
