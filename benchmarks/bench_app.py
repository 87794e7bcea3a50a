"""How fast the workbench answers a slider change at 51 regions, and at metro level.

Measures, for a change of the spread weight λ:
- ``solve``: the Planner's re-solve alone (build_result included);
- ``apptest``: a full script rerun under Streamlit's AppTest (solve, map, tables);
- ``browser``: key press on the slider in Debian chromium until the new headline
  number is shown and the app reports its script run finished (``stApp``'s
  ``data-test-script-state`` is ``notRunning``), checked every animation frame;
- ``metros``: switching the region set to metros (380 CBSAs) in a fresh session
  (model build, first solve, map and table) and then a λ change there, under AppTest.

Run: .venv/bin/python benchmarks/bench_app.py [--repeats 10] [--no-browser]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def bench_solve(repeats: int) -> list[float]:
    """Planner re-solves with alternating λ."""
    import optimizer as pf

    planner = pf.Planner(pf.load_regions("states"))
    base = pf.load_scenario()
    planner.solve(base)
    times = []
    for i in range(repeats):
        scenario = base.updated(spread_weight=0.55 + 0.05 * (i % 6))
        start = time.perf_counter()
        planner.solve(scenario)
        times.append(time.perf_counter() - start)
    return times


def bench_apptest(repeats: int) -> list[float]:
    """Full reruns of app.py under AppTest after a λ change."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    return _time_lambda_changes(at, repeats)


def _time_lambda_changes(at, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Move the λ slider ``repeats`` times; the seconds of each full rerun."""
    times = []
    for i in range(repeats):
        at.slider(key="lam").set_value(round(0.55 + 0.05 * (i % 6), 2))
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception, [e.value for e in at.exception]
    return times


def bench_metros(repeats: int) -> tuple[list[float], list[float]]:
    """Region-set switch to metros (fresh sessions) and λ changes at metro level, AppTest."""
    from streamlit.testing.v1 import AppTest

    switches = []
    for _ in range(max(1, min(repeats, 3))):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        at.selectbox(key="region_set").set_value("metros")
        start = time.perf_counter()
        at.run()
        switches.append(time.perf_counter() - start)
        assert not at.exception, [e.value for e in at.exception]
        assert len(at.session_state["last_result"].regions) > 300
    return switches, _time_lambda_changes(at, repeats)


def bench_browser(repeats: int) -> list[float]:
    """Slider key press -> new headline shown and the run finished, in chromium."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tempfile.mkdtemp(prefix="placefund-bench-")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "PLACEFUND_HOME": home},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    times = []
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(url)
            page.wait_for_selector("path.choroplethlocation", timeout=60_000)
            page.wait_for_timeout(1000)
            slider = page.get_by_role("slider", name="Spread weight λ")
            metric = page.locator('[data-testid="stMetricValue"]').first
            for i in range(repeats):
                before = metric.inner_text()
                slider.focus()
                start = time.perf_counter()
                page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                page.wait_for_function(
                    "(b) => { const m = document.querySelector('[data-testid=\"stMetricValue\"]');"
                    " return m && m.innerText !== b"
                    " && document.querySelector('[data-testid=\"stApp\"]')"
                    ".getAttribute('data-test-script-state') === 'notRunning'; }",
                    arg=before, timeout=30_000, polling="raf")
                times.append(time.perf_counter() - start)
                page.wait_for_timeout(300)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return times


def row(name: str, times: list[float]) -> str:
    """One table row in milliseconds."""
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"{name:<34} {len(ms):>3} {statistics.median(ms):>9.0f} {p90:>9.0f} {ms[-1]:>9.0f}"


def main() -> None:
    """Run the measurements and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-metros", action="store_true")
    args = parser.parse_args()
    results = [("engine re-solve (Planner.solve)", bench_solve(args.repeats)),
               ("app rerun (AppTest)", bench_apptest(args.repeats))]
    if not args.no_browser:
        results.append(("browser: key press -> page updated", bench_browser(args.repeats)))
    if not args.no_metros:
        switches, changes = bench_metros(args.repeats)
        results += [("metros: switch set (AppTest)", switches),
                    ("metros: λ change (AppTest)", changes)]
    print(f"slider change (λ) at 51 regions (and metros where named), {os.cpu_count()} cores")
    print(f"{'measure':<34} {'n':>3} {'median ms':>9} {'p90 ms':>9} {'max ms':>9}")
    for name, times in results:
        print(row(name, times))


if __name__ == "__main__":
    main()
