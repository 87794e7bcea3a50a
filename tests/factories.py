"""Tiny inline region sets and scenarios whose optimum can be checked by hand."""

from __future__ import annotations

import optimizer as pf
from optimizer.engine.data import Regions, regions_from_bytes


def make_regions(csv: str, label: str = "test.csv") -> Regions:
    """A regions table from inline CSV text."""
    return regions_from_bytes(csv.strip().encode() + b"\n", label)


# 1% of the talent total per $1B: one capacity point per $1B on any table
ONE_INSTRUMENT = {"grant": {"yields": {"talent": "1%"}, "saturation_usd": "$10B"}}


def tiny_scenario(**overrides: object) -> pf.Scenario:
    """A scenario for inline regions: one indicator, one instrument, unless overridden."""
    base: dict[str, object] = {
        "budget": "$10B",
        "weights": {"talent": 1.0},
        "instruments": ONE_INSTRUMENT,
        "missing_values": "error",
        "complementarity": 0.5,  # strong clusters: rules such as per-capita floors bind
        "approximation": {"tangents": 200, "max_error_share": 1e-6},
    }
    base.update(overrides)
    if "weights" in overrides and "instruments" not in overrides:
        # the grant raises each weighted indicator by 1% of its total per $1B: 1 point per $1B
        base["instruments"] = {"grant": {"yields": {k: "1%" for k in overrides["weights"]},  # type: ignore[union-attr]
                                         "saturation_usd": "$10B"}}
    return pf.scenario_from_dict(base, source="test scenario")


# four regions on two coasts, two of them small and rural: hub and group rules
FOUR = make_regions("""
region_id,name,population,talent,coast,small_rural
A,Alpha,1000,40,east,false
B,Beta,2000,30,east,false
C,Gamma,3000,20,west,true
D,Delta,4000,10,west,true
""")
