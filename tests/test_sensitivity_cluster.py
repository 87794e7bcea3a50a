"""Sensitivity runs through real Dask clusters on loopback give the serial numbers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.analysis.runs import Backend
from optimizer.analysis.sensitivity import run_analysis, spec_from_dict
from optimizer.cli import app
from optimizer.engine.data import Regions

COMPARED = ["run_id", "status", "objective", "spent_usd", "after_total_capacity", "after_gini",
            "after_top10_share"]


def test_same_seed_serial_and_two_worker_local_cluster_agree(states: Regions) -> None:
    base = pf.load_scenario()
    spec = spec_from_dict({"analysis": "robust", "runs": 16, "seed": 11, "chunk_size": 4})
    serial = run_analysis(spec, backend=Backend("serial"), regions=states, base=base)
    local = run_analysis(spec, backend=Backend("local", workers=2), regions=states, base=base)
    assert local.summary["backend"].startswith("local Dask cluster, 2 worker")
    pd.testing.assert_frame_equal(serial.tables["runs"][COMPARED], local.tables["runs"][COMPARED])
    pd.testing.assert_frame_equal(serial.tables["run_regions"], local.tables["run_regions"])
    pd.testing.assert_frame_equal(serial.tables["robust_regions"], local.tables["robust_regions"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dask() -> str:
    exe = Path(sys.executable).with_name("dask")
    return str(exe) if exe.exists() else shutil.which("dask") or "dask"


@pytest.fixture
def scheduler_and_two_workers(tmp_path: Path) -> Iterator[str]:
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, always killed."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    common = {"cwd": Path(__file__).resolve().parent.parent, "env": env,
              "stdout": subprocess.DEVNULL, "start_new_session": True}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(
            [_dask(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], stderr=open(tmp_path / "scheduler.log", "wb"), **common))
        for i in range(2):
            procs.append(subprocess.Popen(
                [_dask(), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-dashboard", "--name", f"w{i}"],
                stderr=open(tmp_path / f"worker{i}.log", "wb"), **common))
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                    break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    logs = "\n".join(p.read_text()[-800:] for p in tmp_path.glob("*.log"))
                    pytest.fail(f"the Dask cluster did not come up:\n{logs}")
                time.sleep(0.5)
        yield address
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_cli_sweep_through_a_real_scheduler(scheduler_and_two_workers: str,
                                            tmp_path: Path) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text("analysis: sweep\nchunk_size: 2\nvary:\n"
                    "  budget: [\"$20B\", \"$80B\"]\n  spread_weight: [0, 1]\n")
    out = tmp_path / "remote"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out),
                                   "--scheduler", scheduler_and_two_workers])
    assert res.exit_code == 0, res.output
    assert f"Dask scheduler at {scheduler_and_two_workers}" in res.output
    remote = pd.read_csv(out / "runs.csv")
    assert len(remote) == 4 and remote["status"].eq("ok").all()
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "serial"),
                                   "--scheduler", "serial"])
    assert res.exit_code == 0, res.output
    serial = pd.read_csv(tmp_path / "serial" / "runs.csv")
    pd.testing.assert_frame_equal(serial[COMPARED], remote[COMPARED])


def test_unreachable_scheduler_is_one_clear_message(tmp_path: Path) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text("analysis: sweep\nvary:\n  budget: [\"$20B\"]\n")
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "o"),
                                   "--scheduler", f"tcp://127.0.0.1:{_free_port()}"])
    assert res.exit_code == 2
    assert "cannot reach the Dask scheduler" in res.output
    assert "Traceback" not in res.output
