"""Exports of a plan: CSV, Excel, GeoJSON, a one-page HTML brief and the scenario YAML.

Each function takes an ``AllocationResult`` (for maps, also the region polygons) and
returns bytes, so the app offers them as downloads and the CLI writes them to files.
``load_plan`` reads a plan directory written by ``placefund solve`` back into an
``AllocationResult``.

Spreadsheet safety: text that a spreadsheet would run as a formula (a region named
``=HYPERLINK(...)``) never becomes one. In the workbook every text cell is stored as
text (never a formula cell) and marked quote-prefixed, so editing it in Excel does not
turn it into a formula either; in the CSV export a text value beginning with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe ``'``. GeoJSON
exports hold valid polygons only (``optimizer.engine.data.valid_polygons``).
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.analysis.facts import filled_sentence
from optimizer.engine import columns
from optimizer.engine import formatting as fmt
from optimizer.engine.data import (
    DATA_DIR,
    REGION_SETS,
    load_geometry,
    valid_polygons,
)
from optimizer.engine.errors import DataError
from optimizer.engine.metrics import top_k_count
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import usd
from optimizer.report.maps import choropleth, geo_assets_script, geojson_for
from optimizer.report.outcomes import outcome_sentence
from optimizer.report.text import (
    headline,
    horizon_lines,
    marginal_sentences,
    plan_metric_label,
    setting_label,
    setting_text,
)

FORMATS = ("csv", "xlsx", "geojson", "html", "yaml")
EXPORT_INTRO = ("Take the plan away. The scenario file reproduces it exactly when uploaded again. "
                "The brief opens in any browser, offline; its *Print or save as PDF* button "
                "prints it on one page.")  # the workbench's Export tab
# the workbench's download buttons: (label, format, file name), in the order shown
DOWNLOADS = (
    ("Allocation (CSV)", "csv", "placefund-allocation.csv"),
    ("Workbook (Excel)", "xlsx", "placefund-plan.xlsx"),
    ("Regions with shapes (GeoJSON)", "geojson", "placefund-plan.geojson"),
    ("Scenario (YAML)", "yaml", "placefund-scenario.yaml"),
    ("One-page brief (HTML, print to PDF)", "html", "placefund-brief.html"),
)
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "html": "text/html",
    "yaml": "application/x-yaml",
}


def load_plan(directory: str | Path) -> AllocationResult:
    """Read a plan directory (allocation.csv, regions.csv, metrics.json, ...) back."""
    return AllocationResult.from_dir(directory)


def shipped_geometry(result: AllocationResult) -> Any | None:
    """Polygons of the plan's regions: the shipped set's, or the copy kept with the plan."""
    ids = result.regions["region_id"].astype(str).tolist()
    if result.geometry_path is not None:
        return load_geometry(result.geometry_path, ids)
    source = str(result.provenance.get("data_source", ""))
    if source not in REGION_SETS or not (DATA_DIR / f"{source}.geojson").exists():
        return None
    return load_geometry(DATA_DIR / f"{source}.geojson", ids)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet cell a formula


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text that starts like a formula prefixed by an apostrophe.

    Only text cells (and column names) change; numbers, negative ones included, stay
    numbers. This is the escape for CSV, which has no cell types.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            text = values.map(lambda v: isinstance(v, str))
            risky = text & values.astype(str).str.startswith(FORMULA_START)
            if risky.any():
                out[column] = values.where(~risky, "'" + values.astype(str))
    out.columns = ["'" + c if isinstance(c, str) and c.startswith(FORMULA_START) else c
                   for c in out.columns]
    return out


def to_csv_bytes(result: AllocationResult) -> bytes:
    """The allocation (region × instrument, USD) as CSV with the workbook's headers and
    instrument labels ('Amount (USD)', 'Research grants'), formula-like text escaped."""
    return spreadsheet_safe(_labelled(result.allocation)).to_csv(index=False).encode()


def scenario_yaml(result: AllocationResult) -> bytes:
    """The resolved scenario; uploading it again reproduces the plan."""
    return result.scenario.to_yaml().encode()


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with headers people read ('Funding (USD)') and instruments by label."""
    out = frame.copy()
    if "instrument" in out:
        out["instrument"] = out["instrument"].map(columns.instrument_label)
    return out.rename(columns={c: columns.plan_column_label(str(c)) for c in out.columns})


