"""The dashboard in a real browser: `kb ui` served on a loopback port, Debian's chromium
driven headless by Playwright. The landing page must draw its heatmap and treemap, and the
leaver simulator's numbers must follow the people picked.

Screenshots go to $KB_UI_SCREENSHOTS (docs/img for the README's), else the test's tmp dir.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uibrowser as ub

from kb.app import KB


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not ub.CHROMIUM.exists():
        reason = f"no {ub.CHROMIUM}: `make install` installs Debian's chromium (as root)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return ub.CHROMIUM


def test_landing_page_heatmap_treemap_and_leaver_simulator(
    chromium: Path, demo_kb: tuple[KB, list[Any]], tmp_path: Path
) -> None:
    app = demo_kb[0]
    shots = Path(os.environ.get("KB_UI_SCREENSHOTS") or tmp_path)
    alex = app.risk.simulate_departure(["Alex Morgan"])
    both = app.risk.simulate_departure(["Alex Morgan", "Maria Garcia"])
    with ub.serve(app.settings.home) as url, ub.browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        ub.wait_landing(page)
        assert ub.metric(page, "Truck factor of the system") == "1"
        # The heatmap names every service and marks those who left.
        heat_text = page.locator(".js-plotly-plot").first.text_content() or ""
        assert "payment-service" in heat_text and "Ben Okafor (left)" in heat_text
        assert page.locator(ub.TREEMAP).count() > 50
        assert ub.metric(page, "Files no one left would know") == ""

        ub.pick_leaver(page, "Alex Morgan")
        expected = f"{alex.files_lost} ({alex.share_files_lost:.0%})"
        assert alex.share_files_lost > 0.5
        ub.wait_metric(page, "Files no one left would know", expected)
        ub.wait_metric(page, "Services that become unknowable", "4 of 6 (67%)")
        ub.wait_landing(page)
        ub.screenshot(page, shots / "dashboard-risk.png")
        assert (shots / "dashboard-risk.png").stat().st_size > 50_000

        ub.pick_leaver(page, "Maria Garcia")
        more = f"{both.files_lost} ({both.share_files_lost:.0%})"
        assert more != expected
        ub.wait_metric(page, "Files no one left would know", more)
        ub.wait_metric(page, "Services that become unknowable", "6 of 6 (100%)")

        if hasattr(KB, "servicemap"):
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.get_by_role("link", name="Service map").click()
            page.wait_for_selector('[data-testid="stGraphVizChart"] svg g.edge', timeout=60_000)
            page.wait_for_selector(ub.IDLE, state="attached", timeout=60_000)
            ub.screenshot(page, shots / "dashboard-map.png")
