"""Serve the dashboard on a loopback port and drive it with Debian's chromium, headless.

Shared by the browser test and bench/ui.py. The browser is the system's (`make install`
installs Debian's `chromium`); Playwright's Python package drives it and never downloads one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The landing page is drawn when its last chart is: the heatmap's image, the treemap's
# rectangles and the knowledge-over-time lines, with the script run finished.
HEATMAP = "g.heatmaplayer g.hm image"
TREEMAP = "g.treemaplayer path.surface"
HISTORY = "g.scatterlayer path.js-line"
IDLE = '[data-test-script-state="notRunning"]'


def free_port() -> int:
    """A TCP port nothing listens on, on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    home: Path, port: int | None = None, timeout: float = 90, script: Path | None = None
) -> Iterator[str]:
    """Run `kb ui` (streamlit) over the knowledge base in `home`; yields its URL. `script`:
    another script than `kb ui`'s, served the same way."""
    from ui.cli import APP, streamlit_command

    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["KB_HOME"] = str(home)
    proc = subprocess.Popen(
        [
            str(script) if script and arg == str(APP) else arg
            for arg in streamlit_command(port, "127.0.0.1")
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as res:
                    if res.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"the dashboard did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def wait_landing(page: Any, timeout_ms: float = 120_000) -> None:
    """Until the script run finished and the heatmap, treemap and history are drawn."""
    page.wait_for_selector(HEATMAP, state="attached", timeout=timeout_ms)
    page.wait_for_selector(TREEMAP, timeout=timeout_ms)
    page.wait_for_selector(HISTORY, state="attached", timeout=timeout_ms)
    page.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)


_METRIC_JS = """(label) => {
    for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
        const l = m.querySelector('[data-testid="stMetricLabel"]');
        if (l && l.innerText.trim().startsWith(label)) {
            return m.querySelector('[data-testid="stMetricValue"]').innerText.trim();
        }
    }
    return "";
}"""


def metric(page: Any, label: str) -> str:
    """The value of the st.metric with `label` ("" when there is none)."""
    return str(page.evaluate(_METRIC_JS, label))


def wait_metric(page: Any, label: str, value: str, timeout_ms: float = 60_000) -> None:
    """Until the st.metric with `label` shows `value` (the page reruns after a pick)."""
    page.wait_for_function(
        f"([label, value]) => ({_METRIC_JS})(label) === value",
        arg=[label, value],
        timeout=timeout_ms,
    )


def pick_leaver(page: Any, name: str) -> None:
    """Type a name into the leaver multiselect and choose it."""
    box = page.locator('[data-testid="stMultiSelect"]').first
    box.click()
    page.keyboard.type(name)
    page.get_by_role("option", name=name).first.click()
    page.keyboard.press("Escape")


def screenshot(page: Any, path: Path) -> None:
    """The whole page content, not just the viewport (Streamlit scrolls an inner element)."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": int(height) + 120})
    page.wait_for_timeout(500)  # charts re-lay out to the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