def outcomes_sheet(result: AllocationResult) -> pd.DataFrame:
    """What the plan buys, per region and raised indicator, in its own unit (human labels;
    'before' and 'after' empty where the indicator is not published for the region)."""
    o = result.outcomes
    names = dict(zip(result.regions["region_id"].astype(str), result.regions["name"], strict=True))
    return pd.DataFrame({
        "Region code": o["region_id"].astype(str),
        "Region": [names.get(str(r), "") for r in o["region_id"]],
        "Indicator": [columns.label(k) for k in o["indicator"]],
        "Unit": o["unit"],
        "Before": o["before"], "Gain": o["gain"], "After": o["after"],
    })


def metrics_sheet(result: AllocationResult) -> pd.DataFrame:
    """The plan's metrics before and after, each with its label and unit, then the key.

    The plan's objective comes first under its own name (the S_λ of its own spread
    measure, as the workbench and the CLI show it); the other S_λ says it is not the
    objective."""
    sc = result.scenario
    k = top_k_count(len(result.regions))
    table = result.metrics_table()
    order = [sc.objective_key, *[key for key in table.index if key != sc.objective_key]]
    rows = [{"Metric": plan_metric_label(str(key), sc, k)
             + (" — the plan's objective" if key == sc.objective_key else ""),
             "Unit": columns.metric(str(key)).unit, "Before": table.at[key, "before"],
             "After": table.at[key, "after"], "Key": key}
            for key in order if key in table.index]
    rows += [
        {"Metric": "Budget spent", "Unit": "USD", "Before": None, "After": result.spent_usd,
         "Key": "spent_usd"},
        {"Metric": "Budget", "Unit": "USD", "Before": None, "After": result.scenario.budget,
         "Key": "budget_usd"},
        {"Metric": "Solve time", "Unit": "seconds", "Before": None,
         "After": result.solver.solve_time_s, "Key": "solve_time_s"},
    ]
    return pd.DataFrame(rows)


def _typed(value: Any, path: str) -> Any:
    """A setting's value as a spreadsheet cell: a number, a yes/no or, for lists,
    mappings and none, the words ``setting_text`` gives."""
    if isinstance(value, bool | int | float | str):
        return value
    return setting_text(path, value)


def scenario_sheet(result: AllocationResult) -> pd.DataFrame:
    """Every setting of the resolved scenario: its label, its value as a typed cell
    (a number, a yes/no), the value in words as people read it, and its key."""
    rows = [{"Setting": setting_label(key), "Value": _typed(value, key),
             "In words": setting_text(key, value), "Key": key}
            for key, value in _leaves(result.scenario.saved_dict())]
    return pd.DataFrame(rows, columns=["Setting", "Value", "In words", "Key"])


def _leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) for every leaf of a nested mapping."""
    if isinstance(value, dict) and value:
        rows: list[tuple[str, Any]] = []
        for key, sub in value.items():
            rows += _leaves(sub, f"{prefix}.{key}" if prefix else str(key))
        return rows
    return [(prefix, value)]


MONEY_FORMAT = '"$"#,##0'  # whole dollars with separators: $654,080,907
PER_PERSON_FORMAT = '"$"#,##0.00'
PERCENT_FORMAT = "0.00%"
POINTS_FORMAT = "#,##0.0000"
RATIO_FORMAT = "0.000"
COUNT_FORMAT = "#,##0"
NUMBER_FORMAT = "#,##0.00"
OUTCOME_MONEY_FORMAT = '"$"#,##0.0"M"'  # an outcome in $ millions: $52,751.6M


def column_format(name: str, values: pd.Series | None = None) -> str | None:
    """The number format of a plan table's column (by its raw name), None for text."""
    if name.endswith(("per_capita_usd", "_usd_per_capita")):
        return PER_PERSON_FORMAT
    if name.endswith("_usd") or name in ("budget", "budget_usd", "spent_usd"):
        return MONEY_FORMAT
    if "share" in name:
        return PERCENT_FORMAT
    if name in ("baseline_capacity", "capacity_gain", "final_capacity"):
        return POINTS_FORMAT
    if name.startswith("capacity_per_capita") or name == "marginal_points_per_busd":
        return RATIO_FORMAT
    if values is None or not pd.api.types.is_numeric_dtype(values) \
            or pd.api.types.is_bool_dtype(values):
        return None
    finite = values.dropna()
    return COUNT_FORMAT if len(finite) and (finite % 1 == 0).all() else NUMBER_FORMAT


