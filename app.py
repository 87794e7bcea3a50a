"""PlaceFund workbench: explore, compare and export allocations.

Run with ``streamlit run app.py``. This file only lays out widgets and caches;
every number comes from ``optimizer/``: the sidebar's knobs from the table in
``optimizer/ui/controls.py``, the sensitivity page from ``optimizer/ui/sensitivity.py``,
text, tables, uploads, the plan library, exports and maps from ``optimizer/report/``.
"""

from __future__ import annotations

import collections
import copy
import functools
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from optimizer import Planner, Regions, load_regions, solve_explained
from optimizer.analysis import facts
from optimizer.engine import columns
from optimizer.engine.errors import InfeasibleError, PlaceFundError, SolverError
from optimizer.engine.scenario import usd
from optimizer.report import consensus as rcs
from optimizer.report import explain as rx
from optimizer.report import export as ex
from optimizer.report import library as lib
from optimizer.report import maps
from optimizer.report import text as tx
from optimizer.report import uploads as up
from optimizer.report.outcomes import outcome_sentence
from optimizer.ui import consensus as cui
from optimizer.ui import controls as ctl
from optimizer.ui import notes as nts
from optimizer.ui import plans as pui
from optimizer.ui import sensitivity as sens
from optimizer.ui import state as stt
from optimizer.ui import uploads as uui

st.set_page_config(page_title="PlaceFund workbench", page_icon="🗺️", layout="wide")
ss = st.session_state
PAGE = "page"  # persist_state: a widget of a closed tab keeps its value until the tab opens again


@st.cache_resource(show_spinner=False)
def shipped_regions(name: str) -> Regions:
    """A shipped region set (shared, read-only)."""
    return load_regions(name)


APP_STATIC = Path(__file__).resolve().parent / "static"  # what Streamlit serves at app/static/


@st.cache_resource(show_spinner=False)
def geojson_of(sha256: str, shapes: str, served: bool, _regions: Regions) -> maps.Shapes | None:
    """Simplified, clockwise polygons for the map, per regions table and shapes file; a
    shipped set's are served as a file the page fetches once (an upload's stay in the figure)."""
    gdf = _regions.geometry()
    if gdf is None:
        return None
    geojson = maps.geojson_for(gdf)
    return maps.serve_geojson(geojson, APP_STATIC) if served else geojson


@st.cache_resource(show_spinner=False, max_entries=16)
def facts_tables(sha256: str, _regions: Regions) -> Any:
    """The article's facts measured on a regions table (they depend on the table alone)."""
    return facts.display_tables(_regions)


@st.cache_resource(show_spinner=False)
def full_shapes(sha256: str, shapes: str, _regions: Regions) -> Any:
    """Full-resolution polygons for the GeoJSON export, per regions table and shapes file."""
    return _regions.geometry()


def geometry_of(sha256: str, _regions: Regions) -> Any:
    """Full-resolution polygons for the GeoJSON export."""
    return full_shapes(sha256, str(_regions.geometry_path), _regions)


PLAN_CACHE_SIZE = 64  # solved plans (and refusals) kept for every session


@st.cache_resource(show_spinner=False, max_entries=16)
def shared_planner(sha256: str, _regions: Regions) -> tuple[Planner, threading.Lock]:
    """One Planner (built model + persistent HiGHS) per regions table for every session.

    Its lock makes sessions take turns: a solve rewrites the model's parameters first.
    Sharing it means a session that opens a region set another session has planned
    re-solves from that model instead of building its own.
    """
    return Planner(_regions), threading.Lock()


@st.cache_resource(show_spinner=False)
def shared_plans() -> tuple[collections.OrderedDict[tuple[str, str], Any], threading.Lock]:
    """Solved plans (or why not) by (regions, scenario fingerprint), newest last, for all
    sessions: a plan once solved (a default, a shared link) opens without solving again."""
    return collections.OrderedDict(), threading.Lock()


@st.cache_resource(show_spinner=False)
def built_models() -> set[str]:
    """The regions tables (by hash) whose shared model has been built and solved once."""
    return set()


def is_planned(regions: Regions) -> bool:
    """Whether a model of these regions is already built (else the first solve builds it)."""
    return regions.sha256 in built_models()


def solve_plan(regions: Regions, scenario: Any) -> Any:
    """The plan of ``scenario`` (or the ``PlaceFundError`` saying why there is none), cached."""
    key = (regions.sha256, scenario.fingerprint())
    plans, plans_lock = shared_plans()
    with plans_lock:
        if key in plans:
            plans.move_to_end(key)
            return plans[key]
    planner, lock = shared_planner(regions.sha256, regions)
    with lock:
        try:
            outcome: Any = solve_explained(planner, scenario)
        except PlaceFundError as err:
            outcome = err
        built_models().add(regions.sha256)
    if isinstance(outcome, SolverError):
        return outcome  # a time limit under load may pass next time: not kept for everyone
    with plans_lock:
        plans[key] = outcome
        while len(plans) > PLAN_CACHE_SIZE:
            plans.popitem(last=False)
    return outcome


def reset_widgets(regions: Regions, scenario: Any) -> None:
    """Point every sidebar widget at ``scenario``'s values (group minimums of columns the
    scenario does not use are dropped: their widgets start again at 0)."""
    values = ctl.widget_values(scenario, regions)
    for key in [k for k in list(ss) if isinstance(k, str) and k.startswith("gmin_")]:
        if key not in values:
            del ss[key]
    for key, value in values.items():
        ss[key] = value
    ss["packs"] = list(scenario.packs)
    ss["widgets_for"] = (regions.sha256, scenario.fingerprint())


def knob(where: Any, key: str, member: str = "", label: str | None = None, **extra: Any) -> Any:
    """Draw one sidebar widget from its row of ``ctl.KNOBS`` (label, range, step, tooltip)."""
    row = ctl.knob(key)
    options = {"key": row.key + member, "help": row.help or None, "persist_state": PAGE, **extra}
    text = label or row.text(member)
    if row.widget == "checkbox":
        return where.checkbox(text, **options)
    if row.widget in ("radio", "select", "multiselect"):
        draw = {"radio": where.radio, "select": where.selectbox, "multiselect": where.multiselect}
        return draw[row.widget](text, options.pop("options"), **options)
    whole = row.kind == "count"
    lo, hi = row.lo, row.upper(len(ss["regions"]))
    bounds = [None if b is None else int(b) if whole else float(b) for b in (lo, hi, row.step)]
    if row.widget == "slider":
        return where.slider(text, bounds[0], bounds[1], step=bounds[2], **options)
    if row.fmt:
        options["format"] = row.fmt
    return where.number_input(text, min_value=bounds[0], max_value=bounds[1], step=bounds[2],
                              **options)


