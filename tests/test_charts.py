"""Sensitivity charts people can read: labelled bars, units on every axis, no colours
given as numbers, a sentence per chart, and every chart and table in one zip."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pandas as pd
import pytest

import optimizer as pf
from optimizer.analysis.charts import figures_for
from optimizer.ui import sensitivity as sens
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS
from tests.factories import make_regions, tiny_scenario

THREE = """
region_id,name,population,talent,labs
N,North,100,3,1
S,South,100,1,3
E,East,100,2,2
"""


@pytest.fixture(scope="module")
def regions() -> pf.Regions:
    return make_regions(THREE)


@pytest.fixture(scope="module")
def robust(regions: pf.Regions) -> sens.SensitivityRun:
    base = tiny_scenario(weights={"talent": 1.0, "labs": 1.0}, budget="$3B")
    return sens.run_sensitivity("robust", {"runs": 6, "threshold_musd": 900.0}, regions, base)


@pytest.fixture(scope="module")
def tornado(regions: pf.Regions) -> sens.SensitivityRun:
    base = tiny_scenario(weights={"talent": 1.0, "labs": 1.0}, budget="$3B")
    return sens.run_sensitivity("tornado", {"change_pct": 20}, regions, base)


def test_every_robustness_bar_is_labelled_and_coloured_by_a_colour(
        robust: sens.SensitivityRun) -> None:
    core = robust.result.figures["core_index"]
    bar = core.data[0]
    assert len(bar.text) == len(bar.y) == 3
    assert all(t.endswith("%") for t in bar.text)
    # numbers as marker colours made chromium log "Invalid color specifier: number 1"
    assert all(isinstance(c, str) and c.startswith("rgb") for c in bar.marker.color)
    assert core.layout.xaxis.tickformat == ".0%"
    heat = robust.result.figures["rank_acceptability"].data[0]
    assert heat.texttemplate == "%{text}"


def test_money_axes_read_as_dollars(robust: sens.SensitivityRun) -> None:
    quant = robust.result.figures["allocation_quantiles"]
    assert quant.layout.xaxis.tickprefix == "$" and quant.layout.xaxis.ticksuffix == "B"
    assert "($B)" in quant.layout.xaxis.title.text


def test_tornado_bars_say_where_they_end_with_labelled_parameters(
        tornado: sens.SensitivityRun) -> None:
    fig = tornado.result.figures["tornado_top10"]
    labels = set(fig.data[0].y)
    assert {"Budget ($B)", "Spread weight λ", "Weight of Labs"} <= labels
    assert all(t.endswith("%") for t in fig.data[0].text)
    title = fig.layout.title.text.replace("<br>", " ")  # wrapped for phone widths
    assert "The largest region's share of capacity" in title  # 3 regions: k = 1


def test_each_chart_has_a_sentence(robust: sens.SensitivityRun, tornado: sens.SensitivityRun) -> None:
    for run in (robust, tornado):
        texts = sens.chart_texts(run)
        assert set(texts) == set(run.result.figures)
        assert all(len(t) > 20 and "_" not in t.replace("S_λ", "") for t in texts.values())


def test_one_zip_holds_every_chart_and_table(robust: sens.SensitivityRun) -> None:
    archive = zipfile.ZipFile(io.BytesIO(sens.sensitivity_zip(robust)))
    names = set(archive.namelist())
    assert {"charts.html", "summary.txt", "summary.json"} <= names
    assert {f"{t}.csv" for t in robust.result.tables} <= names
    page = archive.read("charts.html").decode()
    assert page.count("<section id=") == len(robust.result.figures)
    assert "Of 3 regions" in page  # the text alternative follows its chart
    assert sens.zip_file_name(robust) == "placefund-robust.zip"


# --------------------------------------------------------------------------- drawn in chromium

SWEEP_RUNS = pd.DataFrame({  # four budgets whose top-10 share moves by a fraction of a point
    "status": ["ok"] * 4, "budget": [20e9, 40e9, 60e9, 80e9],
    "objective": [90.1, 95.2, 100.3, 105.4], "after_total_capacity": [110.0, 115.0, 120.0, 125.0],
    "after_gini": [0.330, 0.320, 0.310, 0.300],
    "after_top10_share": [0.6612, 0.6588, 0.6571, 0.6549],
})


def _drawn(fig: Any, width: int) -> dict[str, Any]:
    """The figure drawn by plotly.js in chromium at ``width`` px, toolbar showing: its
    title's and toolbar's boxes and every axis's tick labels."""
    from playwright.sync_api import sync_playwright

    page_html = fig.to_html(include_plotlyjs=True, full_html=True,
                            config={"displayModeBar": True, "responsive": True})
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_content(page_html)
            page.wait_for_selector(".modebar", state="attached", timeout=30_000)
            return page.evaluate("""() => {
              const box = e => { const r = e.getBoundingClientRect();
                                 return {l: r.left, t: r.top, r: r.right, b: r.bottom}; };
              return {title: box(document.querySelector('.gtitle')),
                      modebar: box(document.querySelector('.modebar')),
                      ticks: [...document.querySelectorAll('.yaxislayer-above')].map(
                        a => [...a.querySelectorAll('text')].map(t => t.textContent))};
            }""")
        finally:
            browser.close()


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


def test_the_sweep_title_keeps_its_units_and_the_share_axis_distinct_ticks() -> None:
    figs = figures_for("sweep", {"runs": SWEEP_RUNS}, {"varied": ["budget"]})
    assert figs["sweep"].layout.title.text == "Sweep over budget ($B)"  # not '($b)'
    drawn = _drawn(figs["sweep"], 1000)
    share_ticks = [t for t in drawn["ticks"] if t and all(v.endswith("%") for v in t)]
    assert share_ticks, drawn["ticks"]
    for ticks in share_ticks:  # 66.1%, 65.9%, ... never 66%, 66%, 65%
        assert len(set(ticks)) == len(ticks) >= 3, ticks


@pytest.mark.parametrize("width", [360, 1000])
def test_the_toolbar_never_covers_a_charts_title(width: int, tornado: sens.SensitivityRun) -> None:
    figs = {**figures_for("sweep", {"runs": SWEEP_RUNS}, {"varied": ["budget"]}),
            **tornado.result.figures}
    for name, fig in figs.items():
        drawn = _drawn(fig, width)
        assert not _overlap(drawn["title"], drawn["modebar"]), (name, drawn)
        assert drawn["title"]["r"] <= width and drawn["title"]["l"] >= 0, (name, drawn)


def test_a_hoover_analysis_names_its_objective_as_the_plan_does() -> None:
    gini = figures_for("sweep", {"runs": SWEEP_RUNS}, {"varied": ["budget"]})
    hoover = figures_for("sweep", {"runs": SWEEP_RUNS}, {"varied": ["budget"],
                                                         "spread_measure": "hoover"})
    titles = [a.text for a in hoover["sweep"].layout.annotations]
    assert "Spread-adjusted capacity S_λ (Hoover) (points)" in titles
    assert "Spread-adjusted capacity S_λ (points)" in [a.text for a in gini["sweep"].layout.annotations]
