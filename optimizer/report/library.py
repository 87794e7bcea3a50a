"""The plan library and side-by-side comparisons of plans.

``PlanLibrary`` keeps named plans on disk (``$PLACEFUND_HOME/plans``, default
``~/.placefund/plans``): never overwritten, with notes, renamed, duplicated, read back
as ``AllocationResult``. A deleted plan goes to ``plans/.trash`` first, so a deletion
can be undone (``restore``) until the trash is emptied (entries older than a day are).
``compare_metrics``, ``settings_diff`` and ``difference_table`` put any number of plans
side by side, each against its own baseline.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from optimizer.engine import formatting as fmt
from optimizer.engine.errors import DataError, ScenarioError
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import usd
from optimizer.engine.settings import home_dir
from optimizer.report.export import load_plan
from optimizer.report.text import (
    METRIC_LABELS,
    metric_label,
    metric_text,
    setting_label,
    setting_text,
    top_k,
)

TRASH = ".trash"
LOCK = ".lock"  # held while names are chosen and plans move in or out
LOCK_TIMEOUT_S = 60.0
TRASH_KEEP = timedelta(days=1)
MAX_NOTES = 4000  # characters


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
    notes: str = ""

    def load(self) -> AllocationResult:
        """The stored plan as an ``AllocationResult``."""
        return load_plan(self.path)


class PlanLibrary:
    """Named plans saved as plan directories under ``root``; nothing is ever overwritten."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else placefund_home() / "plans"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The library to this writer alone (other processes and sessions wait), so two
        saves of one name get two names and two note edits do not lose one."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(self.root / LOCK, timeout=LOCK_TIMEOUT_S):
                yield
        except Timeout:
            raise DataError(f"the plan library is busy (another save has held it for "
                            f"{LOCK_TIMEOUT_S:.0f} s); try again", file=str(self.root)) from None

    def list(self) -> builtins.list[SavedPlan]:
        """Saved plans, oldest first."""
        if not self.root.is_dir():
            return []
        plans = []
        for meta_path in self.root.glob("*/meta.json"):
            try:
                meta = json.loads(meta_path.read_text())
                plans.append(SavedPlan(str(meta["name"]), meta_path.parent, str(meta["saved_utc"]),
                                       str(meta.get("data_sha256", "")),
                                       str(meta.get("notes", ""))))
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

    def save(self, name: str, result: AllocationResult, notes: str = "") -> SavedPlan:
        """Save ``result`` as ``name``; an existing name gets a numbered suffix instead."""
        clean = _clean_name(name)
        notes = _clean_notes(notes)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.root))
        try:
            result.to_dir(staging / "plan")  # the slow part, outside the lock
            with self._locked():
                final_name = self._free_name(clean)  # chosen under the lock: no two alike
                saved = datetime.now(UTC).isoformat(timespec="microseconds")
                meta = {"name": final_name, "saved_utc": saved,
                        "data_sha256": result.provenance.get("data_sha256", ""), "notes": notes}
                (staging / "plan" / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
                target = self._move_in(staging / "plan", _slug(final_name))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return SavedPlan(final_name, target, saved, meta["data_sha256"], notes)

    def _free_name(self, clean: str, taken: set[str] | None = None) -> str:
        """``clean``, or ``clean (2)``, ``(3)``, ... if that name is taken."""
        taken = set(self.names()) if taken is None else taken
        final_name, n = clean, 1
        while final_name in taken:
            n += 1
            final_name = f"{clean} ({n})"
        return final_name

    def _move_in(self, source: Path, base: str) -> Path:
        """Rename ``source`` to a new folder ``base`` (or ``base-2``, ...) of the library."""
        k = 1
        while True:
            target = self.root / (base if k == 1 else f"{base}-{k}")
            try:
                source.rename(target)  # fails if target exists: never overwrite
                return target
            except OSError:
                if not target.exists():
                    raise
                k += 1

    def _write_meta(self, plan: SavedPlan, **changes: str) -> None:
        """Rewrite a saved plan's meta.json with ``changes``, whole or not at all."""
        meta_path = plan.path / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta.update(changes)
        _replace_text(meta_path, json.dumps(meta, indent=2) + "\n")

    def set_notes(self, name: str, notes: str) -> SavedPlan:
        """Replace the notes of the saved plan ``name``."""
        with self._locked():
            plan = self.get(name)
            self._write_meta(plan, notes=_clean_notes(notes))
        return self.get(name)

    def rename(self, name: str, new_name: str) -> SavedPlan:
        """Give the saved plan ``name`` a new name (refused if another plan has it)."""
        with self._locked():
            plan = self.get(name)
            clean = _clean_name(new_name)
            if clean == plan.name:
                return plan
            if clean in self.names():
                raise ScenarioError(f"a saved plan is already called '{clean}'; choose another "
                                    "name")
            self._write_meta(plan, name=clean)
        return self.get(clean)

    def duplicate(self, name: str, new_name: str | None = None) -> SavedPlan:
        """A copy of the saved plan ``name`` (files, notes) under ``new_name`` or 'name (copy)'."""
        with self._locked():
            plan = self.get(name)
            final_name = self._free_name(_clean_name(new_name or f"{plan.name} (copy)"))
            staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.root))
            try:
                shutil.copytree(plan.path, staging / "plan")
                saved = datetime.now(UTC).isoformat(timespec="microseconds")
                meta = json.loads((staging / "plan" / "meta.json").read_text())
                meta.update(name=final_name, saved_utc=saved)
                (staging / "plan" / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
                self._move_in(staging / "plan", _slug(final_name))
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return self.get(final_name)

    def delete(self, name: str) -> str:
        """Move the saved plan ``name`` to the trash; returns the token ``restore`` takes."""
        with self._locked():
            plan = self.get(name)
            trash = self.root / TRASH
            trash.mkdir(parents=True, exist_ok=True)
            self._empty_old_trash(trash)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            token = f"{stamp}-{plan.path.name}"
            plan.path.rename(trash / token)
        return token

    def restore(self, token: str) -> SavedPlan:
        """Bring a deleted plan back (a numbered name if its name was taken meanwhile)."""
        source = self.root / TRASH / Path(token).name
        meta_path = source / "meta.json"
        if not meta_path.is_file():
            raise DataError("that deleted plan is no longer in the trash; it cannot be restored",
                            file=str(self.root / TRASH))
        with self._locked():
            meta = json.loads(meta_path.read_text())
            name = self._free_name(str(meta["name"]))
            if name != meta["name"]:
                meta["name"] = name
                _replace_text(meta_path, json.dumps(meta, indent=2) + "\n")
            self._move_in(source, _slug(name))
        return self.get(name)

    def _empty_old_trash(self, trash: Path) -> None:
        """Remove deleted plans older than ``TRASH_KEEP``."""
        cutoff = (datetime.now(UTC) - TRASH_KEEP).strftime("%Y%m%dT%H%M%S%f")
        for entry in trash.iterdir():
            if entry.name[:21] < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


def _replace_text(path: Path, text: str) -> None:
    """Replace ``path`` whole with ``text``: written under a name of this writer's own,
    then renamed over it, so a reader sees the old file or the new, never neither."""
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".partial",
                                       dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _clean_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise ScenarioError("give the plan a name before saving it")
    if len(clean) > 80:
        raise ScenarioError("plan names are limited to 80 characters")
    return clean


def _clean_notes(notes: str) -> str:
    text = notes.strip()
    if len(text) > MAX_NOTES:
        raise ScenarioError(f"notes are limited to {MAX_NOTES:,} characters (got {len(text):,})")
    return text


# --------------------------------------------------------------------------- comparison


def compare_metrics(plans: dict[str, AllocationResult]) -> pd.DataFrame:
    """Metrics of any number of plans side by side, each against its own baseline.

    Plans on the same data with the same indicator weights share one baseline, shown
    once as "Baseline"; otherwise each plan's baseline gets its own column
    ("Baseline, <plan>") next to the plan.
    """
    if not plans:
        return pd.DataFrame()
    baselines = {name: p.metrics_before for name, p in plans.items()}
    shared = len({_baseline_key(p) for p in plans.values()}) == 1
    columns: dict[str, dict[str, float]] = {}
    if shared:
        columns["Baseline"] = next(iter(baselines.values()))
    for name, plan in plans.items():
        if not shared:
            columns[f"Baseline, {name}"] = baselines[name]
        columns[name] = plan.metrics_after
    ks = {top_k(len(p.regions)) for p in plans.values()}
    first = next(iter(plans.values()))
    rows = []
    for key, (label, unit) in METRIC_LABELS.items():
        if key not in first.metrics_before:
            continue
        if key in ("top10_share", "baseline_top10_share"):
            label = (metric_label(key, len(first.regions)) if len(ks) == 1 else
                     label.replace("Top-10", "Top-k").replace("top 10", "top k")
                     + f" (k = {' / '.join(str(k) for k in sorted(ks))})")
        row = {"Metric": label, "Unit": unit}
        row.update({name: metric_text(key, m[key]) for name, m in columns.items() if key in m})
        rows.append(row)
    blank = dict.fromkeys((c for c in columns if c.startswith("Baseline")), "")
    extra = [{"Metric": "Budget", "Unit": "USD", **blank,
              **{name: usd(p.scenario.budget) for name, p in plans.items()}},
             {"Metric": "Budget spent", "Unit": "USD", **blank,
              **{name: usd(p.spent_usd) for name, p in plans.items()}},
             {"Metric": "Spread weight λ", "Unit": "0..1", **blank,
              **{name: f"{p.scenario.spread_weight:g}" for name, p in plans.items()}},
             {"Metric": "Regions funded", "Unit": "count", **blank,
              **{name: f"{int((p.regions['funding_usd'] > 1.0).sum())} of {len(p.regions)}"
                 for name, p in plans.items()}}]
    return pd.DataFrame(rows + extra).set_index("Metric")[["Unit", *columns]]


def _baseline_key(plan: AllocationResult) -> tuple[str, str]:
    """What a baseline depends on: the data and the normalized indicator weights."""
    weights = json.dumps({k: round(v, 12) for k, v in
                          sorted(plan.scenario.normalized_weights.items())})
    return str(plan.provenance.get("data_sha256", "")), weights


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested scenario as {dotted key path: leaf value}; empty mappings stay leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(_flat(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def settings_diff(plans: dict[str, AllocationResult]) -> pd.DataFrame:
    """Every scenario setting on which the plans differ (weights and rules included).

    One row per differing key path, labelled in words, one column per plan with its
    value as people read it ("—" where a plan does not set it). Weights are compared
    after normalization (what the sliders show as shares); the data the plans were made
    on is compared too. Empty when all plans have the same settings.
    """
    flat = {}
    for name, plan in plans.items():
        data = plan.scenario.to_dict()
        data["weights"] = plan.scenario.normalized_weights
        entry = _flat(data)
        entry["data"] = str(plan.provenance.get("data_source", "")) or "?"
        entry["data_sha256"] = str(plan.provenance.get("data_sha256", ""))[:12]
        flat[name] = entry
    keys: list[str] = []
    for entry in flat.values():
        keys += [k for k in entry if k not in keys]
    rows = []
    for key in keys:
        values = [entry.get(key, _UNSET) for entry in flat.values()]
        if all(_same(values[0], v) for v in values[1:]):
            continue
        label = {"data": "Regions data", "data_sha256": "Regions data fingerprint"}.get(
            key) or setting_label(key)
        shown = {name: "—" if entry.get(key, _UNSET) is _UNSET else
                 fmt.share(entry[key]) if key.startswith("weights.") else
                 setting_text(key, entry[key]) for name, entry in flat.items()}
        rows.append({"Setting": label, "Key": key, **shown})
    return pd.DataFrame(rows, columns=["Setting", "Key", *plans]).set_index("Setting")


_UNSET = object()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))
    return bool(a == b)


def same_regions(plans: dict[str, AllocationResult]) -> bool:
    """Whether all plans cover the same region ids (needed for difference maps)."""
    ids = [tuple(sorted(p.regions["region_id"].astype(str))) for p in plans.values()]
    return len(set(ids)) <= 1


def difference_table(a: AllocationResult, b: AllocationResult, name_a: str, name_b: str) -> pd.DataFrame:
    """Per-region funding and capacity in two plans (changes are b − a), largest funding
    change first."""
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


def difference_summary(diff: pd.DataFrame, name_a: str, name_b: str) -> str:
    """One sentence that says what a difference map shows (its text alternative)."""
    change = diff["Funding change"]
    more, less = int((change > 1.0).sum()), int((change < -1.0).sum())
    if not more and not less:
        return f"“{name_b}” funds every region as “{name_a}” does."
    top = diff.iloc[0]
    return (f"Under “{name_b}” rather than “{name_a}”, {more} region(s) get more and {less} "
            f"less; the largest change is {top['Region']} "
            f"({fmt.money(float(top['Funding change']), plus=True)}).")



def difference_display(diff: pd.DataFrame) -> pd.DataFrame:
    """``difference_table`` as people read it: money as $…M/$…B, changes signed with a
    true minus, capacity in points to two decimals."""
    out = pd.DataFrame({"Region": diff["Region"]}, index=diff.index)
    for column in diff.columns[1:]:
        change = column.endswith("change")
        if column.startswith("Funding"):
            out[column] = [fmt.money(v, plus=change) for v in diff[column]]
        else:
            out[f"{column} (points)"] = [fmt.number(v, 2 if not change else 3, plus=change)
                                         for v in diff[column]]
    return out
