"""Helpers for browser tests: a local Streamlit server and Debian chromium on it.

``server`` (a fixture, registered in ``conftest.py``) starts ``streamlit run app.py`` on
a free loopback port with its own PlaceFund home; ``open_app`` opens chromium on it and
records every request and console error (``Traffic``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    port = _free_port()
    home = tmp_path_factory.mktemp("placefund-home")
    log = (tmp_path_factory.mktemp("log") / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "PLACEFUND_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not come up: see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def map_paths(page) -> list[dict]:  # type: ignore[no-untyped-def]
    return page.evaluate("""() => {
        const frame = document.querySelector('.js-plotly-plot .geo .bglayer, .js-plotly-plot .geo')
            .getBoundingClientRect();
        return [...document.querySelectorAll('.js-plotly-plot path.choroplethlocation')].map(p => {
            const b = p.getBoundingClientRect();
            return {w: b.width, h: b.height, fw: frame.width, fh: frame.height,
                    fill: getComputedStyle(p).fill};
        });
    }""")


@dataclass
class Traffic:
    """What a page asked for and complained about."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)

    def assert_stayed_local(self) -> None:
        off_host = [u for u in self.requests if urlparse(u).scheme not in ("file", "data", "blob")
                    and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
        assert not off_host, off_host
        assert not self.console_errors, self.console_errors


@contextmanager
def open_app(server: str, **page_options: Any) -> Iterator[tuple[Any, Traffic]]:
    """Debian chromium on the app, its requests and console errors recorded; the map drawn."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    traffic = Traffic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300}, **page_options)
            page.on("request", lambda r: traffic.requests.append(r.url))
            page.on("console", lambda m: traffic.console_errors.append(m.text)
                    if m.type == "error" else traffic.console_warnings.append(m.text)
                    if m.type == "warning" else None)
            page.on("pageerror", lambda e: traffic.console_errors.append(str(e)))
            page.goto(server, wait_until="domcontentloaded")
            page.wait_for_selector("path.choroplethlocation", timeout=60_000)
            # the map is drawn before the script run ends: act only on a finished page
            page.wait_for_function("document.querySelector('[data-testid=\"stApp\"]')"
                                   "?.getAttribute('data-test-script-state') === 'notRunning'",
                                   timeout=60_000)
            yield page, traffic
        finally:
            browser.close()


IDLE = ("document.querySelector('[data-testid=\"stApp\"]')"
        ".getAttribute('data-test-script-state') === 'notRunning'")
NEW_ENGLAND = ("09", "23", "25", "33", "44", "50")  # CT, ME, MA, NH, RI, VT


def settle(page: Any, timeout: int = 60_000) -> None:
    """Wait for the rerun a change started to begin (up to 3 s: a quick one may be over
    before it is seen), then until it has finished."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"!({IDLE})", timeout=3_000, polling="raf")
    except PlaywrightTimeout:
        pass
    page.wait_for_function(IDLE, timeout=timeout)


def headline(page: Any, label: str) -> str:
    """The value of the headline metric labelled ``label``."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return str(metric.locator('[data-testid="stMetricValue"]').inner_text())
