"""A plan over time in the workbench, in Debian chromium on a local server: years set in
the sidebar make the plan a plan over time, the Timeline tab shows it, the map's year
slider moves through it, and the page's link holds it. Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from optimizer.ui.state import read_link
from tests.browser_support import ARTIFACTS, headline, open_app, settle

pytestmark = pytest.mark.browser

YEARS = "Years (1 = today's single plan)"


def _settle(page: Any, timeout: int = 90_000) -> None:
    settle(page, timeout)


def _open_time_section(page: Any) -> Any:
    years = page.get_by_role("spinbutton", name=YEARS)
    if not years.is_visible():
        page.locator('[data-testid="stSidebar"] [data-testid="stExpander"]').filter(
            has_text="Plans over time").locator("summary").click()
        years.wait_for(state="visible")
        _settle(page)
    return years


def _open_timeline(page: Any) -> str:
    page.get_by_role("tab", name="Timeline").click()
    page.get_by_text("Capacity by year").first.wait_for(timeout=60_000)
    _settle(page)
    return str(page.locator('[data-testid="stMain"]').inner_text())


def test_three_years_show_a_timeline_a_year_map_and_survive_a_reload(server: str) -> None:
    with open_app(server) as (page, traffic):
        assert page.get_by_role("tab", name="Timeline").count() == 0  # today's plan: no timeline
        years = _open_time_section(page)
        assert years.input_value() == "1"
        assert page.get_by_role("spinbutton", name="Base growth rate (% a year)").is_disabled()
        years.fill("3")
        years.press("Enter")
        _settle(page)
        page.wait_for_function("location.search.includes('s=')", timeout=30_000)
        link = page.url
        assert read_link({k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
                         ).changes["periods"]["years"] == 3
        objective = headline(page, "Spread-adjusted capacity")
        main = _open_timeline(page)
        for seen in ("Capacity by year", "Funding by year", "Concentration by year",
                     "Year 3 of 3", "Growth centers against spreading", "What foresight buys"):
            assert seen in main, seen
        page.screenshot(path=str(ARTIFACTS / "timeline_3_years.png"), full_page=True)
        # the charts start with the five regions funded most, drawn as plotly charts
        picked = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Regions")
        assert picked.locator("[data-tag]").count() == 5
        assert page.locator('[data-testid="stMain"] .js-plotly-plot').count() >= 4

        slider = page.get_by_role("slider", name="Year on the map")
        assert slider.input_value() == "3"
        slider.focus()
        page.keyboard.press("ArrowLeft")
        _settle(page)
        assert slider.input_value() == "2"
        main = str(page.locator('[data-testid="stMain"]').inner_text())
        assert "Year 2 of 3" in main and "Year 3 of 3" not in main
        titles = page.locator('[data-testid="stMain"] .js-plotly-plot .gtitle').evaluate_all(
            "els => els.map(e => e.textContent)")
        assert any("in year 2, with the plan" in t for t in titles), titles
        page.locator('[data-testid="stMain"] .js-plotly-plot').nth(3).screenshot(
            path=str(ARTIFACTS / "timeline_year_2_map.png"))
        page.locator('[data-testid="stMain"] .js-plotly-plot').nth(2).screenshot(
            path=str(ARTIFACTS / "timeline_concentration.png"))
        page.get_by_role("button", name="Compare with planning year by year").click()
        page.get_by_text("Choosing all 3 years together").wait_for(timeout=60_000)
        _settle(page)
        page.locator('[data-testid="stCaptionContainer"]').filter(
            has_text="Choosing all 3 years together").screenshot(
                path=str(ARTIFACTS / "timeline_foresight.png"))
        traffic.assert_stayed_local()

    with open_app(server) as (page, traffic):  # a new session opened on the link
        page.goto(link, wait_until="domcontentloaded")
        page.wait_for_selector("path.choroplethlocation", timeout=60_000)
        _settle(page)
        assert page.get_by_role("spinbutton", name=YEARS).input_value() == "3"  # section open
        assert headline(page, "Spread-adjusted capacity") == objective
        assert "Year 3 of 3" in _open_timeline(page)
        page.screenshot(path=str(ARTIFACTS / "timeline_reloaded.png"), full_page=True)

        growth = page.get_by_role("spinbutton", name="Base growth rate (% a year)")
        growth.fill("2")
        growth.press("Enter")
        _settle(page)
        years = page.get_by_role("spinbutton", name=YEARS)
        years.fill("1")  # back to today's plan: growth goes back to 0 with it
        years.press("Enter")
        _settle(page)
        assert growth.input_value() == "0.00" and growth.is_disabled()
        assert page.get_by_role("tab", name="Timeline").count() == 0
        page.wait_for_function("!location.search.includes('s=')", timeout=10_000)
        traffic.assert_stayed_local()
