"""The workbench's state without Streamlit: the shared plan cache, one person's session
(a plain dict stands in for ``st.session_state``), the Sensitivity page's one table of
defaults, and the one base scenario every command and the page start from."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.cli import app
from optimizer.engine import columns
from optimizer.engine.data import DATA_DIR
from optimizer.engine.errors import InfeasibleError, ScenarioError, SolverError
from optimizer.engine.scenario import (
    base_scenario,
    default_scenario,
    normalized,
    region_set_default,
)
from optimizer.report import uploads as up
from optimizer.report.library import PlanLibrary
from optimizer.ui import controls as ctl
from optimizer.ui import plans as pui
from optimizer.ui import sensitivity as sens
from optimizer.ui import session as ses
from optimizer.ui import state as stt
from tests.factories import FOUR, make_regions, tiny_scenario

TWO = make_regions("""
region_id,name,population,talent
X,Ex,1000,10
Y,Why,1000,30
""", "two.csv")


class Counting:
    """``solve_explained`` that counts its calls (real solves)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, planner: pf.Planner, scenario: pf.Scenario) -> pf.AllocationResult:
        self.calls += 1
        return pf.solve_explained(planner, scenario)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Counting:
    solver = Counting()
    monkeypatch.setattr(ses, "solve_explained", solver)
    return solver


# --------------------------------------------------------------------------- the plan cache


def test_a_plan_once_solved_opens_again_without_solving(counting: Counting) -> None:
    cache = ses.PlanCache()
    assert not cache.is_planned(FOUR)
    first = cache.solve(FOUR, tiny_scenario())
    assert isinstance(first, pf.AllocationResult) and cache.is_planned(FOUR)
    assert cache.solve(FOUR, tiny_scenario()) is first  # same scenario, built afresh: one solve
    assert counting.calls == 1
    assert first.spent_usd == pytest.approx(10e9)


def test_an_infeasible_scenario_is_kept_with_its_reason(counting: Counting) -> None:
    cache = ses.PlanCache()
    tight = tiny_scenario(region_floor_usd="$3B")  # 4 regions x $3B > the $10B budget
    refused = cache.solve(FOUR, tight)
    assert isinstance(refused, InfeasibleError) and "floor" in " ".join(refused.conflicts).lower()
    assert cache.solve(FOUR, tight) is refused and counting.calls == 1


