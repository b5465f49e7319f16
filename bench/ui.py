"""How fast the dashboard's landing page is drawn in a real browser.

    python -m bench.ui --home H                  # a knowledge base already built
    python -m bench.ui --demo [--work DIR]       # build the demo organisation's first
    python -m bench.ui --repo PATH [--work DIR]  # ingest a repository (history, then content)

`kb ui` is served on a loopback port and Debian's chromium (headless, through Playwright) opens
the landing page: the time counted runs from navigation until the script run has finished and
the heatmap, the treemap and the knowledge-over-time chart are in the DOM. The first load
after the server starts is the cold one (it computes and caches everything). Warm: going to
the landing page from another page of an open dashboard (the sidebar link), and opening it
in a fresh tab of the running server: in an empty browser profile (which also loads and
compiles Streamlit's and Plotly's JavaScript), and in a new tab of a browser that has shown
the dashboard before (its HTTP cache and compiled code shared, as in a person's browser).
Targets: warm ≤ 3 s on the demo organisation, ≤ 5 s on a repository of 20k+ commits.

Baseline, in the same run: the floor, a Streamlit page with the same three kinds of Plotly
chart and a few points each (bench/ui_floor.py), served the same way and opened in fresh tabs
in turn with the landing page's; the ratio of the medians, landing page / floor, is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import uibrowser as ub

FLOOR = Path(__file__).with_name("ui_floor.py")

KB = [sys.executable, "-m", "kb.cli"]


def _kb(home: Path, *args: str) -> None:
    res = subprocess.run([*KB, "--home", str(home), *args], stdout=subprocess.DEVNULL)
    if res.returncode not in (0, 3):  # 3: some items skipped (non-UTF-8 files...), the rest read
        raise SystemExit(f"kb {' '.join(args)} failed ({res.returncode})")


def build_demo(work: Path) -> Path:
    """The demo organisation's knowledge base, as `make demo` builds it."""
    home = work / "kb"
    if (home / ".bench-built").exists():
        return home
    org = work / "org"
    if not org.exists():
        subprocess.run([*KB, "seed", str(org)], check=True, stdout=subprocess.DEVNULL)
    _kb(home, "init")
    for repo in sorted((org / "repos").iterdir()):
        _kb(home, "ingest", "git", str(repo))
    _kb(home, "ingest", "slack-export", str(org / "slack-export.zip"), "--name", "shopfast")
    (home / ".bench-built").touch()
    return home


def build_repo(repo: Path, work: Path) -> tuple[Path, dict[str, float]]:
    """A knowledge base of one repository: its history first, then its content."""
    home = work / "kb"
    times: dict[str, float] = {}
    if not (home / ".bench-built").exists():
        t = time.perf_counter()
        _kb(home, "ingest", "git", str(repo), "--history-only")
        times["ingest_history_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        _kb(home, "ingest", "git", str(repo))
        times["ingest_content_s"] = round(time.perf_counter() - t, 1)
        (home / ".bench-built").touch()
    return home, times


def commits_of(home: Path) -> int:
    """How many commits the knowledge base holds."""
    out = subprocess.run(
        [*KB, "--home", str(home), "status", "--json"], check=True, capture_output=True, text=True
    )
    return int(json.loads(out.stdout).get("commits", 0))


def measure(home: Path, runs: int) -> dict[str, Any]:
    """Cold and warm times to a fully drawn landing page: fresh tabs, and in-app navigation."""
    with ub.serve(home) as url, ub.serve(home, script=FLOOR) as floor_url, ub.browser() as browser:
        # One profile, as a person's browser: its tabs share the HTTP cache and compiled
        # JavaScript. `browser.new_page` instead opens each tab in a new, empty profile.
        profile = browser.new_context(viewport={"width": 1400, "height": 1000})

        def fresh_tab(same_profile: bool = False, at: str = url) -> float:
            viewport = {"width": 1400, "height": 1000}
            page = profile.new_page() if same_profile else browser.new_page(viewport=viewport)
            try:
                t = time.perf_counter()
                page.goto(at)
                ub.wait_landing(page, timeout_ms=600_000)
                return time.perf_counter() - t
            finally:
                page.close()

        cold = fresh_tab()
        fresh_tab(at=floor_url)  # the floor's first load
        # The landing page and the floor in turns, so that both see the same machine.
        tabs, floor = [], []
        for _ in range(runs):
            tabs.append(fresh_tab())
            floor.append(fresh_tab(at=floor_url))
        fresh_tab(same_profile=True)  # the profile's first visit fills its cache
        same_profile = [fresh_tab(same_profile=True) for _ in range(runs)]
        profile.close()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        ub.wait_landing(page, timeout_ms=600_000)
        navigation = []
        for _ in range(runs):
            page.get_by_role("link", name="Sources").click()
            page.wait_for_selector(ub.HEATMAP, state="detached", timeout=60_000)
            page.wait_for_selector(ub.IDLE, state="attached", timeout=60_000)
            t = time.perf_counter()
            page.get_by_role("link", name="Knowledge risk").click()
            ub.wait_landing(page, timeout_ms=600_000)
            navigation.append(time.perf_counter() - t)
        page.close()

    def figures(times: list[float]) -> dict[str, Any]:
        return {
            "median_s": round(statistics.median(times), 2),
            "max_s": round(max(times), 2),
            "runs_s": [round(x, 2) for x in times],
        }

    return {
        "cold_s": round(cold, 2),
        "warm_navigation": figures(navigation),
        "warm_fresh_tab": figures(tabs),
        "warm_new_tab_same_browser": figures(same_profile),
        "baseline_floor_fresh_tab": figures(floor),
        "fresh_tab_ratio_landing_over_floor": round(
            statistics.median(tabs) / statistics.median(floor), 2
        ),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    """Build (or reuse) a knowledge base, then time the landing page."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--home", type=Path, help="an existing knowledge base (KB_HOME)")
    src.add_argument("--demo", action="store_true", help="the demo organisation")
    src.add_argument("--repo", type=Path, help="a git repository to ingest")
    ap.add_argument("--work", type=Path, default=Path("/tmp/kb-bench-ui"), help="build dir")
    ap.add_argument("--runs", type=int, default=5, help="warm loads (default 5)")
    args = ap.parse_args()
    extra: dict[str, Any] = {}
    if args.home:
        home = args.home
    elif args.demo:
        home = build_demo(args.work)
    else:
        home, extra = build_repo(args.repo, args.work)
    result = {"home": str(home), "commits": commits_of(home), **extra, **measure(home, args.runs)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