def folded(where: Any, label: str, key: str, expanded: bool = False) -> Any | None:
    """An expander whose content is drawn only while it is open (``None`` when closed): a
    change does not redraw what is folded away, and a folded widget keeps its value."""
    box = where.expander(label, expanded=expanded, key=key, on_change="rerun")
    return box if box.open else None


def select_region_from_map() -> None:
    """Map click -> the drill-down region."""
    event = ss.get("pick_map")
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points and points[0].get("location"):
        ss["detail_region"] = ss["kept_detail_region"] = str(points[0]["location"])


def keep(key: str) -> None:
    """Remember a widget's value apart from it: Streamlit forgets the value of a widget a
    run does not draw (a map after an upload without shapes, say)."""
    ss[f"kept_{key}"] = ss[key]


def restore(key: str, allowed: Any, fallback: Any) -> None:
    """Give a widget drawn again its remembered value (if still allowed), else ``fallback``."""
    value = ss.get(key)
    if value not in allowed:
        value = ss.get(f"kept_{key}")
    ss[key] = value if value in allowed else fallback


# --------------------------------------------------------------------------- data + scenario


@st.cache_resource(show_spinner=False)
def default_base(region_set: str, _regions: Regions) -> Any:
    """The default plan of a shipped region set (assumptions in ``ctl.default_scenario_for``)."""
    return ctl.default_scenario_for(region_set, _regions)


def use_data(regions: Regions, base: Any, notes: list[str]) -> None:
    """Make ``regions`` and ``base`` the page's data and starting scenario."""
    ss["regions"], ss["base"], ss["origin"], ss["notes"] = regions, base, base, notes
    ss["pack_notes"] = []


def load_set(name: str) -> None:
    """Switch to a shipped region set with its default plan, or back to the uploaded one."""
    if name == stt.UPLOAD_SET:
        upload = ss["upload"]
        use_data(upload["regions"], upload["base"], upload["notes"])
    else:
        regions = shipped_regions(name)
        use_data(regions, default_base(name, regions), [])
    ss["loaded_set"] = name


def reference_for(name: str, regions: Regions) -> Any:
    """The scenario a link's settings are the difference from."""
    return ss["upload"]["reference"] if name == stt.UPLOAD_SET else default_base(name, regions)


def knob_values() -> dict[str, Any]:
    """The sidebar widgets' current values (a snapshot to give back later)."""
    return {k: ss[k] for k in list(ss) if isinstance(k, str) and (k == "packs" or ctl.is_knob_key(k))}


def trial_solve(regions: Regions, base: Any) -> None:
    """Solve a new upload's plan before showing it; an error raises and changes nothing.

    An infeasible plan is kept (the page shows its conflict and fixes); its result or
    error goes in the shared plan cache, so the page does not solve it again.
    """
    outcome = solve_plan(regions, base)
    if isinstance(outcome, PlaceFundError) and not isinstance(outcome, InfeasibleError):
        raise outcome


UPLOADERS = ("up_csv", "up_geo", "up_yaml")  # the regions CSV, its shapes, a scenario YAML


def try_upload() -> None:
    """Read the uploaded files; show them only if they solve, else keep everything as it was."""
    csv, geo, yaml = (ss.get(k) for k in UPLOADERS)
    ss["upload_error"] = None
    removed: uui.Removed | None = ss.pop("removed_upload", None)
    if csv is None and yaml is None:
        replaced = {**{k: ss.get(k) for k in (*KEPT, "before_upload")}, **knob_values(),
                    "history": copy.copy(ss.get("history"))}
        restore_before_upload()
        ss["removed_upload"] = uui.Removed(replaced, on_screen(), time.monotonic())
        return
    before = ss.get("before_upload") or {"state": {k: ss.get(k) for k in KEPT}, "widgets": knob_values()}
    shipped = "states" if (was := before["state"]["loaded_set"]) == stt.UPLOAD_SET else was
    try:
        regions = (up.regions_from_upload(csv.name, csv.getvalue(), geo.name if geo else None,
                                          geo.getvalue() if geo else None)
                   if csv is not None else shipped_regions(shipped))
        if shapes_only(regions, yaml):
            return
        base, notes, reference = uui.upload_plan(
            regions, csv is not None, (yaml.name, yaml.getvalue()) if yaml else None, shipped,
            None if csv else default_base(shipped, regions), str(ss.get("missing") or "error"))
        trial_solve(regions, base)
    except PlaceFundError as err:
        ss["upload_error"] = uui.refusal(err)
        # a file replaced in its uploader came as a removal first: undo that removal
        for key, value in (uui.to_restore(removed, on_screen(), time.monotonic()) or {}).items():
            ss[key] = value
        ss["widgets_for"] = (ss["regions"].sha256, ss["base"].fingerprint())
        return
    ss["before_upload"] = before
    if csv is not None:
        ss["upload"] = {"regions": regions, "base": base, "notes": notes, "reference": reference,
                        "name": csv.name, "csv_hash": up.store_upload(csv.getvalue(), "csv", name=csv.name),
                        "geo_hash": up.store_upload(geo.getvalue(), "geojson") if geo else None,
                        "yaml": (yaml.name, yaml.size) if yaml else None}
        load_set(stt.UPLOAD_SET)
    else:
        ss["upload"] = None
        use_data(regions, base, notes)
        ss["loaded_set"] = shipped
    ss["region_set"] = ss["loaded_set"]


def shapes_only(regions: Regions, yaml: Any) -> bool:
    """Only the shapes of the uploaded table on screen changed: swap them in, keeping the
    plan and every setting (True), instead of starting the upload's plan again."""
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


