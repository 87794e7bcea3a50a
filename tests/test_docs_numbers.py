"""The numbers the docs quote are the product's: scripts/docs_numbers.py recomputes each
generated block from a run and this test fails when a doc no longer matches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_generated_block_of_the_docs_matches_a_fresh_run() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "docs_numbers.py"), "--check"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout


def test_the_robust_plan_block_is_generated_and_has_no_hand_written_figures() -> None:
    text = (ROOT / "docs" / "consensus.md").read_text(encoding="utf-8")
    start = text.index("<!-- generated: robust-plan -->")
    end = text.index("<!-- end generated: robust-plan -->")
    assert start < end
    outside = text[:start] + text[end:]
    for stale in ("112.151", "104.589", "102.316", "0.26 points"):  # the numbers that drifted
        assert stale not in text
    assert "interval" in text[start:end] and "5,000 fresh draws" in text[start:end]
    assert "Out of sample, on" not in outside  # the comparison lives in the block only
