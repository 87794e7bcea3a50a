"""The plan library and side-by-side comparisons of plans.

``PlanLibrary`` keeps named plans on disk (``$PLACEFUND_HOME/plans``, default
``~/.placefund/plans``): never overwritten, deletable, read back as
``AllocationResult``. ``compare_metrics`` and ``difference_table`` put plans side by side.
"""

from __future__ import annotations

import builtins
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from optimizer.engine.errors import DataError, ScenarioError
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import usd
from optimizer.engine.settings import home_dir
from optimizer.report.export import load_plan
from optimizer.report.text import METRIC_LABELS, metric_text


def placefund_home() -> Path:
    """The user's PlaceFund folder: $PLACEFUND_HOME or ~/.placefund."""
    return home_dir()


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    return slug[:60] or "plan"


@dataclass(frozen=True)
class SavedPlan:
    """A plan in the library."""

    name: str
    path: Path
    saved_utc: str
    data_sha256: str

    def load(self) -> AllocationResult:
        """The stored plan as an ``AllocationResult``."""
        return load_plan(self.path)


class PlanLibrary:
    """Named plans saved as plan directories under ``root``; nothing is ever overwritten."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else placefund_home() / "plans"

    def list(self) -> builtins.list[SavedPlan]:
        """Saved plans, oldest first."""
        if not self.root.is_dir():
            return []
        plans = []
        for meta_path in self.root.glob("*/meta.json"):
            try:
                meta = json.loads(meta_path.read_text())
                plans.append(SavedPlan(str(meta["name"]), meta_path.parent, str(meta["saved_utc"]),
                                       str(meta.get("data_sha256", ""))))
            except (OSError, json.JSONDecodeError, KeyError):
                continue  # a half-written or foreign folder: not ours to show
        return sorted(plans, key=lambda p: (p.saved_utc, p.name))

    def names(self) -> builtins.list[str]:
        """Names of the saved plans."""
        return [p.name for p in self.list()]

    def get(self, name: str) -> SavedPlan:
        """The saved plan called ``name``."""
        for plan in self.list():
            if plan.name == name:
                return plan
        raise DataError(f"no saved plan called '{name}'", file=str(self.root))

    def save(self, name: str, result: AllocationResult) -> SavedPlan:
        """Save ``result`` as ``name``; an existing name gets a numbered suffix instead."""
        clean = " ".join(name.split())
        if not clean:
            raise ScenarioError("give the plan a name before saving it")
        if len(clean) > 80:
            raise ScenarioError("plan names are limited to 80 characters")
        self.root.mkdir(parents=True, exist_ok=True)
        taken = set(self.names())
        final_name, n = clean, 1
        while final_name in taken:
            n += 1
            final_name = f"{clean} ({n})"
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.root))
        try:
            result.to_dir(staging / "plan")
            saved = datetime.now(UTC).isoformat(timespec="microseconds")
            meta = {"name": final_name, "saved_utc": saved,
                    "data_sha256": result.provenance.get("data_sha256", "")}
            (staging / "plan" / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            base, k = _slug(final_name), 1
            while True:
                target = self.root / (base if k == 1 else f"{base}-{k}")
                try:
                    (staging / "plan").rename(target)  # fails if target exists: never overwrite
                    break
                except OSError:
                    if not target.exists():
                        raise
                    k += 1
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return SavedPlan(final_name, target, saved, meta["data_sha256"])

    def delete(self, name: str) -> None:
        """Remove the saved plan called ``name``."""
        shutil.rmtree(self.get(name).path)


# --------------------------------------------------------------------------- comparison


def compare_metrics(plans: dict[str, AllocationResult]) -> pd.DataFrame:
    """Metrics of several plans side by side, with the shared baseline first."""
    if not plans:
        return pd.DataFrame()
    first = next(iter(plans.values()))
    columns = {"Baseline": first.metrics_before}
    columns.update({name: plan.metrics_after for name, plan in plans.items()})
    rows = []
    for key, (label, unit) in METRIC_LABELS.items():
        if key not in first.metrics_before:
            continue
        row = {"Metric": label, "Unit": unit}
        row.update({name: metric_text(key, m[key]) for name, m in columns.items() if key in m})
        rows.append(row)
    extra = [{"Metric": "Budget", "Unit": "USD", "Baseline": "",
              **{name: usd(p.scenario.budget) for name, p in plans.items()}},
             {"Metric": "Spread weight λ", "Unit": "0..1", "Baseline": "",
              **{name: f"{p.scenario.spread_weight:g}" for name, p in plans.items()}},
             {"Metric": "Regions funded", "Unit": "count", "Baseline": "",
              **{name: str(int((p.regions["funding_usd"] > 1.0).sum())) for name, p in plans.items()}}]
    return pd.DataFrame(rows + extra).set_index("Metric")


def same_regions(plans: dict[str, AllocationResult]) -> bool:
    """Whether all plans cover the same region ids (needed for difference maps)."""
    ids = [tuple(sorted(p.regions["region_id"].astype(str))) for p in plans.values()]
    return len(set(ids)) <= 1


def difference_table(a: AllocationResult, b: AllocationResult, name_a: str, name_b: str) -> pd.DataFrame:
    """Per-region funding and capacity in two plans, largest funding change first."""
    ra = a.regions.set_index("region_id")
    rb = b.regions.set_index("region_id")
    if set(ra.index) != set(rb.index):
        raise DataError(f"plans '{name_a}' and '{name_b}' cover different regions; compare plans "
                        "made on the same regions table")
    rb = rb.reindex(ra.index)
    out = pd.DataFrame({
        "Region": ra["name"],
        f"Funding, {name_a}": ra["funding_usd"],
        f"Funding, {name_b}": rb["funding_usd"],
        "Funding change": rb["funding_usd"] - ra["funding_usd"],
        f"Capacity, {name_a}": ra["final_capacity"],
        f"Capacity, {name_b}": rb["final_capacity"],
        "Capacity change": rb["final_capacity"] - ra["final_capacity"],
    })
    order = out["Funding change"].abs().sort_values(ascending=False, kind="stable").index
    return out.loc[order]