KEPT = ("regions", "base", "origin", "notes", "pack_notes", "loaded_set", "region_set", "upload")


def on_screen() -> tuple[str, str]:
    """What the page shows: its data and starting scenario (not the widgets: the change
    that follows a removal can still carry the values they had before it)."""
    return ss["regions"].sha256, ss["base"].fingerprint()


def restore_before_upload() -> None:
    """The uploads were removed: back to the plan, settings and sidebar from before them."""
    before = ss.pop("before_upload", None)
    ss["upload"] = None
    if before is None:
        return
    for key, value in {**before["state"], **before["widgets"]}.items():
        ss[key] = value
    ss["widgets_for"] = (ss["regions"].sha256, ss["base"].fingerprint())


def on_missing() -> None:
    """The empty-cells policy changed: an upload refused for its empty cells is tried again."""
    if ss.get("upload_error") and ss.get("up_csv") is not None:
        try_upload()


def open_session() -> None:
    """A new session: the plan a link holds (region set, settings, upload), else the default."""
    link = stt.read_link(st.query_params.to_dict())
    notes: list[str] = []
    if link is not None and link.problem:
        notes.append(f"This link could not be used in full: {link.problem}.")
    name = link.region_set if link is not None else "states"
    if name == stt.UPLOAD_SET and link is not None and not restore_upload(link):
        notes.append(f"This link's uploaded regions (content hash {link.csv_hash}) are not kept "
                     "on this server, so they could not be restored: upload the file again. "
                     "Showing the states instead, without the link's settings.")
        name, link = "states", None
    load_set(name)
    if link is not None:
        ss["base"], problem = stt.apply_link(ss["base"], link, ss["regions"])
        ss["origin"] = ss["base"]
        notes += [f"This link could not be used in full: {problem}."] if problem else []
    ss["notes"] = [*ss["notes"], *notes]
    ss["region_set"] = ss["loaded_set"]


def restore_upload(link: Any) -> bool:
    """Reload the uploaded files a link names from the PlaceFund folder; False if absent."""
    ss["upload"] = uui.stored(link.csv_hash, link.geo_hash)
    return ss["upload"] is not None


def draw_notes(where: Any, plan: Any) -> None:
    """The page's notes: one line per topic, the full sentences under *Details*."""
    uploaded = ss["loaded_set"] == stt.UPLOAD_SET
    above, details = nts.arrange(nts.page_topics(
        page=ss["notes"], uploaded=uploaded, region_set=ss["loaded_set"],
        set_notes=ctl.region_set_notes("" if uploaded else ss["loaded_set"], ss["base"]),
        rules=[*ss["pack_notes"], *(plan.notes if plan is not None else [])], plan=plan))
    for line in above:
        where.info(line)
    if details and (box := folded(where, f"Details: {len(details)} notes on the data and "
                                  "assumptions", "notes_open")):
        for line in details:
            box.markdown(f"- {line}")


def on_packs() -> None:
    """Packs changed: the person's scenario with exactly the chosen packs on."""
    values = {key: ss[key] for key in ss if isinstance(key, str)}
    ss["base"], ss["pack_notes"] = ctl.packs_chosen(ss["base"], ss["regions"], values,
                                                    list(ss["packs"]), ss["origin"])


def on_relax(scenario: Any, changes: dict[str, Any]) -> None:
    """Apply one suggested relaxation of an infeasible scenario."""
    ss["base"] = ctl.apply_relaxation(scenario, changes)


def on_reset() -> None:
    """Back to the region set's default plan (an upload's: the one it was uploaded with)."""
    load_set(ss["loaded_set"])
    ss["widgets_for"] = None


def on_history(step: str) -> None:
    """Undo or redo: the previous (or next) settings become the page's."""
    history: stt.History = ss["history"]
    scenario = history.undo() if step == "undo" else history.redo()
    if scenario is not None:
        ss["base"] = scenario
        ss["widgets_for"] = None


ss.setdefault("regions", None)
ss.setdefault("loaded_set", None)
ss.setdefault("notes", [])
ss.setdefault("pack_notes", [])
ss.setdefault("upload", None)
if ss["regions"] is None:
    open_session()

st.sidebar.title("PlaceFund")
history_slot = st.sidebar.container()
set_options = [*ctl.REGION_SET_LABELS, *([stt.UPLOAD_SET] if ss["upload"] else [])]
if ss.get("region_set") not in set_options:
    ss["region_set"] = ss["loaded_set"] if ss["loaded_set"] in set_options else "states"
set_choice = st.sidebar.selectbox(
    "Region set", set_options, key="region_set",
    format_func=functools.partial(ctl.region_set_label, upload=(ss["upload"] or {}).get("name")),
    help="Plan for states, metro areas (CBSAs), counties or your own uploaded regions. Metros "
         "and counties use locally measured figures (see the notes above the map and "
         "data/SOURCES.md).")
if set_choice != ss["loaded_set"]:
    if set_choice in ctl.SLOW_REGION_SETS:
        st.sidebar.warning(ctl.SLOW_REGION_SETS[set_choice])
        if st.sidebar.button(f"Switch to {set_choice}", key="confirm_set"):
            load_set(set_choice)
            st.rerun()  # redraw without the warning and button of the set just left
    else:
        load_set(set_choice)

regions: Regions = ss["regions"]
base = ss["base"]
if ss.get("widgets_for") != (regions.sha256, base.fingerprint()):
    reset_widgets(regions, base)

uploads = st.sidebar.expander("Bring your own data", key="open_uploads", on_change="rerun")
# folded and empty, it is not drawn; a file in an uploader keeps it drawn, since an
# uploader not drawn would drop its file
if uploads.open or any(ss.get(k) is not None for k in UPLOADERS):
    with uploads:
        st.caption(f"Regions CSV: region_id, name, population and numeric indicator columns "
                   f"(up to {up.MAX_APP_REGIONS:,} regions); GeoJSON keyed by region_id for maps. "
                   f"Files up to {up.MAX_UPLOAD_MB} MB each. Uploads are kept in your PlaceFund "
                   "folder under their content hash, so the page's link can name them.")
        knob(st, "missing", options=list(ctl.MISSING_POLICIES), format_func=up.MISSING_LABELS.get,
             on_change=on_missing)
        for key, label, kinds in (("up_csv", "Regions CSV", ["csv"]),
                                  ("up_geo", "Region shapes (GeoJSON, optional)", ["geojson", "json"]),
                                  ("up_yaml", "Scenario YAML", ["yaml", "yml"])):
            st.file_uploader(label, type=kinds, key=key, on_change=try_upload,
                             max_upload_size=up.MAX_UPLOAD_MB)
        if ss.get("upload_error"):
            st.error(ss["upload_error"])
        st.button("Back to the default plan", key="reset", on_click=on_reset)

