"""A consensus or a robust plan in words: what each stakeholder gives up, the
out-of-sample verdict, the terminal reports, and the result's files with those
sentences in them (consensus.json's ``gives_up``, robust.json's ``comparison``).

The numbers are the results' exact tables (``analysis.consensus.result``); this module
only phrases them.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.analysis.bootstrap import interval_text
from optimizer.analysis.consensus.result import ConsensusResult, RobustResult
from optimizer.engine.scenario import usd


def gives_up(result: ConsensusResult) -> list[str]:
    """In words: what each stakeholder gives up under the consensus plan."""
    lines = []
    funding = {k: p.regions.set_index("name")["funding_usd"] for k, p in result.own_plans.items()}
    cons = result.plan.regions.set_index("name")["funding_usd"]
    table = result.summary_table()
    for k in result.names:
        row = table.loc[k]
        moved = (funding[k] - cons).sort_values(ascending=False)
        lost = [f"{name} ({usd(v)})" for name, v in moved.head(3).items() if v > 1e6]
        text = (f"{k}: reaches {row['share_of_attainable_gain']:.1%} of its attainable gain "
                f"(S {row['baseline_S']:.3f} -> {row['consensus_S']:.3f}; its own plan "
                f"reaches {row['own_optimum_S']:.3f}), giving up "
                f"{max(row['gives_up_points'], 0.0):.3f} points")
        if lost:
            text += "; its own plan would put more into " + ", ".join(lost)
        lines.append(text + ".")
    return lines


def consensus_text(result: ConsensusResult) -> str:
    """A consensus as a plain-text report for the terminal."""
    table = result.achievement.copy()
    lines = [f"Consensus of {len(result.names)} stakeholders "
             f"({result.plan.scenario.spread_measure} spread): every stakeholder reaches at "
             f"least t = {result.t:.1%} of its attainable gain", "",
             "Share of attainable gain (rows: stakeholder; columns: whose plan)",
             table.map(lambda v: f"{v:7.1%}").to_string(), ""]
    lines += gives_up(result)
    return "\n".join(lines)


def comparison(result: RobustResult) -> str:
    """The robust plan's out-of-sample verdict in words, with how sure it is."""
    s = result.stats
    rob, dflt = s.loc["out_of_sample", "robust"], s.loc["out_of_sample", "default"]
    diff = rob["cvar"] - dflt["cvar"]
    verdict = ("at least as good as" if diff >= -1e-9 else "worse than")
    text = (f"On {len(result.fresh_samples):,} fresh samples the robust plan's CVaR at "
            f"{result.alpha:.0%} of S is {rob['cvar']:.4f} against the default plan's "
            f"{dflt['cvar']:.4f} ({diff:+.4f} points, {verdict} it); mean "
            f"{rob['mean']:.4f} vs {dflt['mean']:.4f}, worst {rob['worst']:.4f} vs "
            f"{dflt['worst']:.4f}.")
    boot = result.difference()
    if boot is None:
        return text
    return (f"{text} Robust minus default, resampling the fresh samples "
            f"({boot['resamples']:,} paired bootstrap draws): CVaR "
            f"{interval_text(boot['cvar'], boot['level'])}, mean "
            f"{interval_text(boot['mean'], boot['level'])}.")


def core_summary(result: RobustResult) -> list[str]:
    """Per plan (robust, default), how much of its money sits in core regions (funded in
    every fresh sample's own optimum); empty without a core index."""
    if result.core is None:
        return []
    lines = []
    core = result.core
    for label in ("robust", "default"):
        funded = core[core[f"{label}_funding_usd"] >= result.info["threshold_usd"]]
        money = funded[f"{label}_funding_usd"]
        core_money = money[funded["core_index"] >= 1.0].sum() / max(money.sum(), 1e-9)
        lines.append(f"{label} plan: funds {len(funded)} regions, "
                     f"{(funded['core_index'] >= 1).sum()} of them core (funded in "
                     f"every fresh sample's own optimum), {core_money:.1%} of its money "
                     f"there; mean core index of its money "
                     f"{(money * funded['core_index']).sum() / max(money.sum(), 1e-9):.2f}")
    return lines


def robust_text(result: RobustResult) -> str:
    """A robust plan as a plain-text report for the terminal."""
    lines = [f"Robust plan ({result.objective}" + (f" at alpha = {result.alpha:g}" if
                                                   result.objective == "cvar" else "")
             + f") over {len(result.samples)} samples, {result.plan.scenario.spread_measure} "
             "spread", "", "Exact S over the samples (robust vs default plan):"]
    table = result.stats_frame()
    lines += [table.to_string(float_format=lambda v: f"{v:.4f}"), "", comparison(result)]
    lines += core_summary(result)
    return "\n".join(lines)


def write_consensus(result: ConsensusResult, out: str | Path) -> Path:
    """The consensus plan's files, consensus.json carrying ``gives_up``'s sentences."""
    return result.to_dir(out, gives_up(result))


def write_robust(result: RobustResult, out: str | Path) -> Path:
    """The robust plan's files, robust.json carrying ``comparison``'s verdict."""
    return result.to_dir(out, comparison(result))
