"""Where PlaceFund keeps a user's files: $PLACEFUND_HOME, or ~/.placefund."""

from __future__ import annotations

import os
from pathlib import Path


def home_dir() -> Path:
    """The user's PlaceFund folder (saved plans, solver warm starts)."""
    env = os.environ.get("PLACEFUND_HOME")
    return Path(env).expanduser() if env else Path.home() / ".placefund"
