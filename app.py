"""PlaceFund workbench (``streamlit run app.py``): widgets, layout and caches only. Every
number comes from ``optimizer/``: the knobs from ``optimizer/ui/controls.py``, page logic from
``optimizer/ui/``, text, tables, uploads, the plan library, exports and maps from ``optimizer/report/``."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from optimizer import Regions, load_regions
from optimizer.analysis import facts
from optimizer.engine import columns
from optimizer.engine.errors import InfeasibleError, PlaceFundError
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
from optimizer.ui import plans as pui
from optimizer.ui import sensitivity as sens
from optimizer.ui import session as ses
from optimizer.ui import state as stt
from optimizer.ui import timeline as tl
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
    return maps.page_shapes(_regions, APP_STATIC, served)


@st.cache_resource(show_spinner=False, max_entries=16)
def facts_tables(sha256: str, _regions: Regions) -> Any:
    """The article's facts measured on a regions table (they depend on the table alone)."""
    return facts.display_tables(_regions)


@st.cache_resource(show_spinner=False)
def full_shapes(sha256: str, shapes: str, _regions: Regions) -> Any:
    """Full-resolution polygons for the GeoJSON export, per regions table and shapes file."""
    return _regions.geometry()


@st.cache_resource(show_spinner=False)
def plan_cache() -> ses.PlanCache:
    """The solved plans and built models every session of this server shares."""
    return ses.PlanCache()


@st.cache_resource(show_spinner=False)
def default_base(region_set: str, _regions: Regions) -> Any:
    """A region set's default plan (``scenario.base_scenario``), shared and immutable."""
    return ses.default_base(region_set, _regions)


session = ses.Session(ss, plan_cache(), shipped_regions, default_base)


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
    bounds = row.bounds(len(ss["regions"]))
    if row.widget == "slider":
        return where.slider(text, bounds[0], bounds[1], step=bounds[2], **options)
    return where.number_input(text, min_value=bounds[0], max_value=bounds[1], step=bounds[2],
                              **({"format": row.fmt} if row.fmt else {}), **options)


def folded(where: Any, label: str, key: str, expanded: bool = False) -> Any | None:
    """An expander whose content is drawn only while it is open (``None`` when closed): a
    change does not redraw what is folded away, and a folded widget keeps its value."""
    box = where.expander(label, expanded=expanded, key=key, on_change="rerun")
    return box if box.open else None


def draw_notes(where: Any, plan: Any) -> None:
    """The page's notes: one line per topic, the full sentences under *Details*."""
    above, details = session.notes(plan)
    for line in above:
        where.info(line)
    if details and (box := folded(where, f"Details: {len(details)} notes on the data and "
                                  "assumptions", "notes_open")):
        for line in details:
            box.markdown(f"- {line}")


session.open_session(st.query_params.to_dict())

st.sidebar.title("PlaceFund")
history_slot = st.sidebar.container()
set_choice = st.sidebar.selectbox(
    "Region set", session.set_options(), key="region_set",
    format_func=functools.partial(ctl.region_set_label, upload=(ss["upload"] or {}).get("name")),
    help=ctl.REGION_SET_HELP)
if set_choice != ss["loaded_set"]:
    if set_choice in ctl.SLOW_REGION_SETS:
        st.sidebar.warning(ctl.SLOW_REGION_SETS[set_choice])
        if st.sidebar.button(f"Switch to {set_choice}", key="confirm_set"):
            session.load_set(set_choice)
            st.rerun()  # redraw without the warning and button of the set just left
    else:
        session.load_set(set_choice)

session.reset_widgets()
regions: Regions = ss["regions"]
base = ss["base"]

uploads = st.sidebar.expander("Bring your own data", key="open_uploads", on_change="rerun")
# folded and empty, it is not drawn; a file in an uploader keeps it drawn, since an
# uploader not drawn would drop its file
if uploads.open or any(ss.get(k) is not None for k in ses.UPLOADERS):
    with uploads:
        st.caption(uui.UPLOAD_CAPTION)
        knob(st, "missing", options=list(ctl.MISSING_POLICIES), format_func=up.MISSING_LABELS.get,
             on_change=session.on_missing)
        for key, label, kinds in uui.UPLOADERS:
            st.file_uploader(label, type=list(kinds), key=key, on_change=session.try_upload,
                             max_upload_size=up.MAX_UPLOAD_MB)
        if ss.get("upload_error"):
            st.error(ss["upload_error"])
        st.button("Back to the default plan", key="reset", on_click=session.on_reset)

