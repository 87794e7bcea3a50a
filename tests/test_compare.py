"""Comparing saved plans: any number of them, each against its own baseline, the settings
that differ, the difference of any pair, and the library's notes, rename, duplicate and
undoable delete."""

from __future__ import annotations

from pathlib import Path

import pytest

import optimizer as pf
from optimizer.report import library as lib
from tests.factories import make_regions, tiny_scenario

TWO = """
region_id,name,population,talent,labs
N,North,100,3,1
S,South,100,1,3
"""


@pytest.fixture(scope="module")
def regions() -> pf.Regions:
    return make_regions(TWO)


@pytest.fixture(scope="module")
def plans(regions: pf.Regions) -> dict[str, pf.AllocationResult]:
    """Three plans: talent-weighted, labs-weighted (another baseline), and a smaller budget."""
    grant = {"grant": {"yields": {"talent": "1%", "labs": "1%"}, "saturation_usd": "$10B"}}
    return {
        "Talent": pf.solve(regions, tiny_scenario(instruments=grant)),
        "Labs": pf.solve(regions, tiny_scenario(weights={"labs": 1.0}, instruments=grant)),
        "Small": pf.solve(regions, tiny_scenario(budget="$2B", spread_weight=0.9,
                                                 instruments=grant)),
    }


def test_each_plan_is_compared_with_its_own_baseline(plans: dict[str, pf.AllocationResult]) -> None:
    table = lib.compare_metrics(plans)
    # Talent and Labs weight different indicators: their baselines differ, so each has its own
    assert list(table.columns) == ["Unit", "Baseline, Talent", "Talent", "Baseline, Labs", "Labs",
                                   "Baseline, Small", "Small"]
    # baseline capacity by hand: talent shares 3/4 and 1/4, labs 1/4 and 3/4 (total 100 points)
    gini = "Gini of per-capita capacity"
    assert table.loc[gini, "Baseline, Talent"] == table.loc[gini, "Baseline, Labs"] == "0.250"
    assert table.loc["Budget", "Small"] == "$2.0B"
    assert table.loc["Regions funded", "Talent"] == "2 of 2"


def test_plans_on_one_baseline_share_one_column(plans: dict[str, pf.AllocationResult]) -> None:
    table = lib.compare_metrics({"Talent": plans["Talent"], "Small": plans["Small"]})
    assert list(table.columns) == ["Unit", "Baseline", "Talent", "Small"]


def test_settings_diff_names_every_key_that_differs(plans: dict[str, pf.AllocationResult]) -> None:
    diff = lib.settings_diff(plans)
    assert set(diff["Key"]) == {"budget", "spread_weight", "weights.talent", "weights.labs"}
    assert diff.loc["Budget", "Small"] == "$2.0B" and diff.loc["Budget", "Talent"] == "$10.0B"
    assert diff.loc["Weight of Labs", "Labs"] == "100.0%"
    assert diff.loc["Weight of Labs", "Talent"] == "—"  # not set in that plan
    assert diff.loc["Spread weight λ", "Small"] == "0.9"
    same = lib.settings_diff({"A": plans["Talent"], "B": plans["Talent"]})
    assert same.empty


def test_settings_diff_covers_rules(regions: pf.Regions) -> None:
    capped = pf.solve(regions, tiny_scenario(region_cap_usd="$6B"))
    diff = lib.settings_diff({"Free": pf.solve(regions, tiny_scenario()), "Capped": capped})
    assert diff.loc["Cap for every region"].tolist() == ["region_cap_usd", "none", "$6.0B"]


def test_difference_of_any_pair_with_a_sentence_for_it(plans: dict[str, pf.AllocationResult]) -> None:
    diff = lib.difference_table(plans["Labs"], plans["Talent"], "Labs", "Talent")
    assert diff["Funding change"].sum() == pytest.approx(0.0, abs=1.0)  # same $10B budget
    sentence = lib.difference_summary(diff, "Labs", "Talent")
    assert sentence.startswith("Under “Talent” rather than “Labs”, 1 region(s) get more and 1 less")


