"""The workbench's state between page runs, without Streamlit.

``PlanCache`` holds what every session of one server shares: up to two Planners per
regions table (a solve rewrites a planner's numbers first, so each is used by one
session at a time; a second session on the same table solves on the second one rather
than wait, and only a third waits) and the plans solved so far, so a plan once solved (a
default, a shared link) opens without solving again. Sessions on different tables never
wait for each other here.

``Session`` is one person's page: its data and starting scenario, the upload flow (an
upload is shown only if it solves, a removal goes back to the plan from before it, a
refused replacement gives back what it replaced) and the plan a link holds. It reads
and writes a plain mutable mapping, which ``app.py`` gives as ``st.session_state``.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from optimizer.analysis.diagnose import solve_explained
from optimizer.engine.data import Regions, load_regions
from optimizer.engine.errors import InfeasibleError, PlaceFundError, SolverError
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import Scenario, base_scenario
from optimizer.engine.solve import Planner
from optimizer.report import uploads as up
from optimizer.ui import controls as ctl
from optimizer.ui import notes as nts
from optimizer.ui import state as stt
from optimizer.ui import uploads as uui

PLAN_CACHE_SIZE = 64  # solved plans (and refusals) kept for every session
PLANNERS = 16  # regions tables whose built model is kept (the least recently used goes)
PLANNERS_PER_TABLE = 2  # sessions of one table that solve at once (the machine's 2 cores)

Outcome = AllocationResult | PlaceFundError  # a plan, or why there is none


class PlanCache:
    """Solved plans by (regions, scenario fingerprint), newest last, and up to
    ``per_table`` Planners (each its compiled model loaded in one HiGHS instance) per
    regions table, for every session of a server.

    A Planner is not thread safe, so each has its own lock, held while it solves; the
    cache's own lock guards only its tables and is never held during a solve.
    """

    def __init__(self, size: int = PLAN_CACHE_SIZE, planners: int = PLANNERS,
                 per_table: int = PLANNERS_PER_TABLE) -> None:
        self.size, self.planners, self.per_table = size, planners, per_table
        self._plans: collections.OrderedDict[tuple[str, str], Outcome] = collections.OrderedDict()
        self._planners: collections.OrderedDict[str, list[tuple[Planner, threading.Lock]]] = (
            collections.OrderedDict())
        self._built: set[str] = set()
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def borrow(self, regions: Regions) -> Iterator[Planner]:
        """A Planner of ``regions`` for this caller alone while the block runs: a free
        one, else a new one while the table has fewer than ``per_table``, else the first,
        once it is free."""
        with self._guard:
            pool = self._planners.get(regions.sha256)
            if pool is None:
                pool = self._planners[regions.sha256] = []
            self._planners.move_to_end(regions.sha256)
            while len(self._planners) > self.planners:
                self._built.discard(self._planners.popitem(last=False)[0])
            entry = next((e for e in pool if e[1].acquire(blocking=False)), None)
            if entry is None and len(pool) < self.per_table:
                entry = (Planner(regions), threading.Lock())
                entry[1].acquire()
                pool.append(entry)
        if entry is None:
            entry = pool[0]
            entry[1].acquire()
        try:
            yield entry[0]
        finally:
            entry[1].release()

    def is_planned(self, regions: Regions) -> bool:
        """Whether a model of these regions is already built (else the first solve builds it)."""
        with self._guard:
            return regions.sha256 in self._built

    def solve(self, regions: Regions, scenario: Scenario) -> Outcome:
        """The plan of ``scenario`` (or the ``PlaceFundError`` saying why there is none):
        from the cache, else solved on a Planner of the table (``borrow``) and kept,
        unless the solver gave up (a time limit under load may pass next time)."""
        key = (regions.sha256, scenario.fingerprint())
        with self._guard:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key]
        outcome: Outcome
        if scenario.growth_centers is not None:
            # a growth-centers MIP takes up to a minute: on a planner of its own, so other
            # sessions on this table do not wait for it
            try:
                outcome = solve_explained(Planner(regions), scenario)
            except PlaceFundError as err:
                outcome = err
        else:
            with self.borrow(regions) as planner:
                try:
                    outcome = solve_explained(planner, scenario)
                except PlaceFundError as err:
                    outcome = err
        with self._guard:
            if regions.sha256 in self._planners:
                self._built.add(regions.sha256)
            if isinstance(outcome, SolverError):
                return outcome
            self._plans[key] = outcome
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return outcome


UPLOADERS = tuple(key for key, _label, _types in uui.UPLOADERS)  # the CSV, its shapes, a YAML
KEPT = ("regions", "base", "origin", "notes", "pack_notes", "loaded_set", "region_set", "upload")


def default_base(region_set: str, regions: Regions) -> Scenario:
    """A region set's starting plan: its base (``scenario.base_scenario``)."""
    return base_scenario(region_set, regions.indicators)