names = dict(zip(regions.table["region_id"], regions.table["name"]))
ids = regions.ids
uploaded = ss["loaded_set"] == stt.UPLOAD_SET
st.sidebar.caption(session.planning_over())

# --------------------------------------------------------------------------- sidebar controls

sb = st.sidebar
for key in ("budget", "lam", "theta"):
    knob(sb, key)
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
group_options = session.group_options()
docs = ctl.pack_docs()
modified = ctl.pack_changes(base)
rules = folded(sb, "Program rules", "open_rules")
if rules is not None:
    rules.multiselect("Constraint packs", list(docs), key="packs", on_change=session.on_packs,
                      persist_state=PAGE,
                      help=ctl.packs_help(docs))
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
tl.sidebar(sb, ss, base, folded, knob)  # years, growth and growth centers, folded

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
    facts_box.caption(tx.FACTS_CAPTION)
    for table in facts_tables(regions.sha256, regions):
        facts_box.table(table.set_index(table.columns[0]))

result = None
shape_key = (regions.sha256, str(regions.geometry_path), not uploaded, regions)  # the map's shapes
try:
    scenario = ctl.scenario_from_widgets(base, regions, session.values())
    message = session.solve_message()
    if not session.plans.is_planned(regions):  # the first solve builds the model: shape the map meanwhile
        threading.Thread(target=geojson_of, daemon=True, args=shape_key).start()
    if st.query_params.to_dict() != (link := session.link(scenario)):
        st.query_params.from_dict(link)
    with st.spinner(message):
        result = session.solve(scenario)
except InfeasibleError as err:
    message, fixes = ctl.infeasible_message(err)
    st.error(message)
    for i, relaxation in enumerate(fixes):
        r1, r2 = st.columns([5, 1])
        r1.markdown(f"**Fix {i + 1}:** {relaxation.text}")
        r2.button("Apply", key=f"relax_{i}", on_click=session.on_relax, args=(scenario, relaxation.changes),
                  help="Change the settings by exactly this and solve again.")
except PlaceFundError as err:
    st.error(str(err))
    st.button("Back to the default plan", key="reset_error", on_click=session.on_reset)
with history_slot:
    done = ss.get("history") or stt.History()
    for col, (step, can, tip) in zip(st.columns(2), (
            ("undo", done.can_undo, "Back to the settings before the last change."),
            ("redo", done.can_redo, "Forward again to the settings undone last."))):
        col.button(step.capitalize(), key=step, on_click=session.on_history, args=(step,), disabled=not can,
                   help=tip, width="stretch")
if result is None:
    if (result := session.last_result()) is None:
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
if off := tx.approximation_warning(result):
    st.warning(off)

geojson = geojson_of(*shape_key)
tab_map, tab_table, tab_region, tab_cons, tab_cmp, tab_exp, tab_sens, tab_agree, *tab_time = st.tabs(
    ["Map", "Allocation", "Region detail", "Constraints", "Save & compare", "Export", "Sensitivity",
     "Consensus", *tl.tabs(result)], key="tab", on_change="rerun")
# a tab runs only while open: a change redraws what is on screen (a hidden tab's widgets
# keep their values: persist_state)
tl.draw(st, tab_time, result, regions, geojson, functools.partial(session.plans.solve, regions), ss)

with tab_map:
    if tab_map.open:
        metric_options = maps.map_metrics_for(result.regions, result.scenario.hubs is not None)
        session.restore("map_metric", metric_options, metric_options[0])
        metric = st.selectbox("Colour the map by", metric_options, key="map_metric",
                              format_func=lambda c: maps.MAP_METRICS[c].label,
                              help="Each option's unit is shown in the legend.",
                              on_change=session.keep, args=("map_metric",))
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
        shown, formats = tx.allocation_shown(result)
        # as tall as its rows (35 px each, and the header's), up to 15 rows before it scrolls
        st.dataframe(shown, width="stretch", height=min(560, 35 * (len(shown) + 1) + 3), column_config={
            c: st.column_config.NumberColumn(c, format=fmt, help=tip) for c, (fmt, tip) in formats.items()})

