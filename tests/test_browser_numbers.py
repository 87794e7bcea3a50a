"""Numbers an analyst hands on, through the real server in chromium: one name and one
value for the plan's objective (headline, brief, workbook and CLI agree), and amounts
formatted with separators and units in the allocation table and the region detail."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from optimizer.cli import app as cli
from tests.browser_support import ARTIFACTS, open_app

pytestmark = pytest.mark.browser

IDLE = ("document.querySelector('[data-testid=\"stApp\"]')"
        ".getAttribute('data-test-script-state') === 'notRunning'")
HOOVER = "Spread-adjusted capacity S_λ (Hoover)"


def _settle(page: Any, timeout: int = 60_000) -> None:
    """Wait for the rerun a change started to begin (a quick one may be over before it is
    seen), then until it has finished."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"!({IDLE})", timeout=3_000, polling="raf")
    except PlaywrightTimeout:
        pass
    page.wait_for_function(IDLE, timeout=timeout)


def _metrics(page: Any) -> dict[str, str]:
    """Headline label -> value as the page shows them."""
    out = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def _open_tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    _settle(page)


def _download(page: Any, label: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=label).click()
    return Path(info.value.path()).read_bytes()


def test_a_hoover_plan_has_one_objective_name_and_value_everywhere(server: str,
                                                                    tmp_path: Path) -> None:
    """States switched to the Hoover spread: the headline shows S_λ (Hoover) with the value
    `placefund solve` prints for the same scenario; the brief and the workbook the page
    downloads carry the same name and number (before, the headline showed the Gini S_λ)."""
    spec = tmp_path / "hoover.yaml"
    spec.write_text("spread_measure: hoover\n")
    solved = CliRunner().invoke(cli, ["solve", "--regions", "states", "--scenario", str(spec),
                                      "--out", str(tmp_path / "plan")])
    assert solved.exit_code == 0, solved.output
    cli_value = re.search(re.escape(HOOVER) + r", the plan's objective .*→ ([\d,.]+) points",
                          solved.output)
    assert cli_value, solved.output
    with open_app(server) as (page, traffic):
        page.locator('[data-testid="stSidebar"]').get_by_text("Hoover index (linear)").click()
        _settle(page)
        shown = _metrics(page)
        page.screenshot(path=str(ARTIFACTS / "numbers-hoover-headline.png"))
        assert shown.get(HOOVER) == f"{cli_value.group(1)} points", shown
        assert "Spread-adjusted capacity S_λ" not in shown  # the Gini S_λ is not the headline
        _open_tab(page, "Export")
        brief = _download(page, "One-page brief (HTML, print to PDF)").decode()
        assert f"<span>{HOOVER}</span><b>{cli_value.group(1)} points</b>" in brief
        book = openpyxl.load_workbook(io.BytesIO(_download(page, "Workbook (Excel)")))
        first = [c.value for c in book["metrics"][2]]
        assert first[0] == f"{HOOVER} — the plan's objective"
        assert f"{first[3]:,.2f}" == cli_value.group(1)
        traffic.assert_stayed_local()


def _grid(page: Any, index: int = 0) -> list[list[str]]:
    """The rows (header first) of a dataframe as its accessible grid gives them: the
    text people see in each drawn cell."""
    grid = page.locator('[data-testid="stDataFrame"]').nth(index)
    grid.locator("canvas").first.wait_for(timeout=30_000)
    page.wait_for_function("""i => document.querySelectorAll('[data-testid="stDataFrame"]')[i]
        ?.querySelectorAll('td').length > 0""", arg=index, timeout=30_000)
    return page.evaluate("""i => [...document.querySelectorAll('[data-testid="stDataFrame"]')[i]
        .querySelectorAll('tr')].map(r => [...r.querySelectorAll('th, td')].map(c => c.textContent))""",
                         index)


MONEY = re.compile(r"^\$\d{1,3}(,\d{3})*(\.\d)?[MB]?$")


def test_amounts_in_the_tables_have_separators_and_units(server: str) -> None:
    """Region detail reads '$2.9B', not '$2900000000', and the population with separators;
    the allocation table stays numbers (it sorts), drawn as '$8,338.1M'."""
    with open_app(server) as (page, traffic):
        _open_tab(page, "Region detail")
        detail = _grid(page)
        page.screenshot(path=str(ARTIFACTS / "numbers-region-detail.png"))
        header, *rows = detail
        assert header == ["Instrument", "Funding", "Capacity gain",
                          "Marginal return (points per extra $1B)"]
        assert [r[0] for r in rows] == ["Research grants", "Talent and training",
                                        "Compute and infrastructure", "Venture co-investment"]
        for row in rows:
            # '$2.9B'; an instrument the region does not get reads '$0'
            assert MONEY.match(row[1]) and (row[1][-1] in "MB" or row[1] == "$0"), row
            assert row[2].endswith(" points"), row
        assert any(row[1][-1] in "MB" for row in rows)
        summary = page.locator('[data-testid="stTable"]').first.inner_text()
        assert re.search(r"Population\s+\d{1,3}(,\d{3})+", summary), summary
        _open_tab(page, "Allocation")
        header, *rows = _grid(page)
        # the grid is drawn on a canvas; its accessible cells hold the numbers it sorts by
        # (the drawn '$8,338.1M' is in test-artifacts/numbers-allocation.png)
        page.screenshot(path=str(ARTIFACTS / "numbers-allocation.png"))
        funding = header.index("Funding")
        assert rows and all(float(row[funding]) > 0 for row in rows)
        traffic.assert_stayed_local()
