"""A plan over time in the workbench, in Debian chromium on a local server: years set in
the sidebar make the plan a plan over time, the Timeline tab shows it, the map's year
slider moves through it, and the page's link holds it; a discounted objective with the
years' own appropriations is named as the command line names it, spent as set, kept by
the link and undo, and dropped with a note when the years change. Screenshots go to
``test-artifacts/``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from optimizer import load_regions
from optimizer.engine.scenario import base_scenario
from optimizer.ui.state import apply_link, read_link
from tests.browser_support import ARTIFACTS, headline, open_app, settle

pytestmark = pytest.mark.browser

YEARS = "Years (1 = today's single plan)"
AMOUNTS = "Appropriation by year"
DISCOUNTED = "Discounted S_λ over the years"


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
    from playwright.sync_api import expect

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
        expect(growth).to_have_value("0.00", timeout=20_000)  # after the rerun, not during
        expect(growth).to_be_disabled(timeout=20_000)
        expect(page.get_by_role("tab", name="Timeline")).to_have_count(0, timeout=20_000)
        page.wait_for_function("!location.search.includes('s=')", timeout=10_000)
        traffic.assert_stayed_local()


def _link_of(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _enter(field: Any, text: str) -> None:
    field.fill(text)
    field.press("Enter")


def _spending(page: Any) -> list[list[str]]:
    """The Timeline's appropriation-and-spending table, row by row (year, appropriation,
    spent)."""
    table = page.locator('[data-testid="stTable"]').filter(has_text="Spent by the plan")
    table.locator("tbody tr").first.wait_for(timeout=30_000)
    return [[cell.strip() for cell in row.locator("th, td").all_inner_texts()]
            for row in table.locator("tbody tr").all()]


def _cli_objective_line(link: dict[str, str], folder: Path) -> str:
    """What ``placefund solve`` prints as the objective for the plan a link holds."""
    parsed = read_link(link)
    assert parsed is not None and parsed.problem is None
    regions = load_regions("states")
    scenario, problem = apply_link(base_scenario("states", regions.indicators), parsed, regions)
    assert problem is None
    (folder / "plan.yaml").write_text(scenario.to_yaml())
    done = subprocess.run([sys.executable, "-m", "optimizer.cli", "solve", "--scenario",
                           str(folder / "plan.yaml"), "--out", str(folder / "plan")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return next(x for x in done.stdout.splitlines() if "the plan's objective" in x)


def test_a_discounted_plan_with_its_own_appropriations_shows_them_and_survives_a_reload(
        server: str, tmp_path: Path) -> None:
    with open_app(server) as (page, traffic):
        years = _open_time_section(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        amounts = sidebar.get_by_role("textbox", name=AMOUNTS)
        discount = page.get_by_role("spinbutton", name="Discount rate (% a year)")
        assert amounts.is_disabled() and discount.is_disabled()  # one year: time-only
        _enter(years, "3")
        _settle(page)
        assert amounts.is_enabled() and discount.is_disabled()  # the final year: no rate
        page.get_by_text("Discounted sum of every year's S_λ").click()
        _settle(page)
        assert discount.is_enabled()
        _enter(discount, "5")
        _settle(page)
        # a list that does not fit: the scenario's own words under the field, no traceback
        _enter(amounts, "$10B, $30B")
        _settle(page)
        said = sidebar.locator('[data-testid="stAlert"]').filter(has_text="periods.budget_by_year")
        assert said.inner_text().strip() == ("periods.budget_by_year: 2 amount(s) for "
                                             "periods.years = 3; give one amount per year")
        assert "Traceback" not in page.locator('[data-testid="stApp"]').inner_text()
        said.screenshot(path=str(ARTIFACTS / "timeline_amounts_error.png"))
        page.screenshot(path=str(ARTIFACTS / "timeline_amounts_error_page.png"))
        _enter(amounts, "$10B, $30B, $40B")
        _settle(page)
        assert said.count() == 0
        page.wait_for_function("location.search.includes('s=')", timeout=30_000)
        link = _link_of(page)
        changes = read_link(link).changes  # type: ignore[union-attr]
        assert changes["periods"]["budget_by_year"] == [10e9, 30e9, 40e9]
        assert (changes["objective_year"], changes["discount_rate"]) == ("discounted", 0.05)
        # the headline names the discounted objective as the command line does, same number
        value = headline(page, DISCOUNTED)
        printed = _cli_objective_line(link, tmp_path)
        assert printed.startswith(f"{DISCOUNTED}, the plan's objective (λ = 0.5): ")
        assert re.search(rf"→ {re.escape(value.removesuffix(' points'))} points", printed), (
            printed, value)
        _open_timeline(page)
        assert _spending(page) == [["1", "$10.0B", "$10.0B"], ["2", "$30.0B", "$30.0B"],
                                   ["3", "$40.0B", "$40.0B"]]
        page.screenshot(path=str(ARTIFACTS / "timeline_discounted_amounts.png"), full_page=True)
        page.locator('[data-testid="stTable"]').filter(has_text="Spent by the plan").screenshot(
            path=str(ARTIFACTS / "timeline_spending_by_year.png"))
        url = page.url
        traffic.assert_stayed_local()

    with open_app(server) as (page, traffic):  # a new session on the link: the same plan
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("path.choroplethlocation", timeout=60_000)
        _settle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_role("textbox", name=AMOUNTS).input_value() == "$10B, $30B, $40B"
        assert page.get_by_role("spinbutton", name="Discount rate (% a year)").input_value() == "5.00"
        assert page.get_by_role("radio", name="Discounted sum of every year's S_λ").is_checked()
        assert headline(page, DISCOUNTED) == value
        _open_timeline(page)
        assert [row[1] for row in _spending(page)] == ["$10.0B", "$30.0B", "$40.0B"]
        page.screenshot(path=str(ARTIFACTS / "timeline_discounted_reloaded.png"), full_page=True)

        # a fourth year: the three amounts no longer fit, so they go, with a note, and the
        # plan still solves (an even split)
        _enter(page.get_by_role("spinbutton", name=YEARS), "4")
        _settle(page)
        amounts = sidebar.get_by_role("textbox", name=AMOUNTS)
        assert amounts.input_value() == ""
        note = sidebar.locator('[data-testid="stAlert"]').filter(has_text="it does not fit")
        assert "was set for 3 years and $80B; it does not fit 4 years and $80B" in note.inner_text()
        assert page.locator('[data-testid="stMain"] [data-testid="stAlert"]').filter(
            has_text="invalid scenario").count() == 0
        _open_timeline(page)
        assert [row[1] for row in _spending(page)] == ["$20.0B"] * 4
        note.screenshot(path=str(ARTIFACTS / "timeline_amounts_dropped.png"))
        page.get_by_role("button", name="Undo").click()  # back to the three years and amounts
        _settle(page)
        assert page.get_by_role("spinbutton", name=YEARS).input_value() == "3"
        assert amounts.input_value() == "$10B, $30B, $40B"
        assert headline(page, DISCOUNTED) == value
        traffic.assert_stayed_local()