with tab_region:
    if tab_region.open:
        session.restore("detail_region", names, str(tx.allocation_table(result).index[0]))
        left, right = st.columns([3, 2]) if geojson is not None else (st.container(), None)
        rid = left.selectbox("Region", ids, format_func=names.get, key="detail_region",
                             on_change=session.keep, args=("detail_region",),
                             help="Or click the region on the map." if right else None)
        if right is not None:
            right.plotly_chart(maps.choropleth(result.regions, geojson, height=380),
                               config=maps.PLOTLY_CONFIG, key="pick_map",
                               on_select=session.select_region_from_map, selection_mode="points")
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
        st.caption(tx.solver_line(result))

with tab_cmp:
    if tab_cmp.open:
        library = lib.PlanLibrary()
        shelf = pui.Shelf(ss, library)
        c1, c2 = st.columns([3, 1])
        plan_name = c1.text_input("Name this plan", key="plan_name", persist_state=PAGE,
                                  placeholder="e.g. λ 0.8, no top 4")
        plan_notes = c1.text_area("Notes (optional)", key="plan_notes", persist_state=PAGE, height=68,
                                  placeholder="Why this plan; what to check before showing it.")
        if c2.button("Save plan", key="save"):
            saved, said = shelf.save(plan_name, result, plan_notes)
            (st.success if saved else st.error)(said)
        if undo := ss.get("undo_delete"):
            u1, u2 = st.columns([3, 1])
            u1.info(f"Deleted “{undo[0]}”.")
            if u2.button("Undo delete", key="undo_delete_button"):
                if (problem := shelf.undo_delete()) is None:
                    st.rerun()
                st.error(problem)
        saved_plans = library.list()
        saved_names = [p.name for p in saved_plans]
        if saved_plans:  # keyed: a message drawn above it (Saved as …) does not fold it
            with st.expander(f"Saved plans ({len(saved_plans)}): notes, rename, duplicate, delete",
                             key="saved_open"):
                st.dataframe(pui.saved_table(saved_plans), hide_index=True, width="stretch")
                shelf.pick(saved_names)
                managed = st.selectbox("Plan", saved_names, key="manage_name", persist_state=PAGE)
                entry = library.get(managed)
                m1, m2 = st.columns(2)
                new_name = m1.text_input("New name", value=entry.name, key=f"rename_{entry.path.name}",
                                         persist_state=PAGE)
                new_notes = m2.text_area("Notes", value=entry.notes, key=f"notes_{entry.path.name}",
                                         persist_state=PAGE, height=68)
                b1, b2, b3, b4 = st.columns(4)
                try:
                    if b1.button("Rename", key="rename"):
                        shelf.rename(managed, new_name)
                        st.rerun()
                    if b2.button("Save notes", key="save_notes"):
                        library.set_notes(managed, new_notes)
                        st.rerun()
                    if b3.button("Duplicate", key="duplicate"):
                        st.success(f"Copied as “{library.duplicate(managed).name}”")
                    if b4.button("Delete…", key="delete"):
                        ss["confirm_delete"] = managed
                except PlaceFundError as err:
                    st.error(str(err))
                if ss.get("confirm_delete") == managed:
                    st.warning(f"Delete “{managed}”? You can undo this until you leave the page.")
                    k1, k2 = st.columns(2)
                    if k1.button(f"Yes, delete “{managed}”", key="delete_confirm"):
                        if (problem := shelf.delete(managed)) is None:
                            st.rerun()
                        st.error(problem)
                    if k2.button("Keep it", key="delete_cancel"):
                        ss["confirm_delete"] = None
                        st.rerun()
            saved_names = library.names()
        ss["compare"] = pui.still_offered(ss.get("compare"), [pui.CURRENT, *saved_names])
        picked = st.multiselect("Compare (current plan + saved plans)", [pui.CURRENT, *saved_names],
                                key="compare", persist_state=PAGE,
                                help="Any number of plans, each against its own baseline.")
        plans, unread = pui.compared(picked, result, library)
        for problem in unread:
            st.error(problem)
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
            session.restore("diff_a", pair, pair[0])
            session.restore("diff_b", pair, pair[1])
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
        st.markdown(ex.EXPORT_INTRO)
        shapes = full_shapes(regions.sha256, str(regions.geometry_path), regions)
        title = f"PlaceFund plan: {usd(result.scenario.budget)} across {len(result.regions)} regions"
        for label, fmt, file_name in ex.DOWNLOADS:
            if fmt == "geojson" and shapes is None:
                st.caption("GeoJSON needs region shapes: upload a GeoJSON with the regions CSV.")
                continue
            st.download_button(label, data=functools.partial(ex.export_bytes, result, fmt, shapes, title),
                               file_name=file_name, mime=ex.MEDIA_TYPES[fmt], key=f"dl_{fmt}",
                               on_click="ignore")

