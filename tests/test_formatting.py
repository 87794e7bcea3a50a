"""One formatter for every number a person reads (optimizer/engine/formatting.py)."""

from __future__ import annotations

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine import columns
from optimizer.engine import formatting as fmt
from optimizer.engine.check import check
from optimizer.engine.metrics import top_k_count
from optimizer.engine.scenario import usd
from optimizer.report import text as tx
from tests.factories import make_regions, tiny_scenario


@pytest.mark.parametrize(("amount", "text"), [
    (80e9, "$80.0B"), (7.9e9, "$7.9B"), (-7.9e9, "\u2212$7.9B"), (292e6, "$292M"),
    (292.4e6, "$292M"), (51.26e6, "$51.3M"), (99.96e6, "$100M"), (999.6e6, "$1.0B"),
    (1234, "$1,234"), (0.5, "$0.50"), (12.5, "$12.50"), (0, "$0"), (2e12, "$2.0T"),
    (-0.001, "$0.00"),  # rounds to zero: no sign
    (999_999.4, "$999,999"), (999_999.7, "$1.0M"),  # what would print as 1,000 of a scale
])
def test_money_reads_as_people_write_it(amount: float, text: str) -> None:
    assert fmt.money(amount) == text
    assert usd(amount) == text  # the engine's usd is the same formatter


def test_money_with_fixed_digits_and_a_sign_for_changes() -> None:
    assert fmt.money(1.56e9, digits=2) == "$1.56B"
    assert fmt.money(206.85e6, digits=2) == "$206.85M"
    assert fmt.money(2e9, plus=True) == "+$2.0B"
    assert fmt.money(-2e9, plus=True) == "\u2212$2.0B"
    assert fmt.money(float("nan")) == "n/a"


def test_per_person_shares_points_and_percentage_points() -> None:
    assert fmt.per_person(1234.4) == "$1,234 per person"
    assert fmt.per_person(12.345, cents=True) == "$12.35 per person"
    assert fmt.share(0.042) == "4.2%"
    assert fmt.share(-0.021, plus=True) == "\u22122.1%"
    assert fmt.pct_points(-0.012) == "\u22121.2 pp" and fmt.pct_points(0.012) == "+1.2 pp"
    assert fmt.points(-0.5, plus=True) == "\u22120.50 points"
    assert fmt.points(23.531) == "23.53 points"
    assert fmt.number(-1234.5) == "\u22121,234.50"


def test_money_axes_scale_to_billions_with_a_dollar_and_no_si_prefix() -> None:
    scale = fmt.money_scale([2e8, 6e9])
    assert (scale.divisor, scale.unit) == (1e9, "$B")
    axis = scale.axis()
    assert axis["tickprefix"] == "$" and axis["ticksuffix"] == "B"
    assert "s" not in axis["tickformat"]  # d3's "s" would print 6G and 500m
    assert fmt.money_scale([0.5, 20]).unit == "$"
    assert fmt.share_axis()["tickformat"] == ".0%"


def test_top_k_is_a_third_of_a_small_region_set() -> None:
    assert [top_k_count(n) for n in (1, 2, 8, 9, 10, 27, 28, 51, 3134)] == [1, 1, 3, 3, 4, 9, 10,
                                                                           10, 10]


EIGHT = "\n".join(["region_id,name,population,talent"]
                  + [f"R{i},Region {i},{100 + 10 * i},{i * i + 1}" for i in range(8)])


def test_an_eight_region_plan_reports_a_top_3_share_and_the_checker_agrees() -> None:
    regions = make_regions(EIGHT)
    plan = pf.solve(regions, tiny_scenario())
    report = check(plan.allocation, regions, plan.scenario, plan.metrics_after, plan.metrics_before)
    assert report.ok, str(report)
    capacity = plan.regions["final_capacity"].to_numpy()
    top3 = np.sort(capacity)[-3:].sum() / capacity.sum()
    assert plan.metrics_after["top10_share"] == pytest.approx(top3)
    assert plan.metrics_after["top10_share"] < 0.99  # not the meaningless 100%
    assert report.metrics_after["top10_share"] == pytest.approx(top3)
    items = {h.label: h for h in tx.headline(plan)}
    assert "Top-3 share of capacity" in items and "Top-10 share of capacity" not in items
    assert tx.metric_label("top10_share", len(regions)) == "Top-3 regions' share of capacity"
    assert "Top-3 share of capacity: " in plan.summary()  # what `placefund solve` prints


def test_every_instrument_and_metric_has_a_label_and_a_unit() -> None:
    for name in pf.load_scenario().instruments:
        entry = columns.instrument(name)
        assert entry.label and entry.label.lower() != name and entry.unit == "USD"
    for key in ("spread_adjusted_capacity", "total_capacity", "gini", "top10_share", "hhi"):
        entry = columns.metric(key)
        assert entry.label and entry.unit and key not in entry.label
    assert columns.instrument_label("green_jobs") == "Green jobs"  # a scenario's own instrument


def test_the_models_description_ships_and_the_app_points_to_it() -> None:
    doc = tx.model_doc()
    assert doc.startswith("# The model") and "tangents are\nadded where the plan sits" in doc
    assert "docs/model.md" in tx.how_to_read(51)
    assert "Top-10 share" in tx.how_to_read(51) and "Top-3 share" in tx.how_to_read(8)


def test_a_share_axis_takes_the_decimals_its_range_needs() -> None:
    """Ticks 0.1-0.2 pp apart need two decimals to differ (65.5%, 65.7%); a wide range
    none; without the plotted values the given digits."""
    narrow = fmt.share_axis(values=[0.6612, 0.6588, 0.6571, 0.6549])
    assert narrow["tickformat"] == ".2~%"
    assert fmt.share_axis(values=[0.2, 0.5, 0.8])["tickformat"] == ".0~%"
    assert fmt.share_axis(values=[0.4, 0.4])["tickformat"] == ".0~%"  # one value: nothing to split
    assert fmt.share_axis()["tickformat"] == ".0%"
    assert fmt.share_axis(values=[0.5, 0.5 + 1e-9])["tickformat"] == ".4~%"  # capped
