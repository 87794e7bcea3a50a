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

from optimizer.engine.errors import ScenarioError
from optimizer.engine.scenario import Scenario

LINK_VERSION = "1"
SHIPPED_SETS = ("states", "metros", "counties")
UPLOAD_SET = "upload"
MAX_LINK_CHARS = 8_000  # a settings text longer than this is not from this workbench
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


def _unpack(text: str) -> dict[str, Any]:
    if len(text) > MAX_LINK_CHARS:
        raise ValueError("the settings text is too long")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    value = json.loads(zlib.decompressobj().decompress(raw, 1_000_000))
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
    except (ValueError, binascii.Error, zlib.error, UnicodeDecodeError) as err:
        return Link(region_set, {}, csv_hash, geo_hash,
                    problem=f"the link's settings could not be read ({err})")
    return Link(region_set, changes, csv_hash, geo_hash)


def apply_link(reference: Scenario, link: Link) -> tuple[Scenario, str | None]:
    """``reference`` with the link's settings; on invalid settings ``reference`` and why."""
    if not link.changes:
        return reference, None
    try:
        return reference.updated(**link.changes), None
    except (ScenarioError, TypeError, ValueError) as err:
        return reference, f"the link's settings do not fit these regions ({err})"


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