_METRIC_FORMATS = {"points": "#,##0.00", "share": "0.0%", "index": "0.000", "usd": MONEY_FORMAT}


def _metric_format(key: str) -> str:
    if key in ("spent_usd", "budget_usd"):
        return MONEY_FORMAT
    if key == "solve_time_s":
        return "0.000"
    return _METRIC_FORMATS.get(columns.metric(key).kind, NUMBER_FORMAT)


def _setting_format(path: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    leaf = path.rsplit(".", 1)[-1]
    if leaf.endswith("_usd_per_capita"):
        return PER_PERSON_FORMAT
    if leaf.endswith("_usd") or leaf == "budget" or (leaf in ("min", "max") and "_usd" in path):
        return MONEY_FORMAT
    if "share" in path and leaf != "k":
        return PERCENT_FORMAT
    return None


def to_excel_bytes(result: AllocationResult) -> bytes:
    """A workbook with sheets allocation, regions, metrics and scenario (and, for a plan
    over time, trajectory).

    Headers carry human labels and units (the CSV export's, for the allocation), are
    bold and frozen with a filter; money cells have a money format ($654,080,907),
    shares a percent format, capacity points four decimals; scenario values are typed
    cells (0.2 a number, not the text '0.2')."""
    from openpyxl.styles import Font

    scenario = scenario_sheet(result)
    provenance = pd.DataFrame([{"Key": k, "Value": _typed(v, k)}
                               for k, v in _leaves(result.provenance)], columns=["Key", "Value"])
    metrics = metrics_sheet(result)
    tables = {"allocation": result.allocation, "regions": result.regions}
    if result.trajectory is not None:  # a plan over time: every region's path by year
        trajectory = result.trajectory.copy()
        trajectory["measure"] = [columns.PLAN_COLUMNS[m][0] if m in columns.PLAN_COLUMNS
                                 else columns.label(m) for m in trajectory["measure"]]
        tables["trajectory"] = trajectory
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, raw in tables.items():
            _labelled(raw).to_excel(writer, sheet_name=name, index=False)
        metrics.to_excel(writer, sheet_name="metrics", index=False)
        outcomes = outcomes_sheet(result)
        outcomes.to_excel(writer, sheet_name="outcomes", index=False)
        scenario.to_excel(writer, sheet_name="scenario", index=False)
        provenance.to_excel(writer, sheet_name="scenario", index=False, startrow=len(scenario) + 2)
        book = writer.book
        for name, raw in tables.items():
            sheet = book[name]
            for i, column in enumerate(raw.columns, start=1):
                number_format = column_format(str(column), raw[column])
                if number_format:
                    for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                        cell.number_format = number_format
        sheet = book["outcomes"]
        for row, unit in enumerate(outcomes["Unit"], start=2):
            number_format = OUTCOME_MONEY_FORMAT if unit == "$ millions" else NUMBER_FORMAT
            for col in (5, 6, 7):
                sheet.cell(row, col).number_format = number_format
        sheet = book["metrics"]
        for row, key in enumerate(metrics["Key"], start=2):
            for col in (3, 4):
                sheet.cell(row, col).number_format = _metric_format(str(key))
        sheet = book["scenario"]
        for row, (key, value) in enumerate(zip(scenario["Key"], scenario["Value"], strict=True),
                                           start=2):
            number_format = _setting_format(str(key), value)
            if number_format:
                sheet.cell(row, 2).number_format = number_format
        for row in (len(scenario) + 3,):  # the provenance table's header
            for col in (1, 2):
                sheet.cell(row, col).font = Font(bold=True)
        for sheet in book.worksheets:
            _text_cells_as_text(sheet)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            sheet.freeze_panes = "A2"  # the labelled header stays in view
            sheet.auto_filter.ref = f"A1:{sheet.cell(1, sheet.max_column).column_letter}" \
                                    f"{len(scenario) + 1 if sheet.title == 'scenario' else sheet.max_row}"
            for column in sheet.columns:
                width = max(len(_shown(c.value, c.number_format)) for c in column[:200])
                sheet.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 60)
    return buffer.getvalue()


