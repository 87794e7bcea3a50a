"""What every command shares: options, user-error handling, safe output.

Exit codes: 0 success, 1 infeasible scenario / solver failure / plan that fails its
check, 2 invalid input. User errors print one clear message, never a traceback.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from optimizer.engine.errors import DataError, PlaceFundError

RegionsOpt = Annotated[
    str,
    typer.Option("--regions", metavar="SET|CSV",
                 help="Shipped region set (states, metros, counties) or a CSV path."),
]
ScenarioOpt = Annotated[
    Path | None,
    typer.Option("--scenario", metavar="FILE",
                 help="Scenario YAML; omitted keys take the region set's documented default."),
]
GeometryOpt = Annotated[
    Path | None,
    typer.Option("--geometry", metavar="FILE", help="GeoJSON keyed by region_id, for a CSV's maps."),
]


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn PlaceFund's user errors into a message on stderr and their exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlaceFundError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None
        except OSError as err:  # a file or folder the user named cannot be read or written
            where = f"{err.filename}: " if err.filename else ""
            typer.echo(f"error: {where}{err.strerror or err}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _first_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_out_dir(out: Path) -> None:
    """Refuse, before any work, an ``--out`` that cannot hold a plan or would lose files.

    It must be a new folder (its parents are created), an empty folder or an earlier
    plan's folder (whose files the new plan replaces once it is solved); never a file,
    a folder of other files, or a place that cannot be created or written.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is an existing file, not a folder; name a folder for "
                        "the plan files (nothing was written)")
    if out.is_dir():
        if any(out.iterdir()) and not (out / "metrics.json").is_file():
            raise DataError(f"--out {out} is a folder of other files, not a plan; name a new "
                            "or empty folder, or an earlier plan's folder to replace it "
                            "(nothing was written)")
    # the new folder is written beside ``out`` and swapped in: its parent must be writable
    base = _first_existing(out.absolute().parent)
    if not base.is_dir():
        raise DataError(f"--out {out} cannot be created: {base} is a file, not a folder "
                        "(nothing was written)")
    if not os.access(base, os.W_OK | os.X_OK):
        raise DataError(f"--out {out} cannot be written: no permission to write in {base} "
                        "(nothing was written)")


def check_analysis_dir(out: Path, kind: str) -> None:
    """Refuse, before any run, an analysis ``--out`` that would overwrite other files.

    As for a plan: a new folder, an empty one, or an earlier analysis of the same kind
    (its summary.json says which, or its unfinished runs are kept in ``partial/``, to
    resume); never a file or a folder of other files.
    """
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is an existing file, not a folder; name a folder for "
                        "the analysis files (nothing was run)")
    if not out.is_dir() or not any(out.iterdir()):
        return
    summary = out / "summary.json"
    earlier = None
    if summary.is_file():
        try:
            earlier = json.loads(summary.read_bytes()[:1_000_000]).get("analysis")
        except (ValueError, AttributeError):
            earlier = None
    elif (out / "partial" / "manifest.json").is_file():
        earlier = kind  # an interrupted run of this command: resumed
    if earlier != kind:
        what = f"an earlier {earlier} analysis" if isinstance(earlier, str) else "a folder of other files"
        raise DataError(f"--out {out} is {what}, not an earlier {kind}; name a new or empty "
                        f"folder, or an earlier {kind}'s folder to replace it (nothing was run)")


def check_out_file(target: Path) -> None:
    """Refuse an output file path that is a folder or whose folder cannot be created."""
    if target.is_dir():
        raise DataError(f"--out {target} is a folder; name a file, e.g. {target / 'plan.xlsx'}")
    base = _first_existing(target.parent)
    if not base.is_dir():
        raise DataError(f"--out {target} cannot be created: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise DataError(f"--out {target} cannot be written: no permission to write in {base}")


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` whole or not at all (an existing file stays intact)."""
    check_out_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(staging, 0o666 & ~current_umask())  # a new file's usual mode, not mkstemp's 0600
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
