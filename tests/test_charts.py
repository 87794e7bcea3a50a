"""Sensitivity charts people can read: labelled bars, units on every axis, no colours
given as numbers, a sentence per chart, and every chart and table in one zip."""

from __future__ import annotations

import io
import zipfile

import pytest

import optimizer as pf
from optimizer.ui import sensitivity as sens
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
    assert "The largest region's share of capacity" in fig.layout.title.text  # 3 regions: k = 1


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