def _shown(value: Any, number_format: str) -> str:
    """About how wide a cell reads, for the column width."""
    if isinstance(value, float) and number_format != "General":
        return f"${value:,.2f}" if "$" in number_format else f"{value:,.4f}"
    return str(value if value is not None else "")


def _text_cells_as_text(sheet: Any) -> None:
    """Store every text cell of an openpyxl sheet as text, never as a formula.

    openpyxl turns any string that starts with ``=`` into a formula cell; this undoes
    it, and quote-prefixes text that starts like a formula so Excel keeps it text.
    """
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"
            if cell.data_type == "s" and str(cell.value).startswith(FORMULA_START):
                cell.quotePrefix = True


def to_geojson_bytes(result: AllocationResult, geometry: Any) -> bytes:
    """Per-region plan table joined to the polygons (EPSG:4326), as GeoJSON."""
    if geometry is None:
        raise DataError("no geometry for these regions: give a GeoJSON keyed by region_id")
    shapes = geometry[["region_id", "geometry"]].copy()
    shapes["region_id"] = shapes["region_id"].astype(str)
    shapes = valid_polygons(shapes, "the plan's geometry")  # never write an invalid shape
    table = result.regions.copy()
    table["region_id"] = table["region_id"].astype(str)
    joined = shapes.merge(table, on="region_id", how="inner", validate="one_to_one")
    if len(joined) != len(table):
        absent = sorted(set(table["region_id"]) - set(joined["region_id"]))
        raise DataError(f"{len(absent)} region(s) have no geometry, e.g. {absent[:5]}")
    return joined.to_json(drop_id=True, na="null").encode()


