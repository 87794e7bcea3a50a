"""The workbench in a real browser: Debian chromium driving a local Streamlit server.

Loopback only: every request the page makes must stay on 127.0.0.1, the map must
draw (no polygon flooding the frame), and each export must download with content.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import optimizer as pf
from tests.browser_support import ARTIFACTS, map_paths, open_app

pytestmark = pytest.mark.browser


def test_workbench_in_chromium(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with open_app(server, accept_downloads=True) as (page, traffic):
        page.wait_for_function("document.querySelectorAll('path.choroplethlocation').length === 51")
        value = page.locator('[data-testid="stMetricValue"]').first
        before = value.inner_text()

        slider = page.get_by_role("slider", name="Spread weight λ")
        slider.focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        expect(slider).to_have_value("0.7")
        page.wait_for_function(
            f"() => document.querySelector('[data-testid=\"stMetricValue\"]').innerText !== {before!r}",
            timeout=20_000)
        page.wait_for_function(
            "document.querySelector('[data-testid=\"stApp\"]')"
            ".getAttribute('data-test-script-state') === 'notRunning'"
            " && document.querySelectorAll('path.choroplethlocation').length === 51",
            timeout=20_000)
        after = value.inner_text()
        assert after != before

        # a redraw may hold the old figure and the new one for a moment: read one map
        page.wait_for_function("document.querySelectorAll('path.choroplethlocation').length === 51",
                               timeout=20_000)
        paths = map_paths(page)
        assert len(paths) == 51
        # a counter-clockwise ring floods: its path covers the whole geo frame
        assert max(p["w"] / p["fw"] for p in paths) < 0.6
        assert len({p["fill"] for p in paths}) > 5  # a real colour scale, not one flat fill
        assert page.locator(".js-plotly-plot .colorbar").count() == 1
        page.screenshot(path=str(ARTIFACTS / "workbench.png"), full_page=False)

        colorado = pf.load_regions("states").ids.index("08")  # not the default (top-funded) region
        page.get_by_role("tab", name="Region detail").click()  # a region is picked on its map
        panel = page.get_by_role("tabpanel", name="Region detail")
        panel.locator("path.choroplethlocation").nth(colorado).click(force=True)
        expect(page.locator('[data-testid="stHeadingWithActionElements"] h3').first).to_have_text(
            "Colorado", timeout=20_000)

        page.get_by_role("tab", name="Export").click()
        files: dict[str, bytes] = {}
        for label in ("Allocation (CSV)", "Workbook (Excel)", "Regions with shapes (GeoJSON)",
                      "Scenario (YAML)", "One-page brief (HTML, print to PDF)"):
            with page.expect_download(timeout=60_000) as info:
                page.get_by_role("button", name=label).click()
            target = tmp_path / info.value.suggested_filename
            info.value.save_as(target)
            files[label] = target.read_bytes()
            if label.startswith("One-page brief"):
                brief = target
        # the brief works from a file with no server at all
        page.goto(brief.as_uri())
        page.wait_for_function(
            "document.querySelectorAll('path.choroplethlocation').length === 51", timeout=30_000)
        assert max(p["w"] / p["fw"] for p in map_paths(page)) < 0.6
        page.screenshot(path=str(ARTIFACTS / "brief.png"), full_page=True)
        pdf = page.pdf(format="Letter", print_background=True)
        (ARTIFACTS / "brief.pdf").write_bytes(pdf)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # prints on one page

    allocation = pd.read_csv(io.BytesIO(files["Allocation (CSV)"]), dtype={"Region code": str})
    assert allocation["Amount (USD)"].sum() == pytest.approx(80e9, rel=1e-9)  # the workbook's labels
    book = openpyxl.load_workbook(io.BytesIO(files["Workbook (Excel)"]))
    assert book.sheetnames == ["allocation", "regions", "metrics", "outcomes", "scenario"]
    assert len(json.loads(files["Regions with shapes (GeoJSON)"])["features"]) == 51
    assert b"spread_weight: 0.7" in files["Scenario (YAML)"]
    assert b"Plotly.newPlot" in files["One-page brief (HTML, print to PDF)"]
    assert b"Top regions by funding" in files["One-page brief (HTML, print to PDF)"]

    traffic.assert_stayed_local()
    assert any("app/static/usa_110m.json" in u for u in traffic.requests)


def test_sensitivity_tab_runs_an_analysis_in_chromium(server: str) -> None:
    from playwright.sync_api import expect

    with open_app(server) as (page, traffic):
        page.get_by_role("tab", name="Sensitivity").click()
        points = page.get_by_role("spinbutton", name="Points", exact=True)
        points.fill("3")
        points.press("Enter")
        page.wait_for_function(
            "document.querySelector('[data-testid=\"stApp\"]')"
            ".getAttribute('data-test-script-state') === 'notRunning'", timeout=20_000)
        page.get_by_role("button", name="Run analysis").click()
        expect(page.get_by_text("3 of 3 runs solved in")).to_be_visible(timeout=60_000)
        panel = page.get_by_role("tabpanel", name="Sensitivity")
        expect(panel.locator(".js-plotly-plot")).to_have_count(1, timeout=20_000)
        expect(panel.locator(".js-plotly-plot .scatterlayer .trace")).not_to_have_count(0)
        expect(page.get_by_role("button", name="Runs (one row per run) (CSV)")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "sensitivity.png"), full_page=False)
    traffic.assert_stayed_local()


def test_counties_in_chromium_after_confirmation(server: str) -> None:
    """The largest shipped set in a real browser: 3,134 county shapes drawn, none flooding."""
    with open_app(server) as (page, traffic):
        page.get_by_role("combobox", name="Region set").click()
        page.get_by_role("option", name="Counties").click()
        page.get_by_role("button", name="Switch to counties").click(timeout=30_000)
        start = time.monotonic()
        page.wait_for_function(
            "document.querySelectorAll('path.choroplethlocation').length === 3134"
            " && document.querySelector('[data-testid=\"stApp\"]')"
            ".getAttribute('data-test-script-state') === 'notRunning'", timeout=120_000)
        seconds = time.monotonic() - start
        paths = map_paths(page)
        assert len(paths) == 3134
        assert max(p["w"] / p["fw"] for p in paths) < 0.6  # no ring floods the frame
        assert len({p["fill"] for p in paths}) > 5
        assert "3,134 regions" in page.locator('[data-testid="stSidebar"]').inner_text()
        page.screenshot(path=str(ARTIFACTS / "workbench_counties.png"), full_page=False)
        traffic.assert_stayed_local()
        print(f"counties: switch to map drawn in {seconds:.1f} s")
