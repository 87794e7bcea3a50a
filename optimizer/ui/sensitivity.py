"""The workbench's Sensitivity page, without Streamlit: specs, run counts, runs, downloads.

The page offers a few analyses (``SENSITIVITY_KINDS``) with a handful of settings
each; ``sensitivity_spec`` turns them into the engine's analysis spec and
``run_sensitivity`` runs it here or on a Dask scheduler.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from optimizer.analysis.charts import figure_texts, write_html
from optimizer.analysis.evidence import evidence_ranges
from optimizer.analysis.runs import Backend
from optimizer.analysis.sensitivity import (
    AnalysisResult,
    ParetoSpec,
    RobustSpec,
    Spec,
    SweepSpec,
    TornadoSpec,
    run_analysis,
    spec_from_dict,
)
from optimizer.engine.data import Regions
from optimizer.engine.errors import DataError, PlaceFundError, ScenarioError
from optimizer.engine.inputs import BUSD
from optimizer.engine.scenario import Scenario

INTRO = ("Which conclusions survive when the judgments move? Each analysis re-solves the "
         "plan shown above (its current settings are the base) many times.")
SENSITIVITY_KINDS: dict[str, str] = {
    "sweep_budget": "Sweep over the budget",
    "sweep_lambda": "Sweep over the spread weight λ",
    "robust": "Robust weights (sample indicator weights)",
    "pareto": "Pareto frontier: capacity vs spread",
    "tornado": "Tornado: ± changes one at a time",
    "sobol": "Sobol indices (global sensitivity)",
}
SENSITIVITY_HELP: dict[str, str] = {
    "sweep_budget": "Re-solves the current plan at evenly spaced budgets and charts S_λ, total "
                    "capacity, Gini and top-10 share against the budget.",
    "sweep_lambda": "Re-solves at evenly spaced λ: the trade-off between total capacity and spread.",
    "robust": "Draws indicator weights uniformly from the simplex and re-solves each draw: how "
              "often each region is funded (core index), its allocation range and rank.",
    "pareto": "The exact frontier of total capacity against spread (ε-constraint), with the "
              "current plan marked.",
    "tornado": "Moves each parameter (budget, λ, θ, weights, instrument yields) down and "
               "up by the same fraction, one at a time, and charts how far the results swing.",
    "sobol": "Variance-based indices (Saltelli sampling): how much of the spread of S_λ, top-10 "
             "share and Gini each factor explains, with confidence intervals.",
}
DEFAULT_SENSITIVITY: dict[str, Any] = {
    "budget_range_busd": (20.0, 160.0), "lambda_range": (0.0, 1.0), "points": 6,
    "runs": 50, "seed": 42, "threshold_musd": 100.0, "measure": "gini", "change_pct": 20,
    "base_samples": 8, "weights": True, "evidence": False,
}


@dataclass(frozen=True)
class Setting:
    """One control of the Sensitivity page: the setting it gives (a key of
    ``DEFAULT_SENSITIVITY``, whose value it starts at), its widget and the analyses
    (``kinds``) that show it, in column ``column`` of three."""

    name: str
    key: str
    label: str
    widget: Literal["slider", "number", "select"]
    kinds: tuple[str, ...]
    column: int
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: tuple[Any, ...] = ()
    labels: tuple[tuple[Any, str], ...] = ()
    help: str | None = None

    @property
    def default(self) -> Any:
        """The value the control starts at."""
        return DEFAULT_SENSITIVITY[self.name]

    def shown(self, option: Any) -> str:
        """How a choice of a select control reads."""
        return dict(self.labels).get(option, str(option))


# The page's controls, in the order drawn; numbers keep their type (an int is a whole count).
SENSITIVITY_SETTINGS: tuple[Setting, ...] = (
    Setting("budget_range_busd", "sens_budget", "Budget range ($B)", "slider",
            ("sweep_budget", "sobol"), 0, 1.0, 400.0, 1.0),
    Setting("lambda_range", "sens_lambda", "λ range", "slider", ("sweep_lambda",), 0, 0.0, 1.0, 0.05),
    Setting("points", "sens_points", "Points", "number", ("sweep_budget", "sweep_lambda", "pareto"),
            1, 2, 60, 1),
    Setting("runs", "sens_runs", "Weight samples", "number", ("robust",), 0, 2, 5000, 10,
            help="Each sample is one re-solve."),
    Setting("threshold_musd", "sens_threshold", "Funded from ($M)", "number", ("robust",), 1,
            0.0, None, 10.0,
            help="A region counts as funded in a sample when it gets at least this much."),
    Setting("measure", "sens_measure", "Spread measure", "select", ("pareto",), 0,
            options=("gini", "top10_share"), labels=(("gini", "Gini"), ("top10_share", "Top-10 share"))),
    Setting("change_pct", "sens_change", "Change each parameter by ± (%)", "slider", ("tornado",), 0,
            5, 50, 5),
    Setting("base_samples", "sens_samples", "Base samples N", "select", ("sobol",), 1,
            options=(4, 8, 16, 32, 64), help="Runs = N × (factors + 2)."),
    Setting("seed", "sens_seed", "Random seed", "number", ("robust", "sobol"), 2, 0, None, 1,
            help="Same seed, same numbers."),
)


def settings_for(kind: str) -> list[Setting]:
    """The controls the analysis ``kind`` shows, in the order drawn."""
    return [row for row in SENSITIVITY_SETTINGS if kind in row.kinds]


def sensitivity_spec(kind: str, settings: dict[str, Any] | None = None) -> Spec:
    """The engine's analysis spec for one of ``SENSITIVITY_KINDS`` with the page's settings.

    Money in $B (threshold in $M); ``change_pct`` in percent. Raises ``ScenarioError``
    with the spec validator's message for bad settings.
    """
    if kind not in SENSITIVITY_KINDS:
        raise ScenarioError(f"unknown analysis '{kind}'; choose one of {sorted(SENSITIVITY_KINDS)}")
    s = {**DEFAULT_SENSITIVITY, **(settings or {})}
    common: dict[str, Any] = {"seed": int(s["seed"]), "title": SENSITIVITY_KINDS[kind],
                              "funded_threshold_usd": float(s["threshold_musd"]) * 1e6,
                              "chunk_size": 10}
    if kind == "sweep_budget":
        lo, hi = s["budget_range_busd"]
        spec: dict[str, Any] = {"analysis": "sweep", "vary": {"budget": {"start": float(lo) * BUSD,
                                                        "stop": float(hi) * BUSD,
                                                        "num": int(s["points"])}}}
    elif kind == "sweep_lambda":
        lo, hi = s["lambda_range"]
        spec = {"analysis": "sweep", "vary": {"spread_weight": {"start": float(lo), "stop": float(hi),
                                                               "num": int(s["points"])}}}
    elif kind == "robust":
        spec = {"analysis": "robust", "runs": int(s["runs"])}
    elif kind == "pareto":
        spec = {"analysis": "pareto", "measure": s["measure"], "points": int(s["points"])}
    elif kind == "tornado":
        spec = {"analysis": "tornado", "change": float(s["change_pct"]) / 100}
        if s["evidence"]:
            spec["prior"] = "evidence"
    else:
        lo, hi = s["budget_range_busd"]
        parameters = {"spread_weight": [0.0, 1.0], "budget": [float(lo) * BUSD, float(hi) * BUSD]}
        if not s["evidence"]:
            parameters["complementarity"] = [0.0, 1.0]
        spec = {"analysis": "sobol", "base_samples": int(s["base_samples"]),
                "weights": bool(s["weights"]), "parameters": parameters,
                **({"prior": "evidence"} if s["evidence"] else {})}
    return spec_from_dict({**spec, **common}, source="sensitivity settings")


def expected_runs(spec: Spec, base: Scenario) -> int:
    """How many solves a spec needs (pareto adds a few bisection solves of its own)."""
    if isinstance(spec, SweepSpec):
        sizes = [len(v) if isinstance(v, list) else len(v.values()) for v in spec.vary.values()]
        return int(np.prod(sizes))
    if isinstance(spec, RobustSpec):
        return int(spec.runs)
    if isinstance(spec, ParetoSpec):
        return int(spec.points)
    if isinstance(spec, TornadoSpec):
        if spec.parameters:
            return 1 + 2 * len(spec.parameters)
        if spec.prior == "evidence":
            return 1 + 2 * len(evidence_ranges(base))
        n = 3 + len(base.weights) + sum(len(ins.yields) for ins in base.instruments.values())
        return 1 + 2 * n
    ranges = evidence_ranges(base) if spec.prior == "evidence" else {}
    extra = [p for p, r in ranges.items() if r.low < r.high and p not in spec.parameters]
    factors = len(spec.parameters) + len(extra) + (len(base.weights) if spec.weights else 0)
    return int(spec.base_samples) * (factors + 2)


def sensitivity_backend(scheduler: str | None) -> Backend:
    """In-process runs, or an existing Dask scheduler at ``tcp://HOST:PORT``."""
    address = (scheduler or "").strip()
    if not address:
        return Backend("serial")
    if not re.match(r"^(tcp|tls|inproc|ucx)://[^\s/]+(:\d+)?$", address):
        raise ScenarioError(f"scheduler address '{address}' is not of the form tcp://HOST:PORT")
    return Backend.from_option(address)


