"""How fast the workbench answers, measured in Debian chromium against a real server.

Browser measures (each waits until the page shows the new state and the app reports
its script run finished: ``stApp``'s ``data-test-script-state`` is ``notRunning``,
checked every animation frame):
- ``first render``: a new session's page, from navigation to the map drawn; ``cold``
  is the server's first session (imports, data, model build, first solve), ``warm``
  each later new session;
- ``states λ``: a key press on the λ slider until the new headline number is shown;
- ``metros switch`` / ``counties switch``: choosing the region set (and confirming
  counties) until its map is drawn; the first switch in the server's life builds and
  solves the model, later sessions reuse the shared model and plan;
- ``metros λ`` / ``counties λ``: a λ change at that level.

Beside them, what the engine alone takes on the same change (``Planner.solve``: the
first solve builds the model), and a full script rerun under Streamlit's AppTest, so
that the app's own share is seen (browser minus engine).

Run: .venv/bin/python benchmarks/bench_app.py [--repeats 5] [--no-counties] [--root DIR]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = ("document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'")
COUNTS = {"states": 51, "metros": 387, "counties": 3134}


def bench_engine(region_set: str, repeats: int) -> tuple[list[float], list[float]]:
    """The Planner's first solve (model build included) and its re-solves after a λ change."""
    import optimizer as pf
    from optimizer.ui import controls as ctl

    regions = pf.load_regions(region_set)
    base = ctl.default_scenario_for(region_set, regions)
    planner = pf.Planner(regions)
    start = time.perf_counter()
    planner.solve(base)
    first = [time.perf_counter() - start]
    times = []
    for i in range(repeats):
        scenario = base.updated(spread_weight=round(base.spread_weight + 0.05 * (1 + i % 2), 2))
        start = time.perf_counter()
        planner.solve(scenario)
        times.append(time.perf_counter() - start)
    return first, times


def bench_apptest(repeats: int) -> list[float]:
    """Full reruns of app.py under AppTest after a λ change (states)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    times = []
    for i in range(repeats):
        at.slider(key="lam").set_value(round(0.55 + 0.05 * (i % 6), 2))
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception, [e.value for e in at.exception]
    return times


def _server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tempfile.mkdtemp(prefix="placefund-bench-")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=root, env={**os.environ, "PLACEFUND_HOME": home},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return proc, url


def _map_drawn(page: Any, count: int, timeout: int = 180_000) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('path.choroplethlocation').length === {count} && {IDLE}",
        timeout=timeout, polling="raf")


def _first_render(context: Any, url: str) -> tuple[Any, float]:
    """A new session (a new page) until its map is drawn; seconds."""
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    _map_drawn(page, COUNTS["states"])
    return page, time.perf_counter() - start


def _lambda_changes(page: Any, repeats: int) -> list[float]:
    """Key presses on the λ slider until the new headline is shown and the run is done."""
    slider = page.get_by_role("slider", name="Spread weight λ")
    metric = page.locator('[data-testid="stMetricValue"]').first
    times = []
    for i in range(repeats):
        before = metric.inner_text()
        slider.focus()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        page.wait_for_function(
            "(b) => { const m = document.querySelector('[data-testid=\"stMetricValue\"]');"
            f" return m && m.innerText !== b && {IDLE}; }}",
            arg=before, timeout=120_000, polling="raf")
        times.append(time.perf_counter() - start)
        page.wait_for_timeout(300)
    return times


def _switch(page: Any, region_set: str) -> float:
    """Choose a region set (confirming a slow one) until its map is drawn; seconds."""
    label = {"metros": "Metro areas (CBSAs, OMB 2023)", "counties": "Counties"}[region_set]
    page.get_by_role("combobox", name="Region set").click()
    start = time.perf_counter()
    page.get_by_role("option", name=label).click()
    if region_set == "counties":
        button = page.get_by_role("button", name="Switch to counties")
        button.wait_for(timeout=60_000)
        start = time.perf_counter()  # the confirmation is the person's, not the app's time
        button.click()
    _map_drawn(page, COUNTS[region_set], timeout=300_000)
    return time.perf_counter() - start


def bench_browser(repeats: int, counties: bool, root: Path = ROOT) -> dict[str, list[float]]:
    """Every browser measure against one fresh server (see the module docstring).

    The cold first render is a fresh browser on a fresh server; the warm ones are new
    sessions (new pages) in that browser, whose cache then holds the page's scripts.
    """
    from playwright.sync_api import sync_playwright

    proc, url = _server(root)
    out: dict[str, list[float]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1500, "height": 1300})
            page, cold = _first_render(context, url)
            out["first render, cold server"] = [cold]
            warm = []
            for _ in range(repeats):
                other, seconds = _first_render(context, url)
                warm.append(seconds)
                other.close()
            out["first render, warm server"] = warm
            out["states: λ change"] = _lambda_changes(page, repeats)
            sets: tuple[str, ...] = ("metros", "counties") if counties else ("metros",)
            for region_set in sets:
                out[f"{region_set}: switch, first on the server"] = [_switch(page, region_set)]
                out[f"{region_set}: λ change"] = _lambda_changes(
                    page, repeats if region_set == "metros" else max(2, repeats // 2))
                later = []
                for _ in range(max(1, min(repeats, 3))):
                    other, _seconds = _first_render(context, url)
                    later.append(_switch(other, region_set))
                    other.close()
                out[f"{region_set}: switch, a later session"] = later
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return out


def row(name: str, times: list[float]) -> str:
    """One table row in milliseconds."""
    ms = sorted(t * 1000 for t in times)
    return f"{name:<42} {len(ms):>3} {statistics.median(ms):>10.0f} {ms[0]:>9.0f} {ms[-1]:>9.0f}"


def main() -> None:
    """Run the measurements and print a table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-counties", action="store_true")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-engine", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout whose app.py is served (to compare two versions)")
    args = parser.parse_args()
    results: list[tuple[str, list[float]]] = []
    if not args.no_engine:
        for region_set in ("states", "metros", *(() if args.no_counties else ("counties",))):
            first, again = bench_engine(region_set, args.repeats)
            results += [(f"engine {region_set}: first solve (build)", first),
                        (f"engine {region_set}: λ re-solve", again)]
        results.append(("app rerun, states λ (AppTest)", bench_apptest(args.repeats)))
    if not args.no_browser:
        results += list(bench_browser(args.repeats, not args.no_counties, args.root).items())
    print(f"workbench timings, {os.cpu_count()} cores (medians of n; min and max)")
    print(f"{'measure':<42} {'n':>3} {'median ms':>10} {'min ms':>9} {'max ms':>9}")
    for name, times in results:
        print(row(name, times))


if __name__ == "__main__":
    main()
