"""The article's concentration facts, measured (optimizer.analysis.facts and `placefund facts`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.analysis import facts
from optimizer.cli import app
from optimizer.engine.data import DATA_DIR
from tests.factories import make_regions


def test_gini_and_top_share_by_hand() -> None:
    assert facts.gini(np.array([5.0, 5.0, 5.0])) == pytest.approx(0.0)
    # one of four holds everything: (n - 1) / n
    assert facts.gini(np.array([0.0, 0.0, 0.0, 8.0])) == pytest.approx(0.75)
    # 1, 2, 3, 4: sum_i sum_j |xi - xj| / (2 n^2 mean) = 20 / (2 * 16 * 2.5) = 0.25
    assert facts.gini(np.array([4.0, 1.0, 3.0, 2.0])) == pytest.approx(0.25)
    assert facts.top_share(np.array([1.0, 2.0, 3.0, 4.0]), k=2) == pytest.approx(0.7)


def test_concentration_counts_empty_cells_as_zero_and_says_so() -> None:
    regions = make_regions("""
region_id,name,population,jobs
a,A,100,6
b,B,100,3
c,C,100,1
d,D,100,
""")
    table = facts.concentration(regions, k=1).set_index("column")
    row = table.loc["jobs"]
    assert row["top1_share"] == pytest.approx(0.6)
    assert row["empty_cells"] == 1 and row["total"] == 10
    assert row["gini"] == pytest.approx(facts.gini(np.array([6.0, 3.0, 1.0, 0.0])))
    assert row["largest"] == "A; B; C"
    assert row["basis"] == "user data"


@pytest.fixture(scope="module")
def metros() -> pf.Regions:
    return pf.load_regions("metros")


def test_metro_concentration_matches_an_independent_count(metros: pf.Regions) -> None:
    table = facts.concentration(metros).set_index("column")
    # every measured indicator, none apportioned
    assert "oews_software_developers" in table.index and "herd_cs_musd" in table.index
    assert not any(c.endswith("_apportioned") for c in table.index)
    raw = pd.read_csv(DATA_DIR / "metros.csv", dtype={"region_id": str})
    for column in ("oews_software_developers", "herd_cs_musd", "utility_patents_2000_2015"):
        x = raw[column].fillna(0)
        assert table.at[column, "top10_share"] == pytest.approx(x.nlargest(10).sum() / x.sum())
        assert table.at[column, "empty_cells"] == raw[column].isna().sum()
        assert 0 < table.at[column, "gini"] < 1
    assert table.at["oews_software_developers", "label"] == "Software developers"


def test_article_statements_stand_beside_our_measures(metros: pf.Regions) -> None:
    rows = facts.article_comparison(metros)
    by_statement = {}
    for c in rows:
        by_statement.setdefault(c.statement, []).append(c)
        assert c.how_ours_differs  # every row says how our measure differs
    assert {c.article_share for c in rows} >= {0.70, 0.79, 0.59, 35 / 43}
    biochem = by_statement["The top-10 metros hold 59% of biochemistry inventors"][0]
    assert biochem.our_share is None and "not measured" in biochem.how_ours_differs
    semis = by_statement["The top-10 metros hold 79% of semiconductor inventors"][0]
    raw = pd.read_csv(DATA_DIR / "metros.csv", dtype={"region_id": str})
    x = raw["cbp_semiconductors"].fillna(0)
    assert semis.our_share == pytest.approx(x.nlargest(10).sum() / x.sum())
    assert "not inventors" in semis.how_ours_differs
    forbes = {c.column: c.our_share for c in by_statement[facts.FORBES[0]]}
    ca = raw["postal"] == "CA"
    y = raw["oews_software_developers"].fillna(0)
    assert forbes["oews_software_developers"] == pytest.approx(y[ca].sum() / y.sum())


def test_facts_command_prints_the_table_and_the_comparison() -> None:
    result = CliRunner().invoke(app, ["facts"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "387 metros" in out and "Software developers" in out and "Gini" in out
    assert "70% of computer-science inventors" in out and "differs:" in out
    assert "79%" in out and "59%" in out and "Forbes AI 50" in out
    assert CliRunner().invoke(app, ["facts", "--regions", "counties"]).exit_code == 0
    bad = CliRunner().invoke(app, ["facts", "--regions", "no/such.csv"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_filled_sentence_names_columns_counts_and_policies() -> None:
    sc = pf.scenario_from_dict({"missing_values": {"default": "error",
                                                   "oews_software_developers": "zero"}})
    text = facts.filled_sentence({"oews_software_developers": 7, "x": 0}, sc)
    assert text is not None and "Software developers: 7 cells filled as zero" in text
    assert "X" not in text and "missing_values" not in text  # words, not scenario keys
    assert facts.filled_sentence({}, sc) is None


def test_display_tables_show_shares_as_percentages(metros: pf.Regions) -> None:
    conc, comp = facts.display_tables(metros)
    assert list(conc["indicator"])[:2] == ["Jobs, all occupations", "Computer and math jobs"]
    assert conc["top-10 share"].str.endswith("%").all()
    assert "59%" in set(comp["article"]) and "–" in set(comp["ours"])  # biochemistry: not measured
