"""Log stitching speed: `stitch_logs` for one trace id against parsing every line with orjson.

    .venv/bin/python -m bench.trace                      # 1 GB over 8 services, best of 3
    .venv/bin/python -m bench.trace --size-mb 200 --runs 1 --keep /tmp/trace-logs
    .venv/bin/python -m bench.trace --dir /tmp/trace-logs --around   # reuse; time --around too

Generates JSON-lines logs (deterministic, seeded) for 8 services into a temp dir (or
`--keep DIR`, or reuses `--dir DIR`), one trace planted across 5 of them, then measures:

(a) the baseline: every file read line by line and every line parsed with `orjson.loads`;
(b) `stitch_logs(files, trace_id=PLANTED)`, each run in a fresh Python process, which also
    reports its peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`).

Throughput is input bytes / wall seconds, best of `--runs`; the runs of (a) and (b) take
turns, so a change of load on a shared machine hits both. Targets: (b) ≥ 0.5× (a), and (b)'s
peak RSS ≤ 300 MB. The files are read from the page cache in both, as just written.
With `--around`, (c) times the `--around` mode (a pass that parses every line, then the
pass for the chosen id), for information.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SERVICES = (
    "gateway",
    "checkout-service",
    "order-service",
    "payment-service",
    "inventory-service",
    "user-service",
    "notification-service",
    "shipping-service",
)
START = datetime(2024, 3, 14, 12, 0, tzinfo=UTC)
HOURS = 2.0
PLANTED = "5f0c6a1de2b94c0f8a7b3e21d4c9f6a0"
# (service, seconds after START, level, message, status): the planted request.
PLANTED_PATH = (
    ("gateway", 3600.000, "info", "POST /checkout received", None),
    ("checkout-service", 3600.004, "info", "calling order-service", None),
    ("order-service", 3600.009, "info", "POST /orders", None),
    ("checkout-service", 3600.015, "info", "calling payment-service", None),
    ("payment-service", 3600.020, "info", "POST /payments", None),
    ("payment-service", 3600.410, "error", "provider answered 503", 503),
    ("inventory-service", 3600.030, "info", "reserved 2 lines", None),
    ("checkout-service", 3600.420, "error", "payment failed", 502),
    ("gateway", 3600.430, "warn", "POST /checkout 502", 502),
)


def generate(out: Path, size_mb: int, seed: int) -> list[Path]:
    """Write size_mb of JSON lines spread over the 8 services; the same seed, the same bytes."""
    rng = random.Random(seed)
    pool = [f"{rng.getrandbits(128):032x}" for _ in range(50_000)]
    paths_ = ("/orders", "/payments", "/users", "/reservations", "/shipments", "/notify")
    per_file = size_mb * (1 << 20) // len(SERVICES)
    files = []
    for service in SERVICES:
        path = out / f"{service}.log"
        planted = sorted((t, lvl, msg, st) for s, t, lvl, msg, st in PLANTED_PATH if s == service)
        lines_est = per_file // 300
        step = HOURS * 3600 / lines_est
        written, n, buf = 0, 0, []
        with path.open("wb") as f:
            while written < per_file:
                at = n * step
                while planted and planted[0][0] <= at:
                    t, lvl, msg, st = planted.pop(0)
                    buf.append(_line(service, t, lvl, msg, PLANTED, rng, st))
                r = rng.random()
                level, status = (
                    ("error", 500) if r < 0.01 else ("warn", 429) if r < 0.05 else ("info", 200)
                )
                path_ = paths_[n % len(paths_)]
                msg = f"{'GET' if n % 3 else 'POST'} {path_}/{rng.randrange(10**6)} {status}"
                buf.append(
                    _line(service, at, level, msg, pool[rng.randrange(len(pool))], rng, status)
                )
                n += 1
                if len(buf) >= 4096:
                    data = b"".join(buf)
                    f.write(data)
                    written += len(data)
                    buf.clear()
            f.write(b"".join(buf))
        files.append(path)
    return files


def _line(
    service: str,
    at: float,
    level: str,
    msg: str,
    trace: str,
    rng: random.Random,
    status: int | None,
) -> bytes:
    when = START + timedelta(seconds=at)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    span = f"{rng.getrandbits(64):016x}"
    extra = f',"request_id":"req-{trace[:12]}"' if service == "gateway" else ""
    http = f',"http":{{"status":{status},"duration_ms":{rng.randrange(1, 900)}}}' if status else ""
    return (
        f'{{"ts":"{stamp}","level":"{level}","service":"{service}","logger":"{service}.api",'
        f'"msg":"{msg}","trace_id":"{trace}","span_id":"{span}"{extra}{http}}}\n'
    ).encode()


def baseline(files: list[Path]) -> float:
    """Seconds to read every line and parse it with orjson."""
    start = time.perf_counter()
    for path in files:
        with path.open("rb") as f:
            for line in f:
                orjson.loads(line)
    return time.perf_counter() - start


CHILD = """
import json, resource, sys, time
from datetime import datetime, timedelta
from kb.guides.stitch import stitch_logs
files, trace, around = json.loads(sys.argv[1])
start = time.perf_counter()
if around:
    report = stitch_logs(files, around=datetime.fromisoformat(around), window=timedelta(minutes=10))