def test_a_solver_that_gave_up_is_asked_again_next_time(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes: list[Any] = [SolverError("time limit reached"), None]

    def flaky(planner: pf.Planner, scenario: pf.Scenario) -> pf.AllocationResult:
        if (out := outcomes.pop(0)) is not None:
            raise out
        return pf.solve_explained(planner, scenario)

    monkeypatch.setattr(ses, "solve_explained", flaky)
    cache = ses.PlanCache()
    assert isinstance(cache.solve(FOUR, tiny_scenario()), SolverError)
    assert isinstance(cache.solve(FOUR, tiny_scenario()), pf.AllocationResult)
    assert outcomes == []


def test_the_oldest_plan_and_the_oldest_model_leave_first(counting: Counting) -> None:
    cache = ses.PlanCache(size=2, planners=1)
    budgets = [tiny_scenario(budget=f"${b}B") for b in (10, 11, 12)]
    for scenario in budgets:
        cache.solve(FOUR, scenario)
    assert counting.calls == 3
    cache.solve(FOUR, budgets[2])
    cache.solve(FOUR, budgets[1])
    assert counting.calls == 3  # the two newest are kept
    cache.solve(FOUR, budgets[0])
    assert counting.calls == 4  # the oldest had gone
    with cache.borrow(FOUR) as planner:
        pass
    cache.solve(TWO, tiny_scenario())  # one model kept: the other table's replaces it
    assert cache.is_planned(TWO) and not cache.is_planned(FOUR)
    with cache.borrow(FOUR) as again:
        assert again is not planner


def test_sessions_on_two_tables_and_on_one_table_solve_side_by_side() -> None:
    """Each thread's plan is its own scenario's optimum on its own table, as a Planner of its
    own finds it: one lock per shared Planner keeps a table's sessions from writing into each
    other's solve. (The LP has several optimal allocations; the objective is unique.)"""
    cache = ses.PlanCache()
    jobs = [(FOUR, tiny_scenario(budget=f"${b}B")) for b in (4, 6, 8)]
    jobs += [(TWO, tiny_scenario(budget=f"${b}B")) for b in (4, 6, 8)]
    expected = [pf.Planner(r).solve(s).objective for r, s in jobs]
    got: dict[int, Any] = {}

    def work(i: int) -> None:
        got[i] = cache.solve(*jobs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, (regions, scenario) in enumerate(jobs):
        plan = got[i]
        assert plan.scenario.budget == scenario.budget and plan.spent_usd == pytest.approx(scenario.budget)
        assert plan.regions["region_id"].tolist() == regions.ids
        assert plan.objective == pytest.approx(expected[i], rel=1e-6)


def test_a_second_session_on_a_busy_table_solves_at_once_on_a_planner_of_its_own() -> None:
    """While one session's solve holds the table's planner (here: held open by a thread
    until told), another session's solve runs on a second planner and does not wait; a
    third, with both planners busy, waits for the first."""
    cache = ses.PlanCache(per_table=2)
    holding, release = threading.Event(), threading.Event()
    held: list[pf.Planner] = []

    def hold() -> None:
        with cache.borrow(FOUR) as planner:
            held.append(planner)
            holding.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(timeout=60)
        plan = cache.solve(FOUR, tiny_scenario(budget="$6B"))  # returns while the first is held
        assert isinstance(plan, pf.AllocationResult)
        assert plan.objective == pytest.approx(
            pf.Planner(FOUR).solve(tiny_scenario(budget="$6B")).objective, rel=1e-6)
        with cache.borrow(FOUR) as second:
            assert second is not held[0]
            waited: list[pf.Planner] = []

            def wait_for_one() -> None:
                with cache.borrow(FOUR) as planner:
                    waited.append(planner)

            third = threading.Thread(target=wait_for_one)
            third.start()
            third.join(timeout=0.5)
            assert third.is_alive() and not waited  # both busy: the third waits
    finally:
        release.set()
        thread.join(timeout=60)
    third.join(timeout=60)
    assert waited == held  # and gets the first, once it is free


# --------------------------------------------------------------------------- one session


@dataclass
class Upload:
    """What an uploader holds: a file's name, size and bytes."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def getvalue(self) -> bytes:
        return self.data


OWN = b"region_id,name,population,patents\na,Alpha,100,5\nb,Beta,300,1\nc,Gamma,200,2\n"


@pytest.fixture
def session(states: pf.Regions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ses.Session:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path / "home"))
    clock = iter(float(t) for t in range(1000, 2000))
    return ses.Session({}, ses.PlanCache(), {"states": states}.__getitem__,
                       clock=lambda: next(clock))


def test_a_new_session_opens_the_states_default_once(session: ses.Session) -> None:
    session.open_session({})
    state = session.state
    assert state["loaded_set"] == state["region_set"] == "states"
    assert state["base"] is state["origin"] is default_scenario() and state["upload"] is None
    state["base"] = state["base"].updated(spread_weight=0.9)
    session.open_session({})  # the next run of the page: the session is open already
    assert state["base"].spread_weight == 0.9


def test_a_link_opens_its_settings_and_says_what_it_cannot(session: ses.Session,
                                                           states: pf.Regions) -> None:
    link = stt.link_params("states", default_scenario().updated(spread_weight=0.7),
                           default_scenario())
    session.open_session(link)
    assert session.state["base"].spread_weight == 0.7 and session.state["notes"] == []
    assert session.link(session.state["base"]) == link  # the page writes back the same link
    other = ses.Session({}, session.plans, {"states": states}.__getitem__)
    other.open_session({"v": "1", "set": "upload", "u": "ab" * 16})
    assert other.state["loaded_set"] == "states"
    assert "are not kept on this server" in other.state["notes"][0]


def test_an_upload_shows_only_once_it_solves_and_its_removal_goes_back(
        session: ses.Session) -> None:
    session.open_session({})
    state = session.state
    state["lam"] = 0.3  # a widget moved before the upload
    state["up_csv"] = Upload("own.csv", OWN)
    session.try_upload()
    assert state["upload_error"] is None and state["loaded_set"] == "upload"
    assert state["regions"].ids == ["a", "b", "c"] and state["upload"]["name"] == "own.csv"
    assert state["base"].weights == {"patents": 1.0}  # fitted to the table's one column
    assert session.plans.is_planned(state["regions"])  # solved before it was shown
    state["up_csv"] = None
    session.try_upload()  # the file removed: back to the states and the widgets before it
    assert state["loaded_set"] == "states" and state["base"] is default_scenario()
    assert state["lam"] == 0.3 and state["upload"] is None


def test_a_refused_replacement_gives_back_the_upload_it_replaced(session: ses.Session) -> None:
    session.open_session({})
    state = session.state
    state["up_csv"] = Upload("own.csv", OWN)
    session.try_upload()
    shown = state["regions"].sha256
    state["up_csv"] = None
    session.try_upload()  # a replacement arrives as a removal first ...
    assert state["loaded_set"] == "states"
    state["up_csv"] = Upload("bad.csv", OWN.replace(b",100,", b",-5,"))
    session.try_upload()  # ... then the new file, refused: the upload is back on screen
    assert "bad.csv" in state["upload_error"] and "Nothing was changed" in state["upload_error"]
    assert state["loaded_set"] == "upload" and state["regions"].sha256 == shown


def test_a_refused_upload_alone_changes_nothing(session: ses.Session) -> None:
    session.open_session({})
    state = session.state
    before = {k: state[k] for k in ses.KEPT}
    state["up_csv"] = Upload("bad.csv", (DATA_DIR / "states.csv").read_bytes().replace(
        b",5074296,", b",-5,"))
    session.try_upload()
    assert "bad.csv" in state["upload_error"] and "row 2" in state["upload_error"]
    assert {k: state[k] for k in ses.KEPT} == before


def test_a_scenario_file_on_the_states_starts_the_plan_and_undo_goes_back(
        session: ses.Session) -> None:
    session.open_session({})
    state = session.state
    state["up_yaml"] = Upload("mine.yaml", b"spread_weight: 0.2\nbudget: $40B\n")
    session.try_upload()
    assert state["upload_error"] is None and state["loaded_set"] == "states"
    assert (state["base"].spread_weight, state["base"].budget) == (0.2, 40e9)
    first = session.solve(state["base"])
    assert first.scenario.budget == 40e9
    session.solve(state["base"].updated(budget=50e9))
    session.on_history("undo")
    assert state["base"].budget == 40e9 and state["widgets_for"] is None
    session.reset_widgets()
    assert state["budget"] == pytest.approx(40.0)  # the widget shows $B


def test_an_infeasible_plan_raises_and_the_last_plan_stays(session: ses.Session) -> None:
    session.open_session({})
    plan = session.solve(session.state["base"])
    with pytest.raises(InfeasibleError):
        session.solve(session.state["base"].updated(region_floor_usd=2e9))  # 51 x $2B > $80B
    assert session.last_result() is plan
    assert session.state["history"].can_undo  # the refused settings are in the history too


def test_the_shelf_refuses_the_current_plans_name_and_undoes_a_delete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path / "home"))
    state: dict[str, Any] = {}
    shelf = pui.Shelf(state, PlanLibrary())
    plan = pf.Planner(FOUR).solve(tiny_scenario())
    assert shelf.save(" Current  plan", plan, "") == (
        False, "“Current plan” names the plan on screen: choose another name.")
    ok, said = shelf.save("mine", plan, "why")
    assert ok and said.startswith("Saved as “mine”")
    assert shelf.delete("mine") is None and shelf.library.names() == []
    assert shelf.undo_delete() is None and shelf.library.names() == ["mine"]
    assert shelf.delete("gone") is not None  # an unknown plan: its message, not a crash


# --------------------------------------------------------------------------- page tables


def test_every_sensitivity_control_starts_at_the_one_table_of_defaults() -> None:
    names = set()
    for row in sens.SENSITIVITY_SETTINGS:
        names.add(row.name)
        assert row.default == sens.DEFAULT_SENSITIVITY[row.name]
        assert set(row.kinds) <= set(sens.SENSITIVITY_KINDS) and 0 <= row.column < 3
        values = row.default if isinstance(row.default, tuple) else (row.default,)
        if row.widget == "select":
            assert row.default in row.options
        else:
            assert all(row.lo <= v and (row.hi is None or v <= row.hi) for v in values), row
            assert all(type(v) is type(row.step) for v in values), row  # int stays a count
    assert names <= set(sens.DEFAULT_SENSITIVITY)
    for kind in sens.SENSITIVITY_KINDS:  # the defaults each page shows make a valid spec
        shown = {row.name: row.default for row in sens.settings_for(kind)}
        sens.sensitivity_spec(kind, shown)
    assert [r.name for r in sens.settings_for("robust")] == ["runs", "threshold_musd", "seed"]


def test_the_weights_caption_and_the_scenario_normalize_alike() -> None:
    weights = {"gdp_musd": 3.0, "cs_doctorates": 1.0, "ai_vc_musd": 0.0}
    assert normalized(weights) == {"gdp_musd": 0.75, "cs_doctorates": 0.25, "ai_vc_musd": 0.0}
    assert ctl.weights_caption(weights) == (f"Weights, normalized: {columns.label('gdp_musd')} 75%, "
                                            f"{columns.label('cs_doctorates')} 25%")
    assert ctl.weights_caption({"gdp_musd": 0.0}) is None and normalized({"a": 0.0}) == {}


# --------------------------------------------------------------------------- the one base


def test_the_base_of_a_region_set_is_decided_in_one_place(tmp_path: Path) -> None:
    metros = pf.load_regions("metros")
    documented = region_set_default("metros", metros.indicators)
    assert base_scenario("states", ()) is default_scenario()
    assert base_scenario(str(tmp_path / "mine.csv"), ("patents",)) is default_scenario()
    assert base_scenario("metros", metros.indicators) == documented
    # keys given replace the base's; what they leave out is the set's default
    given = base_scenario("metros", metros.indicators, {"spread_weight": 0.7})
    assert given.weights == documented.weights and given.spread_measure == "hoover"
    assert given.spread_weight == 0.7
    # as a file, as bytes (an upload) and inline, the same scenario
    path = tmp_path / "s.yaml"
    path.write_text("spread_weight: 0.7\n")
    assert base_scenario("metros", metros.indicators, path) == given
    assert base_scenario("metros", metros.indicators, path.read_bytes(), "s.yaml") == given
    # a pack comes after the set's default, the scenario's own keys after the pack
    packed = base_scenario("metros", metros.indicators,
                           {"packs": ["tech_hubs_2022_statute_metros"], "budget": "$1B"})
    assert packed.approximation.tangents == 16 and packed.weights == documented.weights
    assert packed.budget == 1e9
    with pytest.raises(ScenarioError, match="s.yaml.*mapping"):
        base_scenario("metros", metros.indicators, b"- a list\n", "s.yaml")


def test_the_workbench_and_an_upload_start_from_the_same_base(states: pf.Regions) -> None:
    metros = pf.load_regions("metros")
    assert ctl.default_scenario_for("metros", metros) == base_scenario("metros", metros.indicators)
    assert ses.default_base("states", states) is default_scenario()
    # a scenario file on the metros is read over the metros' default, as `solve` reads it
    read = up.scenario_from_upload("s.yaml", b"spread_weight: 0.7\n", "metros", metros.indicators)
    assert read == base_scenario("metros", metros.indicators, {"spread_weight": 0.7})


def test_sweeps_and_ranging_on_metros_start_from_the_plan_solve_gives(tmp_path: Path) -> None:
    """`placefund sweep` and `placefund ranging` on metros re-solve the plan `placefund
    solve --regions metros` gives (ranging refused the metros before: it read the states'
    default weights)."""
    runner = CliRunner()

    def run(*args: str) -> str:
        done = runner.invoke(app, [str(a) for a in args])
        assert done.exit_code == 0 and "Traceback" not in done.output, done.output
        return done.output

    run("solve", "--regions", "metros", "--out", tmp_path / "plan")
    metrics = json.loads((tmp_path / "plan" / "metrics.json").read_text())
    regions = pd.read_csv(tmp_path / "plan" / "regions.csv", dtype={"region_id": str})
    spec = tmp_path / "sweep.yaml"
    spec.write_text("analysis: sweep\nregions: metros\nvary:\n  budget: ['$80B']\n")
    run("sweep", spec, "--out", tmp_path / "sweep", "--scheduler", "serial")
    runs = pd.read_csv(tmp_path / "sweep" / "runs.csv")
    assert runs["objective"].tolist() == [pytest.approx(metrics["objective"], rel=1e-9)]
    run("ranging", "--regions", "metros", "--no-weights", "--out", tmp_path / "ranging")
    table = pd.read_csv(tmp_path / "ranging" / "ranging.csv")
    funded = int((regions["funding_usd"] >= 1e6).sum())
    budget = table[table["parameter"] == "budget"]
    assert budget["current"].tolist() == [80e9, 80e9]
    assert f"the same {funded} regions are funded" in budget["meaning"].iloc[-1]


def test_the_allocation_table_shows_millions_and_percent_of_the_plans_numbers() -> None:
    from optimizer.report import text as tx

    plan = pf.Planner(FOUR).solve(tiny_scenario())
    shown, formats = tx.allocation_shown(plan)
    raw = tx.allocation_table(plan)
    first = raw.index[0]
    assert shown.index.name == "Region ID" and list(shown.index) == list(raw.index)
    assert shown.loc[first, "Funding"] == pytest.approx(raw.loc[first, "Funding"] / 1e6)
    assert shown.loc[first, "Share after"] == pytest.approx(raw.loc[first, "Share after"] * 100)
    assert shown.loc[first, "Per person"] == raw.loc[first, "Per person"]  # dollars, as printed
    assert shown["Funding"].sum() == pytest.approx(10_000.0)  # $10B in $M
    assert formats["Funding"] == (tx.TABLE_MILLIONS, None)
    assert formats["Capacity after"] == ("%.2f", "capacity points")
    assert set(formats) <= set(shown.columns)
    assert tx.approximation_warning(plan) is None  # 200 tangents: within the tolerance
    assert tx.solver_line(plan) == (f"Solved by {plan.solver.solver} in "
                                    f"{plan.solver.solve_time_s * 1000:,.0f} ms (rebuilt the model).")


def test_a_finished_analysis_says_how_it_went() -> None:
    run = sens.run_sensitivity("sweep_lambda", {"points": 2}, FOUR, tiny_scenario())
    done, failed = sens.run_summary(run)
    assert done.startswith("Sweep over the spread weight λ: 2 of 2 runs solved in ")
    assert done.endswith("(serial, in-process).") and failed is None
