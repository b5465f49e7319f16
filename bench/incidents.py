"""Incident plan back-test on the demo organisation.

    .venv/bin/python -m bench.incidents                 # builds the demo org and kb (~5 min)
    .venv/bin/python -m bench.incidents --home demo-out/kb --org demo-out/org   # reuse them
    .venv/bin/python -m bench.incidents --json

For every incident kb holds, the plan is made as of its start with later knowledge hidden
(`KB.incidents.backtest()`), and two figures are printed, with their targets:

- how often the change its write-up names as the cause ranks in the top 3 of "recent
  changes";
- how often an incident with the same root cause ranks in the top 3 of "similar past
  incidents".

The truth the back-test reads from the write-ups is checked against the demo's manifest
(`causal_commit`, `same_root_cause_as`), and the page still open at the end of the history is
planned at kb's now: its cause must rank first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.8


def _build(work: Path) -> tuple[Path, Path]:
    from kb import KB, Settings
    from kb.contract.connector import SourceConfig
    from seed import generate_demo_org

    org = generate_demo_org(work / "org", seed=42)
    app = KB(Settings(home=work / "kb"))
    app.init()
    for name in sorted(org.manifest["repos"]):
        app.ingest(SourceConfig("git", name, str(org.repo_path(name)), {}))
    app.ingest(SourceConfig("slack-export", "shopfast", str(org.slack_zip), {}))
    app.close()
    return work / "org", work / "kb"


def run(home: Path, org: Path) -> dict[str, Any]:
    """The back-test, its agreement with the manifest, and the open page's plan."""
    from kb import KB, Settings

    manifest = json.loads((org / "manifest.json").read_text())
    app = KB(Settings(home=home))
    t0 = time.perf_counter()
    result = app.incidents.backtest()
    seconds = time.perf_counter() - t0
    data = result.to_json()
    by_id = {c["id"]: c for c in data["cases"]}
    disagree = []
    for inc in manifest["incidents"]:
        case = by_id.get(inc["id"])
        sha = inc["causal_commit"]["sha"][:8]
        if case is None or not any(f"@{sha}" in c for c in case["causes"]):
            disagree.append(f"{inc['id']}: the write-up does not name {sha}")
        same = inc.get("same_root_cause_as")
        if same and (case is None or same not in case["same_root_cause"]):
            disagree.append(f"{inc['id']}: the write-up does not name {same}")
    page = manifest["open_page"]
    plan = app.incidents.plan(page["service"], symptom=page["symptom"])
    ranked = [c.sha for c in plan.changes]
    cause = page["causal_commit"]["sha"]
    app.close()
    return {
        "backtest": data,
        "seconds": round(seconds, 1),
        "manifest_disagreements": disagree,
        "open_page": {
            "service": page["service"],
            "symptom": page["symptom"],
            "cause": f"{page['causal_commit']['repo']}@{cause[:8]}",
            "cause_rank": ranked.index(cause) + 1 if cause in ranked else None,
        },
        "markdown": result.to_markdown(),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 1 when one misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="An ingested demo kb home.")
    parser.add_argument("--org", type=Path, help="The demo org it was ingested from.")
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kb-bench-incidents-") as tmp:
        if args.home is None or args.org is None:
            org, home = _build(Path(tmp))
        else:
            org, home = args.org, args.home
        out = run(home, org)
    bt = out["backtest"]
    if args.json:
        print(json.dumps({k: v for k, v in out.items() if k != "markdown"}, indent=2))
    else:
        print(out["markdown"])
        print(f"back-test of {len(bt['cases'])} incidents in {out['seconds']} s")
        for name in ("causal_top3", "similar_top3"):
            value = bt[name]
            ok = value is not None and value >= TARGET
            shown = "—" if value is None else f"{value:.2f}"
            print(f"{name}: {shown} (target >= {TARGET}) {'ok' if ok else 'MISSED'}")
        op = out["open_page"]
        print(f"open page ({op['service']}, {op['symptom']!r}): {op['cause']} ranks "
              f"{op['cause_rank']}")  # fmt: skip
        for line in out["manifest_disagreements"]:
            print(f"manifest disagrees: {line}")
    misses = [bt[n] is None or bt[n] < TARGET for n in ("causal_top3", "similar_top3")]
    return 1 if any(misses) or out["manifest_disagreements"] else 0


if __name__ == "__main__":
    sys.exit(main())
