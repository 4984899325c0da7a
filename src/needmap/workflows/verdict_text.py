"""The one verdict of a trained target in words: the scorer it answers with and why (:mod:`needmap.workflows.
selection` chose it on the validation rows), then what the paired intervals on the test rows, or on new
labelled rows, say of it against every other model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from needmap.metrics.compare import VERDICT_METRICS
from needmap.workflows.selection import NETWORK, Choice


def _named(candidate: str, network_name: str) -> str:
    return f"the {network_name}" if candidate == NETWORK else candidate


def decision_sentence(choice: Choice, network_name: str, document: Mapping[str, Any]) -> str:
    """The one verdict of a trained target: the scorer it answers with and why (the validation rows), then how
    that choice did on the test rows (``document``: its evaluation document, the chosen scorer primary):
    against each other model, the paired interval of the AUC for a binary target, else the test
    figures; "no clear winner" when an interval holds zero."""
    shown = [f"{_named(k, network_name)} {v:.4f}" for k, v in choice.validation.items() if v is not None]
    sentence = f"Scores with {choice.label(network_name)}: {choice.reason}"
    if shown and choice.how == "auto":
        sentence += f" ({choice.on} {choice.metric}: {', '.join(shown)})"
    sentence += "."
    return f"{sentence} On the test rows: {_evidence(choice, document, 'the test rows')}"


def holds_up_sentence(choice: Choice, network_name: str, document: Mapping[str, Any], where: str) -> str:
    """How a saved choice holds up on new labelled rows (``where``, in words; ``document``: their evaluation
    document, the chosen scorer primary): the same evidence as :func:`decision_sentence` gives on the test
    rows, without choosing again."""
    return f"The saved choice, {choice.label(network_name)}, on {where}: {_evidence(choice, document, where)}"


def _evidence(choice: Choice, document: Mapping[str, Any], where: str) -> str:
    """The chosen scorer's figure on ``where`` beside each other model's: "AUC 0.8043; LightGBM 0.8012 (+0.0031
    [-0.0010, +0.0072]), ...: no clear winner on <where> (an interval holds zero)." A lifetime-value target is
    judged by its spend ranking, so it gets one such clause in normalized Gini and one in Spearman correlation."""
    models = document.get("models") or {}
    every = document.get("comparisons") or []
    if document.get("task") == "ltv":
        metrics = ["normalized_gini", "spearman"]
    else:
        metrics = ["auc" if any(c.get("metric") == "auc" for c in every) else choice.metric]
    clauses = [_interval_clause(every, str(metric), where) for metric in metrics]
    if any(clauses):
        return " ".join(c for c in clauses if c)
    primary = document.get("primary")
    key = choice.metric or ""
    own_value = ((models.get(primary) or {}).get("metrics") or {}).get(key)
    others = [
        f"{m} {v:.4f}"
        for m, doc in models.items()
        if m != primary and (v := (doc.get("metrics") or {}).get(key)) is not None
    ]
    if own_value is None:
        return f"the {key} is undefined."
    return f"{key} {own_value:.4f}" + (f"; {', '.join(others)}." if others else ".")


def _interval_clause(comparisons: list[Mapping[str, Any]], metric: str, where: str) -> str:
    """ "<metric> <own>; <each other model> <its figure> (<difference> [<interval>]): <what they say>." for the
    comparisons in ``metric`` that have an interval ("" when none has). When some other models did better beyond
    noise, the strongest of them is named; the models the chosen scorer beat beyond noise are named in any case."""
    shown = [c for c in comparisons if c.get("metric") == metric and c.get("low") is not None]
    if not shown:
        return ""
    name, higher_better = VERDICT_METRICS.get(metric, (metric, True))
    parts = [f"{c['baseline']} {c['other']:.4f} ({c['difference']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}])"
             for c in shown]  # fmt: skip
    # each interval as a gain (own over other, positive when the chosen scorer is better), whatever the metric's sense
    gains = [(c["low"], c["high"]) if higher_better else (-c["high"], -c["low"]) for c in shown]
    worse = [c for c, (_, high) in zip(shown, gains, strict=True) if high < 0]
    beaten = [c["baseline"] for c, (low, _) in zip(shown, gains, strict=True) if low > 0]
    if worse:
        strongest = (max if higher_better else min)(worse, key=lambda c: c["other"])
        end = f"{strongest['baseline']} did better on {where}" + (f"; better than {_and(beaten)}" if beaten else "")
    elif len(beaten) == len(shown):
        end = f"better than each on {where}"
    elif beaten:
        ties = [c["baseline"] for c in shown if c["baseline"] not in beaten]
        end = f"better than {_and(beaten)} on {where}; no clear winner against {_and(ties)} (an interval holds zero)"
    else:
        end = f"no clear winner on {where} (an interval holds zero)"
    return f"{name} {shown[0]['deep']:.4f}; {', '.join(parts)}: {end}."


def _and(names: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