names = dict(zip(regions.table["region_id"], regions.table["name"]))
ids = regions.ids
uploaded = ss["loaded_set"] == stt.UPLOAD_SET
st.sidebar.caption(f"Planning over: "
                   f"{'your uploaded regions' if uploaded else ss['loaded_set']} "
                   f"({len(ids):,} regions)")

# --------------------------------------------------------------------------- sidebar controls

sb = st.sidebar
knob(sb, "budget")
knob(sb, "lam")
knob(sb, "theta")
measures, gini_off = ctl.spread_measure_choice(len(ids))
knob(sb, "spread_measure", options=list(ctl.SPREAD_LABELS), format_func=ctl.SPREAD_LABELS.get,
     disabled=gini_off is not None, horizontal=True)
if gini_off:
    sb.caption(gini_off)
# a folded section's widgets are not drawn (they keep their values): a change redraws less
if box := folded(sb, "Indicator weights", "open_weights"):
    for k in regions.indicators:
        label, tip = tx.indicator_label(k)
        knob(box, "w_", k, label=label, help=tip)
if weights_read := ctl.weights_caption({k: ss[f"w_{k}"] for k in regions.indicators}):
    sb.caption(weights_read)
if box := folded(sb, "Instruments (assumptions)", "open_instruments"):
    for name in base.instruments:
        for k, e in base.instruments[name].yields.items():
            knob(box, "yld_", f"{name}.{k}", label=f"{columns.instrument_label(name)}: "
                 f"{columns.label(k)} per $1B "
                 f"({'% of its national total' if isinstance(e, str) else columns.unit(k)})")
if box := folded(sb, "Spread constraints", "open_spread"):
    for key in ("topk_on", "topk_k", "topk_share", "pcf_on", "pcf"):
        knob(box, key)
if box := folded(sb, "Per-region bounds and exclusions", "open_bounds"):
    for key in ("floor", "cap", "maxshare_on", "maxshare"):
        knob(box, key)
    knob(box, "capped", options=ids, format_func=names.get)
    for rid in ss.get("capped") or []:
        ss.setdefault(f"cap_{rid}", ctl.knob("cap_").default)
        knob(box, "cap_", rid, label=ctl.knob("cap_").text(names[rid]))
    knob(box, "excluded", options=ids, format_func=names.get)
    knob(box, "topk_inc")
if regions.groups and (box := folded(sb, "Group minimums", "open_groups")):
    knob(box, "group_col", options=[ctl.NONE, *regions.groups])
    column = ss.get("group_col")
    if column in regions.groups:
        for value in sorted(set(regions.table[column])):
            ss.setdefault(f"gmin_{column}_{value}", ctl.knob("gmin_").default)
            knob(box, "gmin_", f"{column}_{value}", label=ctl.knob("gmin_").text(value))

if base.packs or base.hubs:
    ss.setdefault("open_rules", True)  # a plan with rules opens with them in view
group_options = [ctl.NONE, *regions.groups]
for key in ("hub_gcol", "hub_one"):
    if ss.get(key) not in group_options:
        ss[key] = ctl.NONE
docs = ctl.pack_docs()
modified = ctl.pack_changes(base)
rules = folded(sb, "Program rules", "open_rules")
if rules is not None:
    rules.multiselect("Constraint packs", list(docs), key="packs", on_change=on_packs,
                      persist_state=PAGE,
                      help="Named sets of rules from statute or practice. "
                           + " ".join(f"**{n}**: {d}" for n, d in docs.items()))
for pack in ss.get("packs") or []:  # under the picker; beneath the section while it is folded
    (sb if rules is None else rules).caption(
        ctl.pack_caption(pack, docs.get(pack, ""), modified.get(pack, [])))
if rules is not None:
    hubs_on = knob(rules, "hubs_on")
    h1, h2 = rules.columns(2)
    for where, key in ((h1, "hub_kmin"), (h2, "hub_kmax"), (h1, "hub_amin"), (h2, "hub_amax")):
        knob(where, key, disabled=not hubs_on)
    knob(rules, "hub_gcol", options=group_options, disabled=not hubs_on)
    knob(rules, "hub_gmin", disabled=not hubs_on)
    knob(rules, "hub_one", options=group_options, disabled=not hubs_on)
knob(sb, "unspent")  # always in view, under the rules it relaxes

# --------------------------------------------------------------------------- solve

st.title("PlaceFund workbench")
st.caption(f"Regions: {regions.source} ({len(regions)}) · the model and its assumptions: "
           "docs/model.md, shown in full under *How to read this*. Every change re-solves the plan.")
notes_slot = st.container()  # filled once the plan is known: its notes join the page's
if how := folded(st, "How to read this", "open_how"):
    how.markdown(tx.how_to_read(len(regions)))
    if how.toggle("Show the model in full (docs/model.md)", key="show_model", persist_state=PAGE):
        how.markdown(tx.model_doc())

if facts_box := folded(st, "The article's facts, measured on these regions", "facts_open"):
    facts_box.caption("How concentrated each measured indicator is (top-10 regions' share of "
                      "the total, Gini over regions; empty cells count as 0), beside what the "
                      "article states.")
    for table in facts_tables(regions.sha256, regions):
        facts_box.table(table.set_index(table.columns[0]))

