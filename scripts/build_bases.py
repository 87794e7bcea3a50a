"""Write the shipped warm-start bases: one per shipped region set whose LP is large.

Run: .venv/bin/python scripts/build_bases.py [--regions counties]

Solves each set's documented default plan (``scenario.region_set_default``) cold, in
a throw-away ``PLACEFUND_HOME``, and stores HiGHS's optimal basis under
``optimizer/defaults/bases/<shape key>.npz``. A basis holds only a status (basic, at
lower or upper bound) per column and row; it changes no number of any plan, only how
many simplex iterations the first solve of a model of that shape takes. Re-run it
whenever the model's layout or the shipped data changes (a test checks that the
default county plan still finds its basis).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="counties",
                        help="comma-separated shipped region sets (default: counties)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["PLACEFUND_HOME"] = home
        import optimizer as pf
        from optimizer.engine.inputs import resolve
        from optimizer.engine.model import structure_of
        from optimizer.engine.scenario import region_set_default
        from optimizer.engine.start.basis import SHIPPED_BASES, basis_path

        SHIPPED_BASES.mkdir(parents=True, exist_ok=True)
        for name in [r.strip() for r in args.regions.split(",") if r.strip()]:
            regions = pf.load_regions(name)
            scenario = region_set_default(name, regions.indicators)
            structure = structure_of(resolve(regions, scenario))
            start = time.perf_counter()
            plan = pf.Planner(regions).solve(scenario)
            saved = basis_path(structure)
            if not saved.exists():
                raise SystemExit(f"{name}: no basis was saved (the LP is below the size "
                                 "that uses saved bases)")
            target = SHIPPED_BASES / saved.name
            shutil.copyfile(saved, target)
            print(f"{name}: solved in {time.perf_counter() - start:.1f} s "
                  f"(objective {plan.solver.objective_lp:.4f}); wrote {target} "
                  f"({target.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