BRIEF_MAP_PX = (700, 250)  # the brief's map: fits a letter page within its 10 mm margins (740 px)
_BRIEF_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;margin:0 auto;
max-width:60rem;padding:1.2rem;font-size:11pt;line-height:1.35}
h1{font-size:1.45rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1rem 0 .35rem;border-bottom:1px solid #ccc}
.sub{color:#555;margin:0 0 .8rem}.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:.5rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.45rem .6rem}.card b{display:block;font-size:1.15rem}
.card span{color:#555;font-size:.85rem}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.2rem .4rem;border-bottom:1px solid #eee}td.n,th.n{text-align:right}
.cols{display:grid;grid-template-columns:3fr 2fr;gap:1rem}ul{margin:.2rem 0;padding-left:1.2rem}
.map{width:700px;height:250px;max-width:100%;overflow:hidden}
.foot{color:#666;font-size:.8rem;margin-top:.8rem}
.maptext{color:#444;font-size:.85rem;margin:.2rem 0 0}
.buys{margin:.5rem 0 0;font-size:.95rem}
.print{float:right;font:inherit;padding:.3rem .7rem;border:1px solid #888;border-radius:4px;
background:#f6f6f6;cursor:pointer}
td.c{white-space:nowrap}
@media print{@page{size:letter;margin:8mm}body{padding:0;max-width:none;font-size:8.5pt;line-height:1.22}
.grid{grid-template-columns:repeat(5,1fr);gap:.35rem}.card{padding:.25rem .4rem}
.card b{font-size:.95rem}.card span{font-size:.8rem}h1{font-size:1.3rem}
h2{font-size:.95rem;margin:.6rem 0 .25rem}
th,td{padding:.05rem .3rem}table{font-size:.85rem}.cols{display:block}
ul.assumptions{column-count:2;column-gap:1.2rem;font-size:.92em}.foot{margin-top:.2rem}
.buys{font-size:.95em;margin:.25rem 0 0}h2{margin:.45rem 0 .2rem}
h2{break-after:avoid}figure{break-inside:avoid}.card,table,li{break-inside:avoid}.print{display:none}
a{color:inherit;text-decoration:none}}
"""


def yield_phrase(indicator: str, value: float | str) -> str:
    """'$1,150M of University S&E R&D', '20,000 Computer and math jobs'."""
    what = columns.label(indicator)
    if isinstance(value, str):
        return f"{value} of national {what}"
    if columns.unit(indicator) == "$ millions":
        return f"${value:,.6g}M of {what}"
    return f"{value:,.6g} {what}"


def brief_sections(result: AllocationResult, top: int = 10) -> dict[str, Any]:
    """The brief's content as data: headline cards, top regions, constraints, assumptions."""
    cards = [(h.label, h.value, h.delta or "") for h in headline(result) if h.label != "Solve time"]
    top_rows = result.regions.nlargest(top, "funding_usd")
    top_table = [(str(r["name"]), usd(r["funding_usd"]), fmt.money(r["funding_per_capita_usd"]),
                  f"{fmt.number(r['baseline_capacity'])} → {fmt.number(r['final_capacity'])}")
                 for _, r in top_rows.iterrows()]
    sc = result.scenario
    weights = ", ".join(f"{columns.label(k)} {v:.0%}" for k, v in sc.normalized_weights.items())
    instruments = "; ".join(
        f"{columns.instrument_label(name)}: "
        + ", ".join(yield_phrase(k, y) for k, y in ins.yields.items())
        + f" (saturation {usd(ins.saturation_usd)})"
        for name, ins in sc.instruments.items())
    assumptions = [
        f"Budget {usd(sc.budget)}{' (may be left unspent)' if sc.allow_unspent else ', all spent'}.",
        *horizon_lines(result),
        f"Spread weight λ = {sc.spread_weight:g} (0 = total capacity only, 1 = Sen welfare index); "
        f"complementarity θ = {sc.complementarity:g} (how much existing clusters multiply a dollar).",
        f"Indicator weights: {weights}.",
        f"What $1B buys at zero funding (docs/evidence.md): {instruments}.",
    ]
    if sc.exclusions.regions or sc.exclusions.top_k_incumbents:
        top_k = sc.exclusions.top_k_incumbents
        assumptions.append(f"Excluded: {', '.join(sc.exclusions.regions) or 'none named'}"
                           f"{f'; the top {top_k} incumbents' if top_k else ''}.")
    if sc.top_k_share_cap is not None:
        assumptions.append(f"The top {sc.top_k_share_cap.k} regions may hold at most "
                           f"{sc.top_k_share_cap.max_share:.0%} of capacity.")
    if sc.per_capita_floor is not None:
        assumptions.append(f"Every region ends at least {sc.per_capita_floor:g} × the national "
                           "per-capita baseline.")
    if sc.region_cap_usd is not None or sc.region_bounds or sc.max_region_share is not None:
        assumptions.append("Per-region caps/floors apply (see the scenario file).")
    filled = filled_sentence(result.filled_values, sc)
    if filled:
        assumptions.append(filled)
    return {"cards": cards, "top": top_table, "constraints": marginal_sentences(result),
            "assumptions": assumptions, "map_text": map_summary(result),
            "bought": outcome_sentence(result)}


def map_summary(result: AllocationResult) -> str:
    """The funding-per-person map in one sentence (its text alternative)."""
    r = result.regions
    funded = r[r["funding_usd"] > 1.0]
    if not len(funded):
        return "No region is funded."
    hi = funded.loc[funded["funding_per_capita_usd"].idxmax()]
    lo = funded.loc[funded["funding_per_capita_usd"].idxmin()]
    return (f"Funding per person ranges from {fmt.per_person(lo['funding_per_capita_usd'])} "
            f"({lo['name']}) to {fmt.per_person(hi['funding_per_capita_usd'])} ({hi['name']}) "
            f"across the {fmt.count(len(funded))} funded regions of {fmt.count(len(r))}.")


def to_brief_html(result: AllocationResult, geometry: Any | None = None,
                  title: str = "PlaceFund plan") -> bytes:
    """A one-page brief: map, headline, top regions, constraints, assumptions. It prints on
    one letter page for states and counties (metros' long names take a second page);
    tests/test_brief_print.py prints it in chromium and checks the layout."""
    parts = brief_sections(result)
    esc = html.escape
    map_html = "<p><i>No geometry for these regions: map omitted.</i></p>"
    if geometry is not None:
        shapes = valid_polygons(geometry, "the plan's geometry")
        fig = choropleth(result.regions, geojson_for(shapes), "funding_per_capita_usd",
                         height=BRIEF_MAP_PX[1])
        # one fixed size on screen and on paper: a figure sized for the screen is not redrawn
        # for print, and spilled over the caption and the table below it
        fig.update_layout(title=None, margin={"l": 0, "r": 0, "t": 12, "b": 12},
                          width=BRIEF_MAP_PX[0], height=BRIEF_MAP_PX[1], autosize=False)
        # the legend sits low in the box; each label below its level, so the top one
        # never runs into the legend's title
        fig.update_traces(colorbar={"len": 0.62, "y": 0.02, "yanchor": "bottom",
                                    "ticklabelposition": "outside bottom"})
        map_html = ("<script>" + geo_assets_script() + "</script>" +
                    fig.to_html(full_html=False, include_plotlyjs=True,
                                default_width=f"{BRIEF_MAP_PX[0]}px",
                                default_height=f"{BRIEF_MAP_PX[1]}px",
                                config={"displayModeBar": False, "staticPlot": False,
                                        "responsive": False, "topojsonURL": "./"}))
    cards = "".join(f"<div class='card'><span>{esc(label)}</span><b>{esc(value)}</b>"
                    f"<span>{esc(delta)}</span></div>" for label, value, delta in parts["cards"])
    rows = "".join(f"<tr><td>{esc(n)}</td><td class='n'>{esc(f)}</td><td class='n'>{esc(p)}</td>"
                   f"<td class='n c'>{esc(c)}</td></tr>" for n, f, p, c in parts["top"])
    constraints = "".join(f"<li>{esc(s)}</li>" for s in parts["constraints"]) or "<li>none binding</li>"
    assumptions = "".join(f"<li>{esc(s)}</li>" for s in parts["assumptions"])
    prov = result.provenance
    made = esc(str(prov.get("created_utc") or datetime.now(UTC).isoformat(timespec="seconds")))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{_BRIEF_CSS}</style></head><body>
<button class="print" type="button" onclick="window.print()">Print or save as PDF</button>
<h1>{esc(title)}</h1>
<p class="sub">{esc(usd(result.spent_usd))} across {fmt.count(len(result.regions))} regions ·
data {esc(str(prov.get('data_source', '')))} · made {made}</p>
<div class="grid">{cards}</div>
{f'<p class="buys">{esc(parts["bought"])}</p>' if parts["bought"] else ""}
<h2>Funding per person</h2><figure style="margin:0"><div class="map" role="img"
aria-label="{esc(parts['map_text'])}">{map_html}</div>
<figcaption class="maptext">{esc(parts['map_text'])}</figcaption></figure>
<div class="cols"><div><h2>Top regions by funding</h2>
<table><thead><tr><th>Region</th><th class="n">Funding</th><th class="n">Per person</th>
<th class="n">Capacity before → after (points)</th></tr></thead><tbody>{rows}</tbody></table></div>
<div><h2>What the constraints cost</h2><ul>{constraints}</ul></div></div>
<h2>Assumptions</h2><ul class="assumptions">{assumptions}</ul>
<p class="foot">Points: national baseline 100, a weighted share of the outcomes above. Scenario
{esc(str(prov.get('scenario_sha256', ''))[:12])}, data {esc(str(prov.get('data_sha256', ''))[:12])};
its exported scenario file reproduces the plan.</p>
</body></html>
"""
    return page.encode()


def export_bytes(result: AllocationResult, fmt: str, geometry: Any | None = None,
                 title: str = "PlaceFund plan") -> bytes:
    """One export by format name (csv, xlsx, geojson, html, yaml)."""
    if fmt == "csv":
        return to_csv_bytes(result)
    if fmt == "xlsx":
        return to_excel_bytes(result)
    if fmt == "geojson":
        return to_geojson_bytes(result, geometry)
    if fmt == "html":
        return to_brief_html(result, geometry, title)
    if fmt == "yaml":
        return scenario_yaml(result)
    raise DataError(f"unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}")