values = {key: ss[key] for key in ss if isinstance(key, str)}
result = None
try:
    scenario = ctl.scenario_from_widgets(base, regions, values)
    message = (f"Building the model for {len(ids):,} regions and solving…"
               if not is_planned(regions) else
               "Solving… if the rules conflict, finding which ones and the smallest fix "
               "can take several seconds.")
    if not is_planned(regions):  # the first solve builds the model: shape the map meanwhile
        threading.Thread(target=geojson_of, daemon=True,
                         args=(regions.sha256, str(regions.geometry_path), not uploaded, regions)).start()
    with st.spinner(message):
        outcome = solve_plan(regions, scenario)
    history = ss.setdefault("history", stt.History())
    history.record(scenario, regions.sha256)
    upload_info = ss["upload"] if uploaded else {}
    link = stt.link_params(ss["loaded_set"], scenario, reference_for(ss["loaded_set"], regions),
                           upload_info.get("csv_hash"), upload_info.get("geo_hash"))
    if st.query_params.to_dict() != link:
        st.query_params.from_dict(link)
    if isinstance(outcome, PlaceFundError):
        raise outcome
    result = outcome
    ss["last_result"] = result
except InfeasibleError as err:
    what, fixes = ctl.infeasible_report(err)
    st.error("These settings cannot all hold. What conflicts"
             + (", and the fixes below, smallest first, each checked by solving again:"
                if fixes else ", and what to relax:") + "\n\n"
             + "\n".join(f"- {c}" for c in what))
    for i, relaxation in enumerate(fixes):
        r1, r2 = st.columns([5, 1])
        r1.markdown(f"**Fix {i + 1}:** {relaxation.text}")
        r2.button("Apply", key=f"relax_{i}", on_click=on_relax, args=(scenario, relaxation.changes),
                  help="Change the settings by exactly this and solve again.")
except PlaceFundError as err:
    st.error(str(err))
    st.button("Back to the default plan", key="reset_error", on_click=on_reset)
with history_slot:
    done = ss.get("history") or stt.History()
    u1, u2 = st.columns(2)
    u1.button("Undo", key="undo", on_click=on_history, args=("undo",), disabled=not done.can_undo,
              help="Back to the settings before the last change.", width="stretch")
    u2.button("Redo", key="redo", on_click=on_history, args=("redo",), disabled=not done.can_redo,
              help="Forward again to the settings undone last.", width="stretch")
if result is None:
    result = ss.get("last_result")
    if result is None or result.provenance.get("data_sha256") != regions.sha256:
        draw_notes(notes_slot, None)
        st.stop()
    st.warning("Showing the last plan that solved; change the settings above to solve again.")
draw_notes(notes_slot, result)

# --------------------------------------------------------------------------- headline + tabs

items = tx.headline(result)
for row in (items[i:i + 3] for i in range(0, len(items), 3)):
    for col, h in zip(st.columns(3), row):
        col.metric(h.label, h.value, h.delta, help=h.help, delta_color="off", delta_arrow=h.arrow)
if bought := outcome_sentence(result):
    st.markdown(f"**{bought}** Capacity points are a weighted share of these outcomes.")
if not result.approximation.get("within_tolerance", True):
    st.warning("The LP's response approximation is off by more than the scenario allows; "
               "raise approximation.tangents in the scenario file.")

geojson = geojson_of(regions.sha256, str(regions.geometry_path), not uploaded, regions)
tab_map, tab_table, tab_region, tab_cons, tab_cmp, tab_exp, tab_sens, tab_agree = st.tabs(
    ["Map", "Allocation", "Region detail", "Constraints", "Save & compare", "Export", "Sensitivity",
     "Consensus"], key="tab", on_change="rerun")
# a tab runs only while open: a change redraws what is on screen (a hidden tab's widgets
# keep their values: persist_state)

with tab_map:
    if tab_map.open:
        metric_options = maps.map_metrics_for(result.regions, result.scenario.hubs is not None)
        restore("map_metric", metric_options, metric_options[0])
        metric = st.selectbox("Colour the map by", metric_options, key="map_metric",
                              format_func=lambda c: maps.MAP_METRICS[c].label,
                              help="Each option's unit is shown in the legend.",
                              on_change=keep, args=("map_metric",))
        if geojson is None:
            st.info("No region shapes: upload a GeoJSON keyed by region_id to see a map.")
        else:
            # a plain chart: one that reports clicks costs every change a widget's round trip,
            # so regions are picked by clicking on the Region detail tab's map
            st.plotly_chart(maps.choropleth(result.regions, geojson, metric), config=maps.PLOTLY_CONFIG,
                            key="map")
            st.caption(ex.map_summary(result) + " " + maps.MAP_METRICS[metric].help
                       + " Hover a region for its numbers; the Region detail tab shows one in full.")
        if spread := maps.spread_note(result.regions, metric):
            st.info(spread)
        if ranked := folded(st, f"Ranked by {maps.MAP_METRICS[metric].label.lower()} (the map's "
                            "numbers as a table)", "ranked_open", expanded=geojson is None):
            ranked.dataframe(maps.ranked_table(result.regions, metric), hide_index=True,
                             width="stretch", height=240)

with tab_table:
    if tab_table.open:
        st.caption("Every region's funding by instrument, capacity and share before and after "
                   "the plan; sort by any column.")
        table = tx.allocation_table(result)
        money = [c for c in table.columns if c not in ("Region", "Per person", "Capacity before",
                                                        "Capacity after", "Share before", "Share after",
                                                        "Excluded", "Hub")]
        shown = table.assign(**{c: table[c] / 1e6 for c in money},
                             **{c: table[c] * 100 for c in ("Share before", "Share after")}
                             ).rename_axis("Region ID")
        # as tall as its rows (35 px each, and the header's), up to 15 rows before it scrolls
        st.dataframe(shown, width="stretch", height=min(560, 35 * (len(shown) + 1) + 3), column_config={
            **{c: st.column_config.NumberColumn(c, format=tx.TABLE_MILLIONS) for c in money},
            "Per person": st.column_config.NumberColumn(format=tx.TABLE_PER_PERSON),
            "Capacity before": st.column_config.NumberColumn(format="%.2f", help="capacity points"),
            "Capacity after": st.column_config.NumberColumn(format="%.2f", help="capacity points"),
            "Share before": st.column_config.NumberColumn(format="%.2f%%"),
            "Share after": st.column_config.NumberColumn(format="%.2f%%"),
        })

