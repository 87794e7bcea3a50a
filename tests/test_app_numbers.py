"""The workbench's allocation table formats its amounts (the numbers stay numbers so
the table sorts): what the page sends the grid, read with Streamlit's AppTest."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from optimizer.report import text as tx

APP = Path(__file__).resolve().parents[1] / "app.py"


def test_every_money_column_of_the_allocation_table_has_separators_and_a_unit() -> None:
    """Before, the money columns were '$%.1f' ('$8338.1' under a '($M)' header); now each
    is '$%,.1fM' ('$8,338.1M', as test_browser_numbers' screenshot shows it drawn)."""
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    at.session_state["tab"] = "Allocation"
    at.run()
    assert not at.exception
    config = json.loads(at.dataframe[0].proto.columns)
    money = ["Funding", "Research grants", "Talent and training", "Compute and infrastructure",
             "Venture co-investment"]
    for column in money:
        assert config[column]["type_config"]["format"] == tx.TABLE_MILLIONS == "$%,.1fM", column
    assert config["Per person"]["type_config"]["format"] == "$%,.0f"
    table = at.dataframe[0].value
    assert table["Funding"].dtype.kind == "f"  # numbers: the column sorts by amount
