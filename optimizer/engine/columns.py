"""The column registry: what every shipped column is, in words a reader can use.

One entry per column of ``data/states.csv``, ``metros.csv`` and ``counties.csv``: a
human label, the unit, the kind (``indicator``: a non-negative total that may carry a
capacity weight; ``group``: a text label to group by; ``identifier``; ``count``: a
count of things such as counties, never an indicator; ``flag``: true/false; ``rate``: a
percentage, not additive, never an indicator) and the basis (``measured`` locally,
``derived`` from measured figures by a stated rule, or ``apportioned``: a figure of a
larger area shared out by population). The app, the brief and the exports take labels
from here; ``data.py`` asks it which numeric columns are indicators. Columns of a
user's own CSV are not in the registry: they are indicators, labelled by their name.
The sources are in ``data/SOURCES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["indicator", "group", "identifier", "count", "flag", "rate"]
Basis = Literal["measured", "derived", "apportioned"]


@dataclass(frozen=True)
class Column:
    """One column: label, unit, kind, basis and a one-line description with its source."""

    label: str
    unit: str
    kind: Kind
    basis: Basis
    about: str

    @property
    def is_indicator(self) -> bool:
        return self.kind == "indicator"


def _i(label: str, unit: str, about: str, basis: Basis = "measured") -> Column:
    return Column(label, unit, "indicator", basis, about)


OEWS = "BLS OEWS, May 2025 (jobs; empty where BLS does not publish)"
HERD = "NCSES HERD FY2023 table 71, summed over the institutions located there"
CBP = ("Census County Business Patterns 2019, mid-March employees; joined from the 2017 areas "
       "by county overlap, a split area shared out by population (flag: CBP figures apportioned)")

STATE_INDICATORS: dict[str, Column] = {
    "ai_job_postings": _i("AI job postings", "postings", "Online job postings asking for AI "
                          "skills, Oct 2016-Sep 2021 (NCSES SKTI-23, Lightcast)."),
    "ai_vc_musd": _i("AI venture funding", "$ millions", "Venture capital invested in AI "
                     "firms, 2010-2020 (NCSES SKTI-22, PitchBook)."),
    "vc_funded_firms": _i("VC-funded firms", "firms", "Firms receiving venture capital, 2022 "
                          "(NCSES SINV-32)."),
    "business_rd_musd": _i("Business R&D", "$ millions", "R&D performed by businesses, 2022 "
                           "(NCSES BERD table 5)."),
    "university_se_rd_musd": _i("University S&E R&D", "$ millions", "Science and engineering "
                                "R&D at universities, FY2023 (NCSES HERD table 82)."),
    "cs_doctorates": _i("CS doctorates", "doctorates", "Computer science research doctorates, "
                        "2023 (NCSES SED 7-10)."),
    "se_doctorates": _i("S&E doctorates", "doctorates", "Science and engineering research "
                        "doctorates, 2023 (NCSES SED 7-10)."),
    "kti_value_added_musd": _i("Knowledge/tech industry output", "$ millions", "Value added of "
                               "knowledge- and technology-intensive industries, 2021 (NCSES KTI-A, BEA)."),
    "gdp_musd": _i("GDP", "$ millions", "Gross domestic product, 2021 (BEA via NCSES KTI-A)."),
}

LOCAL: dict[str, Column] = {
    "oews_all_occupations": _i("Jobs, all occupations", "jobs", f"All wage and salary jobs. {OEWS}."),
    "oews_computer_math": _i("Computer and math jobs", "jobs",
                             f"Computer and mathematical occupations (SOC 15-0000). {OEWS}."),
    "oews_cs_research_scientists": _i("AI/CS research scientists", "jobs", "Computer and "
                                      f"information research scientists (SOC 15-1221). {OEWS}."),
    "oews_data_scientists": _i("Data scientists", "jobs", f"Data scientists (SOC 15-2051). {OEWS}."),
    "oews_software_developers": _i("Software developers", "jobs",
                                   f"Software developers (SOC 15-1252). {OEWS}."),
    "oews_hardware_engineers": _i("Computer hardware engineers", "jobs",
                                  f"Computer hardware engineers (SOC 17-2061). {OEWS}."),
    "oews_systems_analysts": _i("Computer systems analysts", "jobs",
                                f"Computer systems analysts (SOC 15-1211). {OEWS}."),
    "oews_statisticians": _i("Statisticians", "jobs", f"Statisticians (SOC 15-2041). {OEWS}."),
    "herd_all_fields_musd": _i("University R&D, all fields", "$ millions", f"{HERD}; 0 = no "
                               "institution of the HERD population (R&D of $1M or more) there."),
    "herd_cs_musd": _i("University computer science R&D", "$ millions",
                       f"Computer and information sciences. {HERD}; 0 = none there."),
    "herd_engineering_musd": _i("University engineering R&D", "$ millions",
                                f"Engineering. {HERD}; 0 = none there."),
    "herd_math_stats_musd": _i("University math and statistics R&D", "$ millions",
                               f"Mathematics and statistics. {HERD}; 0 = none there."),
    "herd_ai_fields_musd": _i("University AI-field R&D (CS + engineering + math)", "$ millions",
                              f"Sum of the three fields where AI R&D is reported. {HERD}."),
    "cbp_all_industries": _i("Employees, all industries", "employees", f"{CBP}."),
    "cbp_computer_systems_design": _i("Computer systems design employees", "employees",
                                      f"NAICS 5415. {CBP}."),
    "cbp_data_processing": _i("Data processing and hosting employees", "employees",
                              f"NAICS 5182 (data centers, hosting). {CBP}."),
    "cbp_scientific_rd": _i("Scientific R&D services employees", "employees", f"NAICS 5417. {CBP}."),
    "cbp_software_publishers": _i("Software publishers' employees", "employees", f"NAICS 5112. {CBP}."),
    "cbp_semiconductors": _i("Semiconductor and electronic components employees", "employees",
                             f"NAICS 3344. {CBP}."),
    "cbp_join": Column("CBP 2019 join rule", "text", "identifier", "derived",
                       "How the metro got its CBP 2019 figures from the 2017 areas: same code, "
                       "renamed, county overlap (apportioned or not), Connecticut planning regions."),
    "cbp_area_split": Column("CBP figures apportioned", "true/false", "flag", "derived",
                              "True where a 2017 CBP area was shared out by the 2022 population "
                              "of its counties in the metro."),
    "cbp_coverage_pct": Column("Residents covered by CBP 2019 areas", "% of residents", "rate",
                               "derived", "Share of the metro's 2022 residents in counties that "
                               "a CBP 2019 area holds; the rest adds nothing to the CBP columns."),
    "utility_patents_2000_2015": _i("Utility patents 2000-2015", "patents", "USPTO utility patent "
                                    "grants by inventor county, all technologies, 2000-2015."),
    "ba_plus_residents": _i("Residents with a bachelor's degree (est.)", "persons",
                            "County population 2022 x the ACS 2014-18 share of adults 25+ with a "
                            "bachelor's or higher degree (S1501).", basis="derived"),
    "ba_plus_share_pct": Column("Adults with a bachelor's degree or higher", "% of adults 25+",
                                "rate", "measured", "ACS 2014-18 5-year, table S1501."),
    "population": Column("Population", "persons", "count", "measured",
                         "Census Bureau population estimates, July 1 2022."),
    "small_rural": Column("Small metro (under 250,000 residents)", "true/false", "flag",
                          "derived", "Population 2022 below 250,000 (a stated assumption)."),
    "n_counties": Column("Number of counties", "counties", "count", "derived",
                         "How many counties a region covers; a count, not capacity."),
    "region_id": Column("Code", "code", "identifier", "measured", "FIPS or CBSA code."),
    "name": Column("Name", "text", "identifier", "measured", "Region name."),
    "postal": Column("State", "code", "group", "measured", "USPS state code (primary state)."),
    "state_fips": Column("State FIPS", "code", "identifier", "measured", "State FIPS code."),
    "states": Column("States", "codes", "group", "measured", "All states of a metro."),
    "census_region": Column("Census region", "text", "group", "measured", "Census region."),
    "census_division": Column("Census division", "text", "group", "measured", "Census division."),
    "cbsa_code": Column("CBSA code", "code", "identifier", "measured", "OMB 2023 CBSA of a county."),
    "cbsa_type": Column("CBSA type", "text", "group", "measured", "metro, micro or nonmetro (OMB 2023)."),
}

_SUMMED = ("summed to states from metro and nonmetropolitan areas, a multi-state metro shared out "
           "by its counties' 2022 population; suppressed cells add nothing (undercount)")
_CBP_SUMMED = ("CBP 2019 metro and micro areas summed to states, a multi-state area shared out by "
               "its counties' 2022 population; counties outside every CBSA (5.4% of residents) and "
               "withheld cells add nothing (undercount)")
# state columns of the same names as metro columns, derived from the area tables
STATE_DERIVED: dict[str, Column] = {
    "oews_computer_math": _i("Computer and math jobs", "jobs", "SOC 15-0000, BLS OEWS May 2025, "
                             f"{_SUMMED}.", basis="derived"),
    "oews_software_developers": _i("Software developers", "jobs", "SOC 15-1252, BLS OEWS May "
                                   f"2025, {_SUMMED}.", basis="derived"),
    "oews_data_scientists": _i("Data scientists", "jobs", "SOC 15-2051, BLS OEWS May 2025, "
                               f"{_SUMMED}.", basis="derived"),
    "oews_cs_research_scientists": _i("AI/CS research scientists", "jobs", "SOC 15-1221, BLS "
                                      f"OEWS May 2025, {_SUMMED}.", basis="derived"),
    "cbp_data_processing": _i("Data processing and hosting employees", "employees",
                              f"NAICS 5182, {_CBP_SUMMED}.", basis="derived"),
    "cbp_semiconductors": _i("Semiconductor and electronic components employees", "employees",
                             f"NAICS 3344, {_CBP_SUMMED}.", basis="derived"),
    "cbp_computer_systems_design": _i("Computer systems design employees", "employees",
                                      f"NAICS 5415, {_CBP_SUMMED}.", basis="derived"),
    "cbp_software_publishers": _i("Software publishers' employees", "employees",
                                  f"NAICS 5112, {_CBP_SUMMED}.", basis="derived"),
}

STATE_APPORTIONED = "_apportioned"
METRO_APPORTIONED = "_metro_apportioned"


def column(name: str, region_set: str | None = None) -> Column | None:
    """The registry entry of a column, or None for a column of a user's own data.

    A few state columns share their names with the metro columns they are summed from:
    ``region_set="states"`` gives their state entry (basis ``derived``); without it, the
    metro entry."""
    if region_set == "states" and name in STATE_DERIVED:
        return STATE_DERIVED[name]
    if name in LOCAL:
        return LOCAL[name]
    if name in STATE_INDICATORS:
        return STATE_INDICATORS[name]
    if name.endswith(METRO_APPORTIONED) and name.removesuffix(METRO_APPORTIONED) in LOCAL:
        base = LOCAL[name.removesuffix(METRO_APPORTIONED)]
        return Column(f"{base.label} (metro figure apportioned)", base.unit, "indicator",
                      "apportioned", f"The county's metro figure x its share of the metro's "
                      f"population; empty outside metros. {base.about}")
    if name.endswith(STATE_APPORTIONED) and name.removesuffix(STATE_APPORTIONED) in STATE_INDICATORS:
        base = STATE_INDICATORS[name.removesuffix(STATE_APPORTIONED)]
        return Column(f"{base.label} (state figure apportioned)", base.unit, "indicator",
                      "apportioned", f"The state figure x the region's share of the state's "
                      f"population: says nothing local. {base.about}")
    return None


def is_indicator(name: str) -> bool:
    """May this numeric column carry a capacity weight? (Unknown columns: yes.)"""
    entry = column(name)
    return entry is None or entry.is_indicator


def basis(name: str, region_set: str | None = None) -> str:
    """measured, derived or apportioned; 'user data' for a column outside the registry."""
    entry = column(name, region_set)
    return entry.basis if entry else "user data"


def label(name: str) -> str:
    """The human label of a column (its name for a user's own column)."""
    entry = column(name)
    return entry.label if entry else name.replace("_", " ").capitalize()


def unit(name: str) -> str:
    """A column's unit ('jobs', '$ millions'); 'units' for a user's own column."""
    entry = column(name)
    return entry.unit if entry else "units"


def label_with_unit(name: str) -> str:
    """'Software developers (jobs)'; a text or code column by its label alone."""
    entry = column(name)
    if entry is None or entry.unit in ("text", "code", "codes"):
        return label(name)
    return f"{entry.label} ({entry.unit})"


def describe(name: str, region_set: str | None = None) -> tuple[str, str]:
    """A label and a tooltip (what, unit, basis, source) for a column."""
    entry = column(name, region_set)
    if entry is None:
        return label(name), f"Column '{name}' of the regions table."
    return entry.label, f"{entry.about} Unit: {entry.unit}; {entry.basis}."


# --------------------------------------------------------------------------- instruments and metrics


@dataclass(frozen=True)
class Measure:
    """An instrument or a metric: label, unit, how its values are formatted, what it is.

    ``kind`` names a format of ``formatting.value`` (usd, share, points, index, number).
    """

    label: str
    unit: str
    kind: str
    about: str


INSTRUMENTS: dict[str, Measure] = {
    "research": Measure("Research grants", "USD", "usd", "Grants for university and public "
                        "research; absorbed where academic R&D and S&E doctorates are."),
    "talent": Measure("Talent and training", "USD", "usd", "Fellowships, training and hiring "
                      "support; absorbed where CS doctorates and AI job postings are."),
    "compute": Measure("Compute and infrastructure", "USD", "usd", "Shared compute, data "
                       "centres and testbeds; absorbed where business R&D and tech industry are."),
    "venture": Measure("Venture co-investment", "USD", "usd", "Public co-investment in "
                       "startups; absorbed where venture funding and VC-backed firms are."),
}

METRICS: dict[str, Measure] = {
    "spread_adjusted_capacity": Measure("Spread-adjusted capacity S_λ", "points", "points",
                                        "What the plan maximizes: 100·μ·(1 − λ·Gini)."),
    "spread_adjusted_capacity_hoover": Measure(
        "Spread-adjusted capacity S_λ (Hoover)", "points", "points",
        "100·μ·(1 − λ·Hoover), the objective when the spread measure is Hoover."),
    "discounted_spread_adjusted": Measure(
        "Discounted S_λ over the years", "points", "points",
        "What a plan over time maximizes with objective_year: discounted: the sum over the "
        "years of each year's S_λ divided by (1 + discount rate) to the year."),
    "total_capacity": Measure("Total capacity", "points", "points",
                              "Capacity points summed over regions; the baseline total is 100."),
    "mean_capacity": Measure("Mean per-capita capacity μ", "× national baseline", "index",
                             "Population-weighted mean of per-capita capacity (baseline 1)."),
    "gini": Measure("Gini of per-capita capacity", "0 = equal, 1 = all in one place", "index",
                    "Population-weighted Gini index of per-capita capacity."),
    "hoover": Measure("Hoover index of per-capita capacity", "0 = equal, 1 = all in one place",
                      "index", "Share of capacity that would have to move to equalize it."),
    "top10_share": Measure("Top-{k} regions' share of capacity", "% of national capacity",
                           "share", "Share held by the {k} regions with the most capacity."),
    "baseline_top10_share": Measure("Share held by the baseline top {k}", "% of national capacity",
                                    "share", "Share kept by the {k} regions with the most "
                                    "baseline capacity."),
    "hhi": Measure("Herfindahl index of capacity shares", "0..1", "index",
                   "Sum of squared capacity shares: 1 = all in one region."),
    "theil": Measure("Theil index", "0 = equal", "index",
                     "Entropy measure of the inequality of per-capita capacity."),
    "cv": Measure("Coefficient of variation", "ratio", "index",
                  "Standard deviation of per-capita capacity over its mean."),
}


def instrument(name: str) -> Measure:
    """The registry entry of an instrument; a scenario's own instrument gets its name."""
    return INSTRUMENTS.get(name) or Measure(name.replace("_", " ").capitalize(), "USD", "usd",
                                            f"Instrument '{name}' of the scenario.")


def instrument_label(name: str) -> str:
    """'Research grants' for 'research'; a scenario's own instrument by its name."""
    return instrument(name).label


def metric(key: str, k: int = 10) -> Measure:
    """The registry entry of a metric, its top-k labels written for ``k`` regions."""
    entry = METRICS.get(key) or Measure(key.replace("_", " ").capitalize(), "", "number", key)
    label, about = entry.label.format(k=k), entry.about.format(k=k)
    if k == 1:
        label = label.replace("Top-1 regions'", "The largest region's").replace(
            "baseline top 1", "baseline's largest region")
        about = about.replace("the 1 regions", "the region")
    return Measure(label, entry.unit, entry.kind, about)


def metric_label(key: str, k: int = 10) -> str:
    """'Gini of per-capita capacity'; 'Top-3 regions' share of capacity' for k = 3."""
    return metric(key, k).label


# --------------------------------------------------------------------------- scenario settings

_SETTING_LABELS: dict[str, str] = {
    "budget": "Budget",
    "allow_unspent": "Unspent funds allowed",
    "spread_weight": "Spread weight λ",
    "spread_measure": "Spread measure",
    "complementarity": "Complementarity θ",
    "min_absorption": "Minimum absorptive intensity q_min",
    "region_floor_usd": "Floor for every region",
    "region_cap_usd": "Cap for every region",
    "region_floor_usd_per_capita": "Floor per person, every region",
    "region_cap_usd_per_capita": "Cap per person, every region",
    "max_region_share": "Largest share of the budget to one region",
    "exclusions.regions": "Excluded regions",
    "exclusions.top_k_incumbents": "Excluded: the top incumbents by baseline capacity",
    "top_k_share_cap.k": "Top-k share cap: k regions",
    "top_k_share_cap.max_share": "Top-k share cap: most they may hold",
    "top_k_share_cap": "Top-k share cap",
    "per_capita_floor": "Per-capita capacity floor (× national baseline)",
    "hubs": "Hub selection",
    "packs": "Constraint packs",
    "solver.time_limit_s": "Solver time limit (s)",
    "solver.threads": "Solver threads",
    "approximation.tangents": "Tangents per response curve",
    "approximation.max_error_share": "Largest approximation error allowed",
    "region_bounds": "Per-region floors and caps",
    "instrument_shares": "Instrument shares",
    "group_min_shares": "Group minimum shares",
    "missing_values": "Missing values",
    "periods.years": "Years of the plan",
    "periods.budget_by_year": "Appropriation by year",
    "periods.carryover": "Unspent money carried to later years",
    "growth.base_rate": "National growth rate per year",
    "growth.agglomeration_elasticity": "Agglomeration elasticity η of growth",
    "objective_year": "Objective year",
    "discount_rate": "Discount rate per year",
}
_INSTRUMENT_FIELDS = {"yields": "what $1B raises", "saturation_usd": "saturation scale",
                      "absorbs": "absorbed through"}


def setting_label(path: str) -> str:
    """A scenario key path ('weights.ai_vc_musd', 'instruments.venture.saturation_usd') in words."""
    if path in _SETTING_LABELS:
        return _SETTING_LABELS[path]
    head, _, rest = path.partition(".")
    if head == "weights":
        return f"Weight of {label(rest)}"
    if head == "instruments":
        name, _, field = rest.partition(".")
        if field.startswith("yields."):
            return f"{instrument_label(name)}: {label(field.removeprefix('yields.'))} per $1B"
        return f"{instrument_label(name)}: {_INSTRUMENT_FIELDS.get(field, field.replace('_', ' '))}"
    if head == "instrument_shares":
        name, _, bound = rest.partition(".")
        return f"{instrument_label(name)}: {'minimum' if bound == 'min' else 'maximum'} share of the budget"
    if head == "group_min_shares":
        column, _, group = rest.partition(".")
        return f"Minimum share of the budget for {group} ({label(column)})"
    if head == "region_bounds":
        region, _, bound = rest.partition(".")
        return f"{'Floor' if bound.startswith('floor') else 'Cap'} for {region}"
    if head == "exclusions" and rest.startswith("instruments."):
        return f"Instruments {rest.removeprefix('instruments.')} may not receive"
    if head == "missing_values":
        return f"Missing values of {label(rest)}" if rest != "default" else \
            "Missing values (default policy)"
    if head == "hubs":
        return "Hubs: " + rest.replace(".", " ").replace("_usd", "").replace("_", " ")
    return path.replace(".", ": ").replace("_", " ").capitalize()


# --------------------------------------------------------------------------- plan tables

PLAN_COLUMNS: dict[str, tuple[str, str]] = {  # column of a plan's tables -> (label, unit)
    "region_id": ("Region code", "code"),
    "name": ("Region", "text"),
    "instrument": ("Instrument", "text"),
    "amount_usd": ("Amount", "USD"),
    "population": ("Population", "persons"),
    "baseline_capacity": ("Capacity before", "points"),
    "capacity_gain": ("Capacity gain", "points"),
    "final_capacity": ("Capacity after", "points"),
    "capacity_per_capita_before": ("Per-capita capacity before", "× national average"),
    "capacity_per_capita_after": ("Per-capita capacity after", "× national average"),
    "capacity_share_before": ("Share of national capacity before", "share, 0..1"),
    "capacity_share_after": ("Share of national capacity after", "share, 0..1"),
    "funding_usd": ("Funding", "USD"),
    "funding_per_capita_usd": ("Funding per person", "USD per person"),
    "marginal_points_per_busd": ("Marginal return", "points per extra $1B"),
    "excluded": ("Excluded", "true/false"),
    "hub": ("Hub", "true/false"),
    # trajectory.csv (engine/growth): one row per region, year and measure, the measure's
    # unit in its own column
    "year": ("Year", "text"),
    "measure": ("Measure", "text"),
    "unit": ("Unit", "text"),
    "without_plan": ("Without the plan", "text"),
    "gain": ("Gain from the plan", "text"),
    "with_plan": ("With the plan", "text"),
    "capacity": ("Capacity", "points"),
    "capacity_per_capita": ("Per-capita capacity", "× today's national average"),
}


def plan_column_label(name: str) -> str:
    """A plan table's column as a header people read, with its unit: 'Funding (USD)',
    'Research grants funding (USD)'; data columns take their registry label."""
    if name in PLAN_COLUMNS:
        text, unit = PLAN_COLUMNS[name]
        return text if unit in ("text", "code") else f"{text} ({unit})"
    if name.startswith("funding_") and name.endswith("_usd"):
        return f"{instrument_label(name.removeprefix('funding_').removesuffix('_usd'))} funding (USD)"
    return label_with_unit(name)