else:
    report = stitch_logs(files, trace_id=trace)
seconds = time.perf_counter() - start
data = report.to_json()
print(json.dumps({
    "seconds": seconds,
    "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "trace_id": data["trace_id"],
    "records_for_id": data["counts"]["records_for_id"],
    "records": data["counts"]["records"],
    "malformed": data["counts"]["malformed"],
    "first_error": (data["first_error"] or {}).get("service"),
    "services": [h["service"] for h in data["hops"]],
}))
"""


def stitch_in_child(files: list[Path], around: str | None = None) -> dict:
    """One stitch_logs call in a fresh interpreter: its seconds, peak RSS and findings."""
    arg = json.dumps([[str(p) for p in files], PLANTED, around])
    done = subprocess.run(
        [sys.executable, "-c", CHILD, arg], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the logs, run both measurements, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.trace", description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into DIR and keep it")
    parser.add_argument("--dir", type=Path, help="reuse logs generated earlier with --keep")
    parser.add_argument("--around", action="store_true", help="also time the --around mode")
    args = parser.parse_args(argv)

    tmp = None
    if args.dir:
        files = sorted(args.dir.glob("*.log"))
    else:
        out = args.keep or Path(tempfile.mkdtemp(prefix="kb-trace-bench-"))
        tmp = None if args.keep else out
        out.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        files = generate(out, args.size_mb, args.seed)
        print(f"generated {len(files)} files in {time.perf_counter() - began:.1f} s: {out}")
    try:
        size = sum(p.stat().st_size for p in files)
        mb = size / (1 << 20)
        load = os.getloadavg()[0]
        bases, runs = [], []
        for _ in range(args.runs):
            bases.append(baseline(files))
            runs.append(stitch_in_child(files))
        base = min(bases)
        best = min(runs, key=lambda r: r["seconds"])
        rss_mb = max(r["maxrss_kb"] for r in runs) / 1024
        ratio = base / best["seconds"]
        print(
            f"{date.today()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"orjson {orjson.__version__}, load average {load:.1f} at the start and "
            f"{os.getloadavg()[0]:.1f} at the end; best of {args.runs}"
        )
        print(f"input: {mb:,.0f} MB, {best['records']:,} records, {len(files)} files")
        print(f"(a) baseline, read + orjson.loads per line: {base:.2f} s, {mb / base:,.0f} MB/s")
        print(
            f"(b) stitch_logs(trace_id): {best['seconds']:.2f} s, "
            f"{mb / best['seconds']:,.0f} MB/s, peak RSS {rss_mb:,.0f} MB"
        )
        print(
            f"ratio (b)/(a): {ratio:.2f}× (target ≥ 0.5×: {'met' if ratio >= 0.5 else 'MISSED'}); "
            f"peak RSS target ≤ 300 MB: {'met' if rss_mb <= 300 else 'MISSED'}"
        )
        print(
            f"found: {best['records_for_id']} records of {best['trace_id']}, first error in "
            f"{best['first_error']}, path {' → '.join(best['services'])}"
        )
        if args.around:
            t = (START + timedelta(seconds=3600)).isoformat()
            r = stitch_in_child(files, around=t)
            print(
                f"(c) stitch_logs(around={t}, window=10m): {r['seconds']:.2f} s, "
                f"{mb / r['seconds']:,.0f} MB/s, peak RSS {r['maxrss_kb'] / 1024:,.0f} MB, "
                f"chose {r['trace_id']}"
            )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