@dataclass(frozen=True)
class SensitivityRun:
    """One finished analysis, how long it took and where it ran."""

    kind: str
    result: AnalysisResult
    seconds: float
    backend: str


def run_sensitivity(kind: str, settings: dict[str, Any], regions: Regions, base: Scenario,
                    scheduler: str | None = None,
                    progress: Callable[[int, int], None] | None = None) -> SensitivityRun:
    """Run one analysis on the current plan's scenario; ``progress(done, total)`` as runs end.

    Errors a person can cause (bad settings, an unreachable scheduler) raise
    ``PlaceFundError`` subclasses with a message fit to show.
    """
    spec = sensitivity_spec(kind, settings)
    backend = sensitivity_backend(scheduler)
    start = time.perf_counter()
    try:
        result = run_analysis(spec, backend=backend, progress=progress, regions=regions, base=base)
    except PlaceFundError:
        raise
    except (OSError, TimeoutError) as err:
        raise DataError(f"could not run on the Dask scheduler {backend.describe()}: {err}") from None
    return SensitivityRun(kind, result, time.perf_counter() - start, backend.describe())


def run_caption(spec: Spec, base: Scenario, regions: int, solve_time_s: float) -> str:
    """What running ``spec`` on the plan on screen costs, before it runs."""
    return (f"{expected_runs(spec, base):,} solves on {regions:,} regions "
            f"(one re-solve of this plan took {solve_time_s:.2f} s).")