with tab_region:
    if tab_region.open:
        restore("detail_region", names, str(tx.allocation_table(result).index[0]))
        left, right = st.columns([3, 2]) if geojson is not None else (st.container(), None)
        rid = left.selectbox("Region", ids, format_func=names.get, key="detail_region",
                             on_change=keep, args=("detail_region",),
                             help="Or click the region on the map." if right else None)
        if right is not None:
            right.plotly_chart(maps.choropleth(result.regions, geojson, height=380),
                               config=maps.PLOTLY_CONFIG, key="pick_map",
                               on_select=select_region_from_map, selection_mode="points")
            right.caption("Click a region to show it here (colour: funding per person).")
        detail = tx.region_detail(result, regions, rid)
        left.subheader(detail.name)
        left.table(pd.Series(detail.summary, name="").to_frame())
        left.dataframe(detail.table(), hide_index=True)
        why = rx.region_explanation(result, regions, rid)
        st.markdown("**Why it gets what it gets**")
        st.caption("1. The data: the region against the nation (sources: data/SOURCES.md).")
        st.dataframe(rx.data_table(why), hide_index=True)
        st.caption(f"2. Each instrument at the plan. {rx.budget_sentence(why)} Yields and "
                   "saturation: docs/evidence.md.")
        st.dataframe(rx.instrument_table(why), hide_index=True)
        st.markdown("\n".join(f"- {line}" for line in
                               [rx.spread_sentence(why), *rx.rule_sentences(why)]))
        st.caption("3. What its dollars buy, in the indicators' own units.")
        st.dataframe(rx.outcome_table(why), hide_index=True)

with tab_cons:
    if tab_cons.open:
        st.markdown("**What the budget and each binding constraint are worth**")
        for sentence in tx.marginal_sentences(result):
            st.markdown(f"- {sentence}")
        st.caption(f"Solved by {result.solver.solver or 'HiGHS'} in "
                   f"{result.solver.solve_time_s * 1000:,.0f} ms "
                   f"({'rebuilt the model' if result.solver.rebuilt else 're-used the model'}).")

with tab_cmp:
    if tab_cmp.open:
        library = lib.PlanLibrary()
        c1, c2 = st.columns([3, 1])
        plan_name = c1.text_input("Name this plan", key="plan_name", persist_state=PAGE,
                                  placeholder="e.g. λ 0.8, no top 4")
        plan_notes = c1.text_area("Notes (optional)", key="plan_notes", persist_state=PAGE, height=68,
                                  placeholder="Why this plan; what to check before showing it.")
        if c2.button("Save plan", key="save"):
            if " ".join(plan_name.split()) == "Current plan":
                st.error("“Current plan” names the plan on screen: choose another name.")
            else:
                try:
                    saved = library.save(plan_name, result, notes=plan_notes)
                    st.success(f"Saved as “{saved.name}” in {library.root}")
                except PlaceFundError as err:
                    st.error(str(err))
        undo = ss.get("undo_delete")
        if undo:
            u1, u2 = st.columns([3, 1])
            u1.info(f"Deleted “{undo[0]}”.")
            if u2.button("Undo delete", key="undo_delete_button"):
                try:
                    library.restore(undo[1])
                    ss["undo_delete"] = None
                    st.rerun()
                except PlaceFundError as err:
                    st.error(str(err))
                    ss["undo_delete"] = None
        saved_plans = library.list()
        saved_names = [p.name for p in saved_plans]
        if saved_plans:  # keyed: a message drawn above it (Saved as …) does not fold it
            with st.expander(f"Saved plans ({len(saved_plans)}): notes, rename, duplicate, delete",
                             key="saved_open"):
                st.dataframe(pd.DataFrame({"Plan": saved_names,
                                           "Saved (UTC)": [p.saved_utc[:16].replace("T", " ")
                                                           for p in saved_plans],
                                           "Notes": [p.notes for p in saved_plans]}),
                             hide_index=True, width="stretch")
                ss["manage_name"] = pui.managed_choice(saved_names, ss.get("manage_name"),
                                                       ss.pop("renamed", None))
                managed = st.selectbox("Plan", saved_names, key="manage_name", persist_state=PAGE)
                entry = library.get(managed)
                m1, m2 = st.columns(2)
                new_name = m1.text_input("New name", value=entry.name, key=f"rename_{entry.path.name}",
                                         persist_state=PAGE)
                new_notes = m2.text_area("Notes", value=entry.notes, key=f"notes_{entry.path.name}",
                                         persist_state=PAGE,
                                         height=68)
                b1, b2, b3, b4 = st.columns(4)
                try:
                    if b1.button("Rename", key="rename"):
                        ss["renamed"] = library.rename(managed, new_name).name  # stays picked
                        st.rerun()
                    if b2.button("Save notes", key="save_notes"):
                        library.set_notes(managed, new_notes)
                        st.rerun()
                    if b3.button("Duplicate", key="duplicate"):
                        copy = library.duplicate(managed)
                        st.success(f"Copied as “{copy.name}”")
                    if b4.button("Delete…", key="delete"):
                        ss["confirm_delete"] = managed
                except PlaceFundError as err:
                    st.error(str(err))
                if ss.get("confirm_delete") == managed:
                    st.warning(f"Delete “{managed}”? You can undo this until you leave the page.")
                    k1, k2 = st.columns(2)
                    if k1.button(f"Yes, delete “{managed}”", key="delete_confirm"):
                        try:
                            ss["undo_delete"] = (managed, library.delete(managed))
                        except PlaceFundError as err:
                            st.error(str(err))
                        ss["confirm_delete"] = None
                        st.rerun()
                    if k2.button("Keep it", key="delete_cancel"):
                        ss["confirm_delete"] = None
                        st.rerun()
            saved_names = library.names()
        if isinstance(ss.get("compare"), list):
            ss["compare"] = [n for n in ss["compare"] if n in ["Current plan", *saved_names]]
        picked = st.multiselect("Compare (current plan + saved plans)", ["Current plan", *saved_names],
                                key="compare", persist_state=PAGE,
                                help="Any number of plans, each against its own baseline.")
        plans: dict[str, Any] = {}
        for name in picked:
            try:
                plans[name] = result if name == "Current plan" else library.get(name).load()
            except PlaceFundError as err:
                st.error(str(err))
        if plans:
            st.markdown("**Metrics** (a plan on other data or weights is shown against its own baseline)")
            st.dataframe(lib.compare_metrics(plans), width="stretch")
        if len(plans) >= 2:
            st.markdown("**Settings that differ**")
            settings_diff = lib.settings_diff(plans)
            if settings_diff.empty:
                st.caption("These plans have the same settings.")
            else:
                st.dataframe(settings_diff.drop(columns="Key"), width="stretch")
            p1, p2 = st.columns(2)
            pair = list(plans)
            for key, default in (("diff_a", pair[0]), ("diff_b", pair[1])):
                if ss.get(key) not in pair:
                    ss[key] = default
            name_a = p1.selectbox("Difference from", pair, key="diff_a", persist_state=PAGE)
            name_b = p2.selectbox("to", pair, key="diff_b", persist_state=PAGE)
            a, b = plans[name_a], plans[name_b]
            if name_a == name_b:
                st.caption("Choose two different plans to see their difference.")
            elif not lib.same_regions({name_a: a, name_b: b}):
                st.warning(f"“{name_a}” and “{name_b}” cover different regions: no difference map.")
            else:
                diff = lib.difference_table(a, b, name_a, name_b)
                if geojson is not None and set(a.regions["region_id"].astype(str)) == set(ids):
                    st.plotly_chart(maps.difference_map(a.regions, b.regions, geojson, name_a, name_b),
                                    config=maps.PLOTLY_CONFIG, key="diff_map")
                st.caption(lib.difference_summary(diff, name_a, name_b))
                st.dataframe(lib.difference_display(diff), width="stretch")
                if st.button("Split each region's change by setting", key="attribute",
                             help="Re-solves the first plan with each setting that differs, "
                                  "alone; what is left is their interaction."):
                    try:
                        ss["attribution"] = (name_a, name_b, rx.attribution_table(
                            rx.attribute(a, b)))
                    except PlaceFundError as err:
                        st.error(str(err))
                split = ss.get("attribution")
                if split is not None and split[:2] == (name_a, name_b):
                    st.caption(f"From “{name_a}” to “{name_b}”: each setting alone, re-solved; "
                               "the parts and the interaction add up to the change.")
                    st.dataframe(split[2], hide_index=True, width="stretch")