with tab_sens:
    if tab_sens.open:
        st.markdown(sens.INTRO)
        kind = st.selectbox("Analysis", list(sens.SENSITIVITY_KINDS), key="sens_kind", persist_state=PAGE,
                            format_func=sens.SENSITIVITY_KINDS.get)
        st.caption(sens.SENSITIVITY_HELP[kind])
        settings: dict[str, Any] = {}
        columns_ = st.columns(3)
        for row in sens.settings_for(kind):
            where, common = columns_[row.column], {"key": row.key, "persist_state": PAGE, "help": row.help}
            if row.widget == "slider":
                settings[row.name] = where.slider(row.label, row.lo, row.hi, row.default, step=row.step,
                                                  **common)
            elif row.widget == "number":
                settings[row.name] = where.number_input(row.label, min_value=row.lo, max_value=row.hi,
                                                        value=row.default, step=row.step, **common)
            else:
                settings[row.name] = where.selectbox(row.label, list(row.options), format_func=row.shown,
                                                     index=row.options.index(row.default), **common)
        scheduler = st.text_input("Dask scheduler (optional)", key="sens_scheduler", persist_state=PAGE,
                                  placeholder="tcp://127.0.0.1:8786", help=sens.SCHEDULER_HELP)
        spec = None
        try:
            spec = sens.sensitivity_spec(kind, settings)
            st.caption(sens.run_caption(spec, result.scenario, len(ids), result.solver.solve_time_s))
        except PlaceFundError as err:
            st.error(str(err))
        if st.button("Run analysis", key="sens_run", type="primary", disabled=spec is None):
            bar = st.progress(0.0, text="Starting…")
            try:
                ss["sens"] = sens.run_sensitivity(kind, settings, regions, result.scenario, scheduler,
                                                  lambda done, total: bar.progress(*sens.progress_bar(
                                                      done, total)))
                ss["sens_regions"] = regions.sha256
            except PlaceFundError as err:
                st.error(str(err))
            bar.empty()
        run = ss.get("sens")
        if run is not None:
            done, failed = sens.run_summary(run)
            st.success(done)
            if failed:
                st.warning(failed)
            robust = sens.robustness_frame(run)
            if robust is not None and geojson is not None and ss.get("sens_regions") == regions.sha256:
                st.plotly_chart(maps.robustness_map(robust, geojson), config=maps.PLOTLY_CONFIG,
                                key="sens_map")
                st.caption(maps.CORE_INDEX.help)
            for name, fig in run.result.figures.items():
                st.plotly_chart(fig, key=f"sens_fig_{name}")
            with st.expander("Summary"):
                st.code(run.result.text, language=None)
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
        st.markdown(cui.INTRO)
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
                for own, key, label in (("ol", "l", "λ (spread weight)"), ("ot", "t", "θ (complementarity)")):
                    if box.checkbox(f"Own {label[0]}", start[f"agree_{own}_{j}"], key=f"agree_{own}_{j}",
                                    persist_state=PAGE):
                        box.slider(label, 0.0, 1.0, start[f"agree_{key}_{j}"], step=0.05,
                                   key=f"agree_{key}_{j}", persist_state=PAGE)
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