def run_summary(run: SensitivityRun) -> tuple[str, str | None]:
    """How a finished analysis went, and a warning if some runs failed (None: none did)."""
    outcome = run.result
    done = (f"{SENSITIVITY_KINDS[run.kind]}: {outcome.summary['ok']:,} of "
            f"{outcome.summary['runs']:,} runs solved in {run.seconds:.1f} s ({run.backend}).")
    failed = (f"{outcome.failed} run(s) failed; their reasons are in the runs table."
              if outcome.failed else None)
    return done, failed


SCHEDULER_HELP = ("Leave empty to run here, in this process. Give the address of a running Dask "
                  "scheduler to send the runs to its workers.")


def progress_bar(done: int, total: int) -> tuple[float, str]:
    """A progress bar's fill and text as runs finish.

    >>> progress_bar(3, 12)
    (0.25, '3 of 12 runs')
    """
    return min(done / max(total, 1), 1.0), f"{done:,} of {total:,} runs"


TABLE_LABELS = {"runs": "Runs (one row per run)", "run_regions": "Runs × regions",
                "robust_regions": "Robustness per region", "rank_acceptability": "Rank acceptability",
                "frontier": "Pareto frontier", "tornado": "Tornado table", "sobol": "Sobol indices"}


def sensitivity_downloads(run: SensitivityRun) -> list[tuple[str, str, bytes]]:
    """(label, file name, CSV bytes) for each table of a finished analysis."""
    out = []
    for name, table in run.result.tables.items():
        out.append((f"{TABLE_LABELS.get(name, name)} (CSV)", f"placefund-{run.kind}-{name}.csv",
                    table.to_csv(index=False).encode("utf-8")))
    return out


def chart_texts(run: SensitivityRun) -> dict[str, str]:
    """One sentence per chart of the analysis: its text alternative."""
    return figure_texts(run.result.analysis, run.result.tables, run.result.extra)


def zip_file_name(run: SensitivityRun) -> str:
    """The zip's file name: placefund-<analysis>.zip."""
    return f"placefund-{run.kind}.zip"


def sensitivity_zip(run: SensitivityRun) -> bytes:
    """Every chart and table of a finished analysis in one zip: ``charts.html`` (all
    charts, each followed by its text alternative; opens offline), one CSV per table,
    ``summary.txt`` and ``summary.json``."""
    title = f"PlaceFund: {SENSITIVITY_KINDS.get(run.kind, run.kind)}"
    with tempfile.TemporaryDirectory() as tmp:
        page = f"{tmp}/charts.html"
        write_html(run.result.figures, Path(page), title, chart_texts(run))
        charts = Path(page).read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("charts.html", charts)
        for _label, file_name, data in sensitivity_downloads(run):
            archive.writestr(file_name.removeprefix(f"placefund-{run.kind}-"), data)
        archive.writestr("summary.txt", run.result.text + "\n")
        archive.writestr("summary.json", json.dumps(run.result.summary, indent=2, default=float)
                         + "\n")
    return buffer.getvalue()


def robustness_frame(run: SensitivityRun) -> pd.DataFrame | None:
    """Per region: core index (probability of being funded) and class, for the robustness map."""
    stats = run.result.tables.get("robust_regions")
    if stats is None:
        return None
    return stats[["region_id", "name", "core_index", "core_class", "funding_median_usd"]].copy()
