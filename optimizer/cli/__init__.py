"""The ``placefund`` command line: one module per command group, registered here.

``plan`` (solve, check, facts), ``explain``, ``export``, ``sensitivity`` (sweep, robust, pareto,
tornado, sobol, ranging) and ``consensus`` (consensus, robust-plan) each list their
commands in ``COMMANDS``; this package wraps each in the shared user-error handling
and adds it to one app, so no command module imports another's.
"""

from __future__ import annotations

import typer

from optimizer.cli import consensus, explain, export, plan, sensitivity
from optimizer.cli._common import user_errors

app = typer.Typer(
    name="placefund",
    help="Allocate a place-based funding budget across regions (see README.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: no '<bool>' type column, PLAN_DIR not {plan_dir}
)
for _module in (plan, explain, export, sensitivity, consensus):
    for _command, _name in _module.COMMANDS:
        app.command(name=_name)(user_errors(_command))


def main() -> None:  # pragma: no cover - console entry point
    app()
