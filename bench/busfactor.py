"""Bus factor from an empty home, against the cost of the reference pipeline's git log.

    .venv/bin/python -m bench.busfactor PATH_TO_REPO [PATH_TO_REPO ...] [--reference DIR]

For each repository (brought in from outside; it stays where it is, nothing of it is copied
into this project):

1. the baseline: a raw `git log --name-status --find-renames` of the repo (what the
   reference tool, aserg-ufmg/Truck-Factor, reads), best of `--runs` (3);
2. kb from an empty home, as a user runs it: `kb ingest git PATH --history-only`, then
   `kb bus-factor --json` (default mode) — the timed pipeline, best of `--runs` too;
3. `kb bus-factor --algorithm avelino2016 --json` on the same home (compatibility mode);
4. with `--reference DIR`, the reference tool itself (`DIR/run_reference.sh REPO NAME`,
   which prints `TF = n` and the TF authors), so both modes can be compared with the
   published algorithm's own result in the same run.

Prints one table: commits, files, the baseline's seconds, kb's seconds, kb / baseline and
the target (2 × baseline + 1 s), the truck factor in both modes and the reference's.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KB = [str(ROOT / ".venv" / "bin" / "kb")]


@dataclass
class Row:
    repo: str
    commits: int = 0
    files: int = 0
    git_log_s: float = 0.0
    ingest_s: float = 0.0
    busfactor_s: float = 0.0
    default_tf: int | None = None
    default_authors: list[str] = field(default_factory=list)
    compat_tf: int | None = None
    compat_authors: list[str] = field(default_factory=list)
    compat_files: int = 0
    reference_tf: int | None = None
    reference_authors: list[str] = field(default_factory=list)
    reference_s: float | None = None

    @property
    def kb_s(self) -> float:
        return self.ingest_s + self.busfactor_s

    @property
    def target_s(self) -> float:
        return 2 * self.git_log_s + 1.0


def _timed(cmd: list[str], **kw: Any) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, check=False, **kw)
    elapsed = time.perf_counter() - t0
    if res.returncode not in (0, 3):  # 3: some items skipped, reported
        sys.exit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr.decode()[-2000:]}")
    return elapsed, res


def git_log_seconds(repo: Path, runs: int = 3) -> float:
    """The reference pipeline's cost: the raw name-status log, best of `runs`."""
    cmd = ["git", "-C", str(repo), "-c", "diff.renameLimit=999999", "log",
           "--name-status", "--find-renames", "--pretty=format:commit\t%H"]  # fmt: skip
    return min(_timed(cmd)[0] for _ in range(runs))


def reference(ref_dir: Path, repo: Path, name: str) -> tuple[float, int | None, list[str]]:
    """Run the reference tool through its wrapper script; parse TF and its authors."""
    secs, res = _timed([str(ref_dir / "run_reference.sh"), str(repo), name])
    text = res.stdout.decode("utf-8", "replace")
    m = re.search(r"TF\s*=\s*(\d+)", text)
    authors: list[str] = []
    block = text.split("TF authors", 1)
    if len(block) == 2:
        for line in block[1].splitlines()[1:]:
            line = line.strip()
            if not line or line.startswith("#"):
                break
            authors.append(line.split(";")[0].strip())
    return secs, (int(m.group(1)) if m else None), authors


def measure(repo: Path, ref_dir: Path | None, runs: int = 3) -> Row:
    row = Row(repo.name)
    row.commits = int(
        subprocess.run(
            ["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    row.git_log_s = git_log_seconds(repo, runs)
    # Best of `runs`, from an empty home each time (the baseline is its best of `runs`);
    # compatibility mode then runs on the last run's home.
    best: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory(prefix="kb-bf-") as root:
        for i in range(runs):
            base = [*KB, "--home", str(Path(root) / f"run{i}")]
            ingest_s, _ = _timed([*base, "ingest", "git", str(repo), "--history-only", "--json"])
            busfactor_s, res = _timed([*base, "bus-factor", "--json"])
            if best is None or ingest_s + busfactor_s < sum(best):
                best = (ingest_s, busfactor_s)
        assert best is not None
        row.ingest_s, row.busfactor_s = best
        data = json.loads(res.stdout)["repos"][0]
        row.default_tf, row.default_authors = data["truck_factor"], data["truck_factor_authors"]
        row.files = data["files_analyzed"]
        _, res = _timed([*base, "bus-factor", "--algorithm", "avelino2016", "--json"])
        data = json.loads(res.stdout)["repos"][0]
        row.compat_tf, row.compat_authors = data["truck_factor"], data["truck_factor_authors"]
        row.compat_files = data["files_analyzed"]
    if ref_dir is not None:
        row.reference_s, row.reference_tf, row.reference_authors = reference(
            ref_dir, repo, repo.name
        )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", nargs="+", type=Path, help="local clones with full history")
    parser.add_argument("--reference", type=Path, help="dir holding run_reference.sh")
    parser.add_argument("--runs", type=int, default=3, help="best of N for both sides")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    for repo in args.repos:
        print(f"measuring {repo} ...", file=sys.stderr)
        rows.append(measure(repo.resolve(), args.reference, args.runs))
    if args.json:
        print(json.dumps([{**r.__dict__, "kb_s": r.kb_s, "target_s": r.target_s} for r in rows]))
        return 0
    # The "+ 1 s" of the target is absolute: say how fast this machine starts Python.
    startup = min(_timed([sys.executable, "-c", "pass"])[0] for _ in range(5))
    sqla = min(_timed([sys.executable, "-c", "import sqlalchemy"])[0] for _ in range(5))
    print(
        f"this machine: python starts in {startup * 1000:.0f} ms, "
        f"`import sqlalchemy` takes {sqla * 1000:.0f} ms (best of 5)\n"
    )
    print(
        "| repo | commits | files (default / compat) | git log s | kb s (ingest + bus-factor) "
        "| kb / git log | target s | met | TF default | TF avelino2016 | TF reference |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ref = "—"
        if r.reference_tf is not None:
            same = "=" if r.reference_tf == r.compat_tf else "≠"
            ref = f"{r.reference_tf} {same} ({', '.join(r.reference_authors)})"
        print(
            f"| {r.repo} | {r.commits} | {r.files} / {r.compat_files} | {r.git_log_s:.2f} "
            f"| {r.kb_s:.2f} ({r.ingest_s:.2f} + {r.busfactor_s:.2f}) "
            f"| {r.kb_s / r.git_log_s:.1f}× | {r.target_s:.2f} | "
            f"{'yes' if r.kb_s <= r.target_s else 'no'} "
            f"| {r.default_tf} ({', '.join(r.default_authors)}) "
            f"| {r.compat_tf} ({', '.join(r.compat_authors)}) | {ref} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