with tab_exp:
    if tab_exp.open:
        st.markdown("Take the plan away. The scenario file reproduces it exactly when uploaded again. "
                    "The brief opens in any browser, offline; its *Print or save as PDF* button "
                    "prints it on one page.")
        shapes = geometry_of(regions.sha256, regions)
        title = f"PlaceFund plan: {usd(result.scenario.budget)} across {len(result.regions)} regions"
        downloads = [
            ("Allocation (CSV)", "csv", "placefund-allocation.csv"),
            ("Workbook (Excel)", "xlsx", "placefund-plan.xlsx"),
            ("Regions with shapes (GeoJSON)", "geojson", "placefund-plan.geojson"),
            ("Scenario (YAML)", "yaml", "placefund-scenario.yaml"),
            ("One-page brief (HTML, print to PDF)", "html", "placefund-brief.html"),
        ]
        for label, fmt, file_name in downloads:
            if fmt == "geojson" and shapes is None:
                st.caption("GeoJSON needs region shapes: upload a GeoJSON with the regions CSV.")
                continue
            st.download_button(label, data=functools.partial(ex.export_bytes, result, fmt, shapes, title),
                               file_name=file_name, mime=ex.MEDIA_TYPES[fmt], key=f"dl_{fmt}",
                               on_click="ignore")

