"""The workbench's state outside one page run: a link that holds the plan, and undo/redo.

A link holds the scenario as its difference from the region set's reference scenario
(the shipped default, or the default fitted to an upload): the top-level keys that
differ, as JSON, zlib-compressed and base64url-encoded, under a format version ``v``.
An uploaded table cannot live in a link; the link names it by content hash (``u`` for
the CSV, ``g`` for the shapes) and the workbench keeps uploads under that hash in the
PlaceFund folder (``report.uploads.store_upload``), so a reload on the same machine
finds them again, and otherwise says plainly what it could not restore.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optimizer.engine.data import Regions
from optimizer.engine.errors import PlaceFundError
from optimizer.engine.inputs import BUSD, resolve
from optimizer.engine.scenario import Scenario, usd
from optimizer.ui.controls import KNOBS

LINK_VERSION = "1"
SHIPPED_SETS = ("states", "metros", "counties")
UPLOAD_SET = "upload"
MAX_LINK_CHARS = 8_000  # a settings text longer than this is not from this workbench
MAX_SETTINGS_BYTES = 64_000  # decoded settings; every setting changed is a few kB
MAX_SETTINGS_DEPTH = 8  # nested lists/mappings in the settings (a scenario needs four)
HISTORY_LENGTH = 50


@dataclass(frozen=True)
class Link:
    """What a link asks for: a region set, settings changed from its reference, uploads."""

    region_set: str = "states"
    changes: dict[str, Any] = field(default_factory=dict)
    csv_hash: str | None = None
    geo_hash: str | None = None
    problem: str | None = None  # why (part of) the link could not be read


def changed_settings(scenario: Scenario, reference: Scenario) -> dict[str, Any]:
    """The top-level settings of ``scenario`` that differ from ``reference`` (as JSON)."""
    now, ref = scenario.to_dict(), reference.to_dict()
    return {key: value for key, value in now.items() if ref.get(key) != value}


def _pack(changes: dict[str, Any]) -> str:
    raw = json.dumps(changes, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def _depth(text: str) -> int:
    """How deeply the JSON ``text`` nests lists and mappings (brackets inside strings
    do not count), measured before parsing: a parser recurses once per level."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _unpack(text: str) -> dict[str, Any]:
    if len(text) > MAX_LINK_CHARS:
        raise ValueError("the settings text is too long")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    inflate = zlib.decompressobj()
    data = inflate.decompress(raw, MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES or inflate.unconsumed_tail:
        raise ValueError(f"the settings expand to more than {MAX_SETTINGS_BYTES:,} bytes")
    decoded = data.decode("utf-8")
    if _depth(decoded) > MAX_SETTINGS_DEPTH:
        raise ValueError(f"the settings nest more than {MAX_SETTINGS_DEPTH} levels deep")
    value = json.loads(decoded)
    if not isinstance(value, dict):
        raise ValueError("the settings are not a mapping")
    return value


def link_params(region_set: str, scenario: Scenario, reference: Scenario,
                csv_hash: str | None = None, geo_hash: str | None = None) -> dict[str, str]:
    """The query parameters of a link to ``scenario`` on ``region_set``."""
    params = {"v": LINK_VERSION, "set": region_set}
    changes = changed_settings(scenario, reference)
    if changes:
        params["s"] = _pack(changes)
    if region_set == UPLOAD_SET and csv_hash:
        params["u"] = csv_hash
        if geo_hash:
            params["g"] = geo_hash
    return params


def _hash(value: str | None) -> str | None:
    ok = value is not None and 8 <= len(value) <= 64 and all(c in "0123456789abcdef" for c in value)
    return value if ok else None


def read_link(params: Mapping[str, str]) -> Link | None:
    """The link in ``params`` (None when there is none); a bad part is named in ``problem``."""
    if "v" not in params and "s" not in params:
        return None
    if params.get("v") != LINK_VERSION:
        return Link(problem=f"the link is of format version {params.get('v')!r}; this workbench "
                            f"reads version {LINK_VERSION}")
    region_set = params.get("set", "states")
    if region_set not in (*SHIPPED_SETS, UPLOAD_SET):
        return Link(problem=f"the link names an unknown region set {region_set!r}")
    csv_hash, geo_hash = _hash(params.get("u")), _hash(params.get("g"))
    if region_set == UPLOAD_SET and csv_hash is None:
        return Link(problem="the link's uploaded regions have no valid content hash")
    try:
        changes = _unpack(params["s"]) if params.get("s") else {}
    except (ValueError, binascii.Error, zlib.error, RecursionError) as err:
        return Link(region_set, {}, csv_hash, geo_hash,
                    problem=f"the link's settings could not be read ({err})")
    return Link(region_set, changes, csv_hash, geo_hash)


def _out_of_range(changes: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``changes`` without top-level numbers outside their widget's range, and a
    sentence for each one left out (a link may not ask for what no widget can show)."""
    kept, dropped = dict(changes), []
    for row in KNOBS:
        value = changes.get(row.path)
        if (row.kind != "number" or row.path not in changes or isinstance(value, bool)
                or not isinstance(value, int | float) or row.lo is None):
            continue
        lo, hi = row.lo * row.scale, (row.hi * row.scale if row.hi is not None else None)
        if value < lo or (hi is not None and value > hi):
            shown = (usd(value), usd(lo), usd(hi) if hi is not None else None) if (
                row.scale == BUSD) else (f"{value:g}", f"{lo:g}", f"{hi:g}" if hi else None)
            upper = f" to {shown[2]}" if shown[2] is not None else " or more"
            dropped.append(f"{row.text().split(' (')[0]} ('{row.path}') {shown[0]} is outside "
                           f"the workbench's range {shown[1]}{upper}, so the default is shown")
            del kept[row.path]
    return kept, dropped


def apply_link(reference: Scenario, link: Link,
               regions: Regions | None = None) -> tuple[Scenario, str | None]:
    """``reference`` with the link's settings, and why any were left out (None: none).

    Settings that do not validate (against ``regions`` too, when given: an indicator
    weight the regions lack), or lie outside their widget's range, are left out one
    by one, so the link's valid settings are kept.
    """
    if not link.changes:
        return reference, None
    changes, problems = _out_of_range(link.changes)

    def fits(trial: dict[str, Any]) -> str | None:
        try:
            scenario = reference.updated(**trial)
            if regions is not None:
                resolve(regions, scenario)
        except (PlaceFundError, TypeError, ValueError, KeyError) as err:
            return str(err)
        return None

    why = fits(changes)
    if why is not None:
        kept: dict[str, Any] = {}
        for key in sorted(changes):
            alone = fits({**kept, key: changes[key]})
            if alone is None:
                kept[key] = changes[key]
            else:
                problems.append(f"'{key}' does not fit these regions ({alone})")
        changes = kept
    scenario = reference.updated(**changes) if changes else reference
    return scenario, "; ".join(problems) or None


@dataclass
class History:
    """The last settings a person had, for undo and redo (one region set at a time)."""

    data_key: Any = None
    past: list[Scenario] = field(default_factory=list)
    current: Scenario | None = None
    future: list[Scenario] = field(default_factory=list)

    def record(self, scenario: Scenario, data_key: Any) -> None:
        """Note the scenario on screen; a new one ends the redo list. New data: a new history."""
        if data_key != self.data_key:
            self.data_key, self.past, self.current, self.future = data_key, [], scenario, []
            return
        if self.current is not None and self.current.fingerprint() == scenario.fingerprint():
            return
        if self.current is not None:
            self.past = [*self.past, self.current][-HISTORY_LENGTH:]
        self.current = scenario
        self.future = []

    @property
    def can_undo(self) -> bool:
        """Whether there is an earlier setting to go back to."""
        return bool(self.past)

    @property
    def can_redo(self) -> bool:
        """Whether an undone setting can be brought back."""
        return bool(self.future)

    def undo(self) -> Scenario | None:
        """The previous scenario (now current), or None if there is none."""
        if not self.past or self.current is None:
            return None
        self.future = [self.current, *self.future]
        self.current = self.past[-1]
        self.past = self.past[:-1]
        return self.current

    def redo(self) -> Scenario | None:
        """The scenario last undone (now current), or None if there is none."""
        if not self.future or self.current is None:
            return None
        self.past = [*self.past, self.current]
        self.current = self.future[0]
        self.future = self.future[1:]
        return self.current
