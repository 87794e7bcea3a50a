"""The package works outside the repository: a wheel built from it, installed into a
fresh virtual environment in another folder, solves and checks the default plan from
its own shipped data."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_a_wheel_installed_outside_the_repository_solves_the_default_plan(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT)], cwd=tmp_path)
    (wheel,) = wheels.glob("placefund-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    # third-party packages come from the test environment (no download); PlaceFund itself
    # only from the wheel: a plain path entry does not run the editable install's hook
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=tmp_path).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], cwd=tmp_path)
    where = run([str(python), "-c", "import optimizer; print(optimizer.__file__)"], cwd=tmp_path)
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    out = tmp_path / "plan"
    solved = run([str(venv / "bin" / "placefund"), "solve", "--out", str(out)], cwd=tmp_path,
                 PLACEFUND_HOME=str(tmp_path / "home"))
    assert "Top 10 funded regions" in solved.stdout
    checked = run([str(venv / "bin" / "placefund"), "check", str(out)], cwd=tmp_path)
    assert "plan OK" in checked.stdout
    metros = run([str(venv / "bin" / "placefund"), "facts", "--regions", "metros"], cwd=tmp_path)
    assert "Software developers" in metros.stdout
    spec = tmp_path / "consensus.yaml"  # the analyses' subpackages are in the wheel too
    spec.write_text("stakeholders:\n  research: {weights: {university_se_rd_musd: 1}}\n"
                    "  venture: {weights: {ai_vc_musd: 1, vc_funded_firms: 1}}\n")
    agreed = run([str(venv / "bin" / "placefund"), "consensus", str(spec), "--out",
                  str(tmp_path / "agreed")], cwd=tmp_path, PLACEFUND_HOME=str(tmp_path / "home"))
    assert "Consensus of 2 stakeholders" in agreed.stdout
    assert "consensus OK" in run([str(venv / "bin" / "placefund"), "check",
                                  str(tmp_path / "agreed")], cwd=tmp_path).stdout