@dataclass
class Session:
    """One person's page, kept in ``state`` (``st.session_state`` in the app).

    ``plans`` is the server's shared ``PlanCache``; ``shipped`` loads a shipped region set
    and ``base_of`` gives a region set's starting plan (the app passes cached versions);
    ``clock`` is monotonic seconds (when a removal happened).
    """

    state: MutableMapping[str, Any]
    plans: PlanCache
    shipped: Callable[[str], Regions] = load_regions
    base_of: Callable[[str, Regions], Scenario] = default_base
    clock: Callable[[], float] = field(default=time.monotonic)

    # ------------------------------------------------------------------ data and widgets

    def use_data(self, regions: Regions, base: Scenario, notes: list[str]) -> None:
        """Make ``regions`` and ``base`` the page's data and starting scenario."""
        ss = self.state
        ss["regions"], ss["base"], ss["origin"], ss["notes"] = regions, base, base, notes
        ss["pack_notes"] = []

    def load_set(self, name: str) -> None:
        """Switch to a shipped region set with its default plan, or back to the uploaded one."""
        if name == stt.UPLOAD_SET:
            upload = self.state["upload"]
            self.use_data(upload["regions"], upload["base"], upload["notes"])
        else:
            regions = self.shipped(name)
            self.use_data(regions, self.base_of(name, regions), [])
        self.state["loaded_set"] = name

    def reference_for(self, name: str, regions: Regions) -> Scenario:
        """The scenario a link's settings are the difference from."""
        if name == stt.UPLOAD_SET:
            reference: Scenario = self.state["upload"]["reference"]
            return reference
        return self.base_of(name, regions)

    def knob_values(self) -> dict[str, Any]:
        """The sidebar widgets' current values (a snapshot to give back later)."""
        ss = self.state
        return {k: ss[k] for k in list(ss) if isinstance(k, str) and (k == "packs" or ctl.is_knob_key(k))}

    def values(self) -> dict[str, Any]:
        """Every named value of the page (what the knobs read the scenario from)."""
        return {key: self.state[key] for key in list(self.state) if isinstance(key, str)}

    def widgets_follow(self) -> None:
        """Note that the widgets show the page's data and starting scenario."""
        self.state["widgets_for"] = (self.state["regions"].sha256, self.state["base"].fingerprint())

    def reset_widgets(self) -> None:
        """Point every sidebar widget at the starting scenario's values, if they do not
        already (group minimums of columns the scenario does not use are dropped: their
        widgets start again at 0)."""
        ss = self.state
        regions, scenario = ss["regions"], ss["base"]
        if ss.get("widgets_for") == (regions.sha256, scenario.fingerprint()):
            return
        values = ctl.widget_values(scenario, regions)
        for key in [k for k in list(ss) if isinstance(k, str) and k.startswith("gmin_")]:
            if key not in values:
                del ss[key]
        for key, value in values.items():
            ss[key] = value
        ss["packs"] = list(scenario.packs)
        self.widgets_follow()

    def keep(self, key: str) -> None:
        """Remember a widget's value apart from it: Streamlit forgets the value of a widget a
        run does not draw (a map after an upload without shapes, say)."""
        self.state[f"kept_{key}"] = self.state[key]

    def restore(self, key: str, allowed: Any, fallback: Any) -> None:
        """Give a widget drawn again its remembered value (if still allowed), else ``fallback``."""
        value = self.state.get(key)
        if value not in allowed:
            value = self.state.get(f"kept_{key}")
        self.state[key] = value if value in allowed else fallback

    def select_region_from_map(self) -> None:
        """Map click -> the drill-down region."""
        event = self.state.get("pick_map")
        points = (event or {}).get("selection", {}).get("points", []) if event else []
        if points and points[0].get("location"):
            self.state["detail_region"] = self.state["kept_detail_region"] = str(points[0]["location"])

    def set_options(self) -> list[str]:
        """The region sets the picker offers (the upload once there is one); the picker is
        set back to the loaded set if its choice is no longer offered."""
        ss = self.state
        options = [*ctl.REGION_SET_LABELS, *([stt.UPLOAD_SET] if ss["upload"] else [])]
        if ss.get("region_set") not in options:
            ss["region_set"] = ss["loaded_set"] if ss["loaded_set"] in options else "states"
        return options

    def planning_over(self) -> str:
        """The sidebar's line on what the plan covers."""
        ss = self.state
        what = "your uploaded regions" if ss["loaded_set"] == stt.UPLOAD_SET else ss["loaded_set"]
        return f"Planning over: {what} ({len(ss['regions']):,} regions)"

    def notes(self, plan: AllocationResult | None) -> tuple[list[str], list[str]]:
        """The page's notes (``notes.arrange``): one line per topic above the plan, and the
        full sentences for *Details*."""
        ss = self.state
        uploaded = ss["loaded_set"] == stt.UPLOAD_SET
        return nts.arrange(nts.page_topics(
            page=ss["notes"], uploaded=uploaded, region_set=ss["loaded_set"],
            set_notes=ctl.region_set_notes("" if uploaded else ss["loaded_set"], ss["base"]),
            rules=[*ss["pack_notes"], *(plan.notes if plan is not None else [])], plan=plan))

    def group_options(self) -> list[str]:
        """The group columns a hub rule may name (or none); a hub picker whose column the
        data lacks is set back to none."""
        options = [ctl.NONE, *self.state["regions"].groups]
        for key in ("hub_gcol", "hub_one"):
            if self.state.get(key) not in options:
                self.state[key] = ctl.NONE
        return options

    # ------------------------------------------------------------------ the plan on screen

    def solve_message(self) -> str:
        """What the page says while it solves: the first solve of a table builds its model."""
        if not self.plans.is_planned(self.state["regions"]):
            return f"Building the model for {len(self.state['regions']):,} regions and solving…"
        return ("Solving… if the rules conflict, finding which ones and the smallest fix "
                "can take several seconds.")

    def solve(self, scenario: Scenario) -> AllocationResult:
        """The plan of ``scenario`` on the page's data, noted in the undo history; the last
        one that solved is kept for when settings do not. Raises the ``PlaceFundError``
        saying why there is none (``InfeasibleError`` with the conflict and its fixes)."""
        ss = self.state
        outcome = self.plans.solve(ss["regions"], scenario)
        history: stt.History = ss.setdefault("history", stt.History())
        history.record(scenario, ss["regions"].sha256)
        if isinstance(outcome, PlaceFundError):
            raise outcome
        ss["last_result"] = outcome
        return outcome

    def last_result(self) -> AllocationResult | None:
        """The last plan that solved on the page's data (None: none yet, or other data)."""
        result: AllocationResult | None = self.state.get("last_result")
        if result is None or result.provenance.get("data_sha256") != self.state["regions"].sha256:
            return None
        return result

    # ------------------------------------------------------------------ the sidebar's callbacks

    def on_packs(self) -> None:
        """Packs changed: the person's scenario with exactly the chosen packs on."""
        ss = self.state
        ss["base"], ss["pack_notes"] = ctl.packs_chosen(ss["base"], ss["regions"], self.values(),
                                                        list(ss["packs"]), ss["origin"])

    def on_relax(self, scenario: Scenario, changes: dict[str, Any]) -> None:
        """Apply one suggested relaxation of an infeasible scenario."""
        self.state["base"] = ctl.apply_relaxation(scenario, changes)

    def on_reset(self) -> None:
        """Back to the region set's default plan (an upload's: the one it was uploaded with)."""
        self.load_set(self.state["loaded_set"])
        self.state["widgets_for"] = None

    def on_history(self, step: str) -> None:
        """Undo or redo: the previous (or next) settings become the page's."""
        history: stt.History = self.state["history"]
        scenario = history.undo() if step == "undo" else history.redo()
        if scenario is not None:
            self.state["base"] = scenario
            self.state["widgets_for"] = None

    def on_missing(self) -> None:
        """The empty-cells policy changed: an upload refused for its empty cells is tried again."""
        if self.state.get("upload_error") and self.state.get("up_csv") is not None:
            self.try_upload()

    # ------------------------------------------------------------------ a new session, a link

    def open_session(self, params: Mapping[str, str]) -> None:
        """A new session: the plan a link (``params``: the page's query) holds (region
        set, settings, upload), else the default."""
        ss = self.state
        for key, empty in (("regions", None), ("loaded_set", None), ("notes", []),
                           ("pack_notes", []), ("upload", None)):
            ss.setdefault(key, empty)
        if ss["regions"] is not None:
            return
        link = stt.read_link(params)
        notes: list[str] = []
        if link is not None and link.problem:
            notes.append(f"This link could not be used in full: {link.problem}.")
        name = link.region_set if link is not None else "states"
        if name == stt.UPLOAD_SET and link is not None and not self.restore_upload(link):
            notes.append(f"This link's uploaded regions (content hash {link.csv_hash}) are not kept "
                         "on this server, so they could not be restored: upload the file again. "
                         "Showing the states instead, without the link's settings.")
            name, link = "states", None
        self.load_set(name)
        if link is not None:
            ss["base"], problem = stt.apply_link(ss["base"], link, ss["regions"])
            ss["origin"] = ss["base"]
            notes += [f"This link could not be used in full: {problem}."] if problem else []
        ss["notes"] = [*ss["notes"], *notes]
        ss["region_set"] = ss["loaded_set"]

    def restore_upload(self, link: stt.Link) -> bool:
        """Reload the uploaded files a link names from the PlaceFund folder; False if absent."""
        self.state["upload"] = uui.stored(link.csv_hash or "", link.geo_hash)
        return self.state["upload"] is not None

    def link(self, scenario: Scenario) -> dict[str, str]:
        """The query parameters of a link to ``scenario`` on the page's region set."""
        ss = self.state
        upload = ss["upload"] if ss["loaded_set"] == stt.UPLOAD_SET else {}
        return stt.link_params(ss["loaded_set"], scenario,
                               self.reference_for(ss["loaded_set"], ss["regions"]),
                               upload.get("csv_hash"), upload.get("geo_hash"))

    # ------------------------------------------------------------------ uploads

    def on_screen(self) -> tuple[str, str]:
        """What the page shows: its data and starting scenario (not the widgets: the change
        that follows a removal can still carry the values they had before it)."""
        return self.state["regions"].sha256, self.state["base"].fingerprint()

    def trial_solve(self, regions: Regions, base: Scenario) -> None:
        """Solve a new upload's plan before showing it; an error raises and changes nothing.

        An infeasible plan is kept (the page shows its conflict and fixes); its result or
        error goes in the shared plan cache, so the page does not solve it again.
        """
        outcome = self.plans.solve(regions, base)
        if isinstance(outcome, PlaceFundError) and not isinstance(outcome, InfeasibleError):
            raise outcome

    def try_upload(self) -> None:
        """Read the uploaded files; show them only if they solve, else keep everything as it was."""
        ss = self.state
        csv, geo, yaml = (ss.get(k) for k in UPLOADERS)
        ss["upload_error"] = None
        removed: uui.Removed | None = ss.pop("removed_upload", None)
        if csv is None and yaml is None:
            replaced = {**{k: ss.get(k) for k in (*KEPT, "before_upload")}, **self.knob_values(),
                        "history": copy.copy(ss.get("history"))}
            self.restore_before_upload()
            ss["removed_upload"] = uui.Removed(replaced, self.on_screen(), self.clock())
            return
        before = ss.get("before_upload") or {"state": {k: ss.get(k) for k in KEPT},
                                             "widgets": self.knob_values()}
        shipped = "states" if (was := before["state"]["loaded_set"]) == stt.UPLOAD_SET else was
        try:
            regions = (up.regions_from_upload(csv.name, csv.getvalue(), geo.name if geo else None,
                                              geo.getvalue() if geo else None)
                       if csv is not None else self.shipped(shipped))
            if self.shapes_only(regions, yaml):
                return
            base, notes, reference = uui.upload_plan(
                regions, csv is not None, (yaml.name, yaml.getvalue()) if yaml else None, shipped,
                str(ss.get("missing") or "error"))
            self.trial_solve(regions, base)
        except PlaceFundError as err:
            ss["upload_error"] = uui.refusal(err)
            # a file replaced in its uploader came as a removal first: undo that removal
            for key, value in (uui.to_restore(removed, self.on_screen(), self.clock()) or {}).items():
                ss[key] = value
            self.widgets_follow()
            return
        ss["before_upload"] = before
        if csv is not None:
            ss["upload"] = {"regions": regions, "base": base, "notes": notes, "reference": reference,
                            "name": csv.name,
                            "csv_hash": up.store_upload(csv.getvalue(), "csv", name=csv.name),
                            "geo_hash": up.store_upload(geo.getvalue(), "geojson") if geo else None,
                            "yaml": (yaml.name, yaml.size) if yaml else None}
            self.load_set(stt.UPLOAD_SET)
        else:
            ss["upload"] = None
            self.use_data(regions, base, notes)
            ss["loaded_set"] = shipped
        ss["region_set"] = ss["loaded_set"]

    def shapes_only(self, regions: Regions, yaml: Any) -> bool:
        """Only the shapes of the uploaded table on screen changed: swap them in, keeping the
        plan and every setting (True), instead of starting the upload's plan again."""
        ss = self.state
        upload = ss.get("upload")
        if (ss.get("loaded_set") != stt.UPLOAD_SET or not upload
                or upload["regions"].sha256 != regions.sha256
                or upload.get("yaml") != ((yaml.name, yaml.size) if yaml else None)):
            return False
        geo = ss.get("up_geo")
        old_note = upload["regions"].geometry_note
        notes = [*(n for n in upload["notes"] if n != old_note), *filter(None, [regions.geometry_note])]
        ss["upload"] = {**upload, "regions": regions, "notes": notes,
                        "geo_hash": up.store_upload(geo.getvalue(), "geojson") if geo else None}
        ss["regions"] = regions
        return True

    def restore_before_upload(self) -> None:
        """The uploads were removed: back to the plan, settings and sidebar from before them."""
        ss = self.state
        before = ss.pop("before_upload", None)
        ss["upload"] = None
        if before is None:
            return
        for key, value in {**before["state"], **before["widgets"]}.items():
            ss[key] = value
        self.widgets_follow()