def test_library_notes_rename_duplicate(plans: dict[str, pf.AllocationResult], tmp_path: Path) -> None:
    library = lib.PlanLibrary(tmp_path)
    library.save("Talent", plans["Talent"], notes="first try")
    assert library.get("Talent").notes == "first try"
    library.set_notes("Talent", "  the one to show  ")
    assert lib.PlanLibrary(tmp_path).get("Talent").notes == "the one to show"  # survives reload
    renamed = library.rename("Talent", "Talent-weighted")
    assert library.names() == ["Talent-weighted"] and renamed.notes == "the one to show"
    copy = library.duplicate("Talent-weighted")
    assert copy.name == "Talent-weighted (copy)" and copy.path != renamed.path
    assert copy.load().metrics_after == pytest.approx(plans["Talent"].metrics_after)
    library.save("Labs", plans["Labs"])
    with pytest.raises(pf.ScenarioError, match="already called 'Labs'"):
        library.rename("Talent-weighted", "Labs")
    with pytest.raises(pf.ScenarioError, match="notes are limited"):
        library.set_notes("Labs", "x" * 5000)


def test_delete_can_be_undone(plans: dict[str, pf.AllocationResult], tmp_path: Path) -> None:
    library = lib.PlanLibrary(tmp_path)
    library.save("Talent", plans["Talent"], notes="keep me")
    library.save("Labs", plans["Labs"])
    token = library.delete("Talent")
    assert library.names() == ["Labs"]
    back = library.restore(token)
    assert back.name == "Talent" and back.notes == "keep me"
    assert back.load().metrics_after == pytest.approx(plans["Talent"].metrics_after)
    # undo after the name was taken again: the restored plan gets a numbered name
    token = library.delete("Talent")
    library.save("Talent", plans["Small"])
    assert library.restore(token).name == "Talent (2)"
    with pytest.raises(pf.DataError, match="no longer in the trash"):
        library.restore(token)


def test_consensus_sliders_and_table_speak_in_labels() -> None:
    from optimizer.ui import consensus as cui

    assert cui.weight_label("ai_vc_musd") == "AI venture funding ($ millions)"


def test_the_difference_table_reads_with_signs_and_units(plans: dict[str, pf.AllocationResult]) -> None:
    diff = lib.difference_table(plans["Labs"], plans["Talent"], "Labs", "Talent")
    shown = lib.difference_display(diff)
    assert list(shown.columns) == ["Region", "Funding, Labs", "Funding, Talent", "Funding change",
                                   "Capacity, Labs (points)", "Capacity, Talent (points)",
                                   "Capacity change (points)"]
    changes = shown["Funding change"].tolist()
    assert sorted(c[0] for c in changes) == ["+", "\u2212"]  # one region gains, one loses
    assert all(c[1] == "$" and c[-1] in "BM" for c in changes)


def test_the_tab_names_renames_duplicates_and_keeps_current_plan_free(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path))
    at = AppTest.from_file(str(Path(__file__).parent.parent / "app.py"), default_timeout=60).run()
    at.session_state["tab"] = "Save & compare"  # a click on the tab: a closed tab is not drawn
    at.run()
    at.text_input(key="plan_name").set_value("Current plan")
    at.button(key="save").click().run()
    assert any("names the plan on screen" in e.value for e in at.error)
    library = lib.PlanLibrary(tmp_path / "plans")
    assert library.names() == []
    at.text_input(key="plan_name").set_value("First")
    at.text_area(key="plan_notes").set_value("for the board")
    at.button(key="save").click().run()
    assert library.get("First").notes == "for the board"
    folder = library.get("First").path.name
    at.text_input(key=f"rename_{folder}").set_value("Board plan")
    at.button(key="rename").click().run()
    assert library.names() == ["Board plan"]
    at.button(key="duplicate").click().run()
    assert library.names() == ["Board plan", "Board plan (copy)"]
    assert not at.exception