with tab_sens:
    if tab_sens.open:
        st.markdown("Which conclusions survive when the judgments move? Each analysis re-solves the "
                    "plan shown above (its current settings are the base) many times.")
        kind = st.selectbox("Analysis", list(sens.SENSITIVITY_KINDS), key="sens_kind", persist_state=PAGE,
                            format_func=sens.SENSITIVITY_KINDS.get)
        st.caption(sens.SENSITIVITY_HELP[kind])
        settings: dict[str, Any] = {}
        s1, s2, s3 = st.columns(3)
        if kind in ("sweep_budget", "sobol"):
            settings["budget_range_busd"] = s1.slider("Budget range ($B)", 1.0, 400.0, (20.0, 160.0),
                                                      step=1.0, key="sens_budget", persist_state=PAGE)
        if kind == "sweep_lambda":
            settings["lambda_range"] = s1.slider("λ range", 0.0, 1.0, (0.0, 1.0), step=0.05,
                                                 key="sens_lambda", persist_state=PAGE)
        if kind in ("sweep_budget", "sweep_lambda", "pareto"):
            settings["points"] = s2.number_input("Points", min_value=2, max_value=60, value=6, step=1,
                                                 key="sens_points", persist_state=PAGE)
        if kind == "robust":
            settings["runs"] = s1.number_input("Weight samples", min_value=2, max_value=5000, value=50,
                                               step=10, key="sens_runs", persist_state=PAGE,
                                               help="Each sample is one re-solve.")
            settings["threshold_musd"] = s2.number_input(
                "Funded from ($M)", min_value=0.0, value=100.0, step=10.0, key="sens_threshold",
                persist_state=PAGE,
                help="A region counts as funded in a sample when it gets at least this much.")
        if kind == "pareto":
            settings["measure"] = s1.selectbox("Spread measure", ["gini", "top10_share"],
                                               key="sens_measure", persist_state=PAGE,
                                               format_func={"gini": "Gini",
                                                            "top10_share": "Top-10 share"}.get)
        if kind == "tornado":
            settings["change_pct"] = s1.slider("Change each parameter by ± (%)", 5, 50, 20, step=5,
                                               key="sens_change", persist_state=PAGE)
        if kind == "sobol":
            settings["base_samples"] = s2.selectbox("Base samples N", [4, 8, 16, 32, 64], index=1,
                                                    key="sens_samples", persist_state=PAGE,
                                                    help="Runs = N × (factors + 2).")
        if kind in ("robust", "sobol"):
            settings["seed"] = s3.number_input("Random seed", min_value=0, value=42, step=1,
                                               key="sens_seed", persist_state=PAGE,
                                               help="Same seed, same numbers.")
        scheduler = st.text_input(
            "Dask scheduler (optional)", key="sens_scheduler", persist_state=PAGE,
            placeholder="tcp://127.0.0.1:8786",
            help="Leave empty to run here, in this process. Give the address of a running Dask "
                 "scheduler to send the runs to its workers.")
        spec = None
        try:
            spec = sens.sensitivity_spec(kind, settings)
            st.caption(f"{sens.expected_runs(spec, result.scenario):,} solves on {len(ids):,} regions "
                       f"(one re-solve of this plan took {result.solver.solve_time_s:.2f} s).")
        except PlaceFundError as err:
            st.error(str(err))
        if st.button("Run analysis", key="sens_run", type="primary", disabled=spec is None):
            bar = st.progress(0.0, text="Starting…")

            def show_progress(done: int, total: int) -> None:
                """Progress bar as runs finish."""
                bar.progress(min(done / max(total, 1), 1.0), text=f"{done:,} of {total:,} runs")

            try:
                ss["sens"] = sens.run_sensitivity(kind, settings, regions, result.scenario, scheduler,
                                                show_progress)
                ss["sens_regions"] = regions.sha256
            except PlaceFundError as err:
                st.error(str(err))
            bar.empty()
        run = ss.get("sens")
        if run is not None:
            outcome = run.result
            st.success(f"{sens.SENSITIVITY_KINDS[run.kind]}: {outcome.summary['ok']:,} of "
                       f"{outcome.summary['runs']:,} runs solved in {run.seconds:.1f} s ({run.backend}).")
            if outcome.failed:
                st.warning(f"{outcome.failed} run(s) failed; their reasons are in the runs table.")
            robust = sens.robustness_frame(run)
            if robust is not None and geojson is not None and ss.get("sens_regions") == regions.sha256:
                st.plotly_chart(maps.robustness_map(robust, geojson), config=maps.PLOTLY_CONFIG,
                                key="sens_map")
                st.caption(maps.CORE_INDEX.help)
            for name, fig in outcome.figures.items():
                st.plotly_chart(fig, key=f"sens_fig_{name}")
            with st.expander("Summary"):
                st.code(outcome.text, language=None)
            with st.expander("The charts in words", expanded=False):
                for line in sens.chart_texts(run).values():
                    st.markdown(f"- {line}")
                st.caption("Every number behind the charts is in the tables below (CSV).")
            st.download_button("All charts and tables (zip)",
                               data=functools.partial(sens.sensitivity_zip, run),
                               file_name=sens.zip_file_name(run),
                               mime="application/zip", key="sens_dl_zip", on_click="ignore",
                               help="charts.html (opens offline), every table as CSV, the summary.")
            for label, file_name, data in sens.sensitivity_downloads(run):
                st.download_button(label, data=data, file_name=file_name, mime="text/csv",
                                   key=f"sens_dl_{file_name}", on_click="ignore")

with tab_agree:
    if tab_agree.open:
        st.markdown("One plan for people who weight the indicators differently: each stakeholder's "
                    "own best plan first, then the plan whose worst-off stakeholder gets the largest "
                    "share of the gain it could attain. The rules are this plan's.")
        count = st.slider("Stakeholders", cui.MIN_STAKEHOLDERS, cui.MAX_STAKEHOLDERS, 3,
                          key="agree_count", persist_state=PAGE)
        presets = cui.default_rows(result.scenario, count)
        rows = []
        for j, preset in enumerate(presets):
            start = cui.widget_defaults(j, preset, result.scenario)
            if box := folded(st, f"Stakeholder {j + 1}", f"agree_open_{j}", expanded=j == 0):
                box.text_input("Name", start[f"agree_name_{j}"], key=f"agree_name_{j}",
                               persist_state=PAGE)
                cols = box.columns(2)
                for n, k in enumerate(preset.weights):
                    cols[n % 2].slider(cui.weight_label(k), 0.0, 1.0, start[f"agree_w_{j}_{k}"], step=0.05,
                                       key=f"agree_w_{j}_{k}", persist_state=PAGE)
                if box.checkbox("Own λ", start[f"agree_ol_{j}"], key=f"agree_ol_{j}", persist_state=PAGE):
                    box.slider("λ (spread weight)", 0.0, 1.0, start[f"agree_l_{j}"], step=0.05,
                               key=f"agree_l_{j}", persist_state=PAGE)
                if box.checkbox("Own θ", start[f"agree_ot_{j}"], key=f"agree_ot_{j}", persist_state=PAGE):
                    box.slider("θ (complementarity)", 0.0, 1.0, start[f"agree_t_{j}"], step=0.05,
                               key=f"agree_t_{j}", persist_state=PAGE)
            rows.append(cui.row_from_values(j, preset, {k: ss.get(k, v) for k, v in start.items()}))
        if st.button("Find the consensus plan", key="agree_run", type="primary"):
            try:
                with st.spinner("Solving each stakeholder's own plan, then the consensus…"):
                    ss["agree"] = cui.solve_consensus(regions, result.scenario, rows)
                    ss["agree_regions"] = regions.sha256
            except PlaceFundError as err:
                st.error(str(err))
        agreed = ss.get("agree")
        if agreed is not None and ss.get("agree_regions") == regions.sha256:
            st.plotly_chart(cui.achievement_heatmap(agreed), key="agree_heat")
            st.dataframe(cui.summary_display(agreed), width="stretch")
            for line in rcs.gives_up(agreed):
                st.markdown(f"- {line}")
            if geojson is not None:
                plans = cui.plan_tables(agreed)
                other = st.selectbox("Beside the consensus map", list(agreed.own_plans),
                                     format_func=lambda k: f"{cui.possessive(k)} own plan",
                                     key="agree_other", persist_state=PAGE)
                cons_map, own_map, scale = cui.side_by_side_maps(plans["consensus"], plans[other],
                                                                 geojson)
                left, right = st.columns(2)
                left.plotly_chart(cons_map, config=maps.PLOTLY_CONFIG, key="agree_map_cons")
                left.caption("Consensus plan: funding per person.")
                right.plotly_chart(own_map, config=maps.PLOTLY_CONFIG, key="agree_map_own")
                right.caption(f"{cui.possessive(other)} own plan: funding per person.")
                st.caption(scale)
