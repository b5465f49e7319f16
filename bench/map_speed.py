"""How fast `kb map --json` answers on a 20-service system (target: 300 ms).

    .venv/bin/python -m bench.map_speed [--services 20] [--runs 7] [--json]
    .venv/bin/python -m bench.map_speed --home KB_HOME   # an ingested system's map instead

Builds a throwaway kb home holding a 20-service monorepo's map (services with owners and
aliases-free names, HTTP calls with endpoints, event topics with three consumers each,
CODEOWNERS rules: what an ingest stores), written through kb's own store. Then it times the
`kb` command line in fresh processes, as a user runs it: `kb map --json`, and in the same
run `kb --version` as the baseline of starting Python and kb at all on this machine, so the
ratio holds on a loaded machine too. Prints the median and best of each, the ratio, and
the CPU time each process used (less sensitive to other load than wall time).
Bytecode is cached as after `make install` (one untimed run of each command first).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kb.app import KB
from kb.contract.kinds import DependencyKind, EventRole
from kb.contract.records import (
    CodeOwnerRecord,
    DependencyRecord,
    EventTopicRecord,
    RepoRecord,
    ServiceRecord,
)
from kb.settings import Settings
from kb.store.writer import RecordWriter

TARGET_MS = 300.0
REPO = "shop"


def build(home: Path, services: int) -> dict[str, int]:
    """A kb home holding the map of a `services`-service monorepo; returns its counts."""
    app = KB(Settings(home=home))
    app.store.migrate()
    names = [f"svc-{i:02d}" for i in range(services)]
    edges = topics = 0
    with app.store.transaction(write=True) as s:
        w = RecordWriter(s, None)
        w.repo(RepoRecord(REPO, str(home / REPO), head_commit="0" * 40, is_monorepo=True))
        for i, name in enumerate(names):
            w.service(ServiceRecord(name, REPO, f"services/{name}", owner_team=f"team-{i % 5}"))
            w.code_owner(CodeOwnerRecord(REPO, f"/services/{name}/", f"@team-{i % 5}", i + 1))
        for i, name in enumerate(names):
            for j in (i + 1, i + 3):  # each calls two services further down the chain
                if j < services:
                    callee = names[j]
                    for route, line in ((f"GET /{callee}/{{id}}", 12), (f"POST /{callee}", 30)):
                        w.dependency(
                            DependencyRecord(
                                name,
                                callee,
                                DependencyKind.SYNC_HTTP,
                                route,
                                REPO,
                                f"services/{name}/client_{j}.py",
                                line,
                            )
                        )
                        edges += 1
            if i % 2 == 0:  # every other service publishes a topic three others consume
                topic = f"{name}.changed"
                topics += 1
                w.event_topic(
                    EventTopicRecord(
                        name, topic, EventRole.PUBLISH, REPO, f"services/{name}/events.py", 8
                    )
                )
                for consumer in sorted({names[(i + k) % services] for k in (1, 4, 7)} - {name}):
                    w.event_topic(
                        EventTopicRecord(
                            consumer,
                            topic,
                            EventRole.SUBSCRIBE,
                            REPO,
                            f"services/{consumer}/consumer.py",
                            15,
                        )
                    )
                    edges += 1
        w.derive_event_dependencies()
    app.close()
    return {"services": services, "edges": edges, "topics": topics}


# Bytecode is written and reused, as after `make install` (which byte-compiles kb).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(cmd: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) milliseconds of each run of `cmd` in a fresh process."""
    subprocess.run(cmd, check=True, capture_output=True, env=_ENV)  # warm: caches, bytecode
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=_ENV)
        wall.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        cpu.append(used * 1000)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    """Build, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--home", type=Path, help="Time this kb's map instead (an ingest).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-map-speed-") as tmp:
        home = args.home or Path(tmp) / "kb"
        counts = (
            {"services": 0, "edges": 0, "topics": 0} if args.home else build(home, args.services)
        )
        kb = [sys.executable, "-m", "kb.cli"]
        mapped = subprocess.run(
            [*kb, "--home", str(home), "map", "--json"], check=True, capture_output=True, text=True
        ).stdout
        data = json.loads(mapped)
        if args.home:
            counts["services"] = len(data["services"])
        else:
            assert len(data["services"]) == args.services, data["services"]
        baseline, baseline_cpu = _time([*kb, "--version"], args.runs)
        timed, timed_cpu = _time([*kb, "--home", str(home), "map", "--json"], args.runs)
    result: dict[str, Any] = {
        **counts,
        "map_edges": len(data["edges"]),
        "runs": args.runs,
        "map_ms": {"median": round(statistics.median(timed)), "best": round(min(timed))},
        "version_ms": {"median": round(statistics.median(baseline)), "best": round(min(baseline))},
        "ratio": round(statistics.median(timed) / statistics.median(baseline), 2),
        "map_cpu_ms": round(statistics.median(timed_cpu)),
        "version_cpu_ms": round(statistics.median(baseline_cpu)),
        "load_average": round(os.getloadavg()[0], 1),
        "target_ms": TARGET_MS,
    }
    result["ok"] = result["map_ms"]["median"] <= TARGET_MS
    if args.json:
        print(json.dumps(result))
        return 0
    topics = f" ({counts['topics']} topics)" if counts["topics"] else ""
    print(
        f"{counts['services']} services, {result['map_edges']} edges on the map{topics}, "
        f"{args.runs} runs each"
    )
    print(
        f"kb map --json   median {result['map_ms']['median']} ms, "
        f"best {result['map_ms']['best']} ms (target <= {TARGET_MS:.0f} ms)"
    )
    print(
        f"kb --version    median {result['version_ms']['median']} ms, "
        f"best {result['version_ms']['best']} ms"
    )
    print(f"ratio (map / version): {result['ratio']}")
    print(
        f"CPU time (user + system), median: map {result['map_cpu_ms']} ms, "
        f"version {result['version_cpu_ms']} ms; load average {result['load_average']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
