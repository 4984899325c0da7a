"""What ``needmap train`` and ``needmap tune`` print of a training run."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from needmap.cli.base import console, labelled, out_console


def print_outcome(outcome: Any, started: float) -> None:
    """The held-out metrics, baselines, cross-validation, training summary and verdict of a run."""
    from needmap.display import cv_table, metrics_table

    metrics = outcome.metrics
    task = outcome.schema.task
    for note in outcome.notes:
        console.print(labelled("note:", "yellow", note))
    network = f"{outcome.model.model} network"
    columns = {f"validation ({network})": metrics.get("validation")}
    if metrics.get("network_test"):  # another scorer was chosen: its column first, the network's beside it
        columns[f"test ({scorer_label(metrics.get('selection'), network)})"] = metrics.get("test")
        columns[f"test ({network})"] = metrics["network_test"]
    else:
        columns[f"test ({network})"] = metrics.get("test")
    baselines = metrics.get("baselines") or {metrics.get("baseline", "baseline"): metrics.get("baseline_test")}
    columns.update({f"test ({name})": values for name, values in baselines.items()})
    out_console.print(metrics_table(task, columns, title="Held-out metrics"))
    cut_off = cut_off_line(outcome.model.extras_.get("evaluation.json"))
    if cut_off is not None:
        out_console.print(cut_off, soft_wrap=True, markup=False, highlight=False)
    if metrics.get("cv"):
        cv = metrics["cv"]
        out_console.print(cv_table(cv, title=f"{cv['k']}-fold cross-validation of the training part ({cv['metric']})"))
        if not metrics.get("selection"):  # else the one verdict below states the choice made on these folds
            out_console.print(labelled("cross-validation verdict:", "bold", cv["verdict"]))
    training = metrics.get("training", {})
    out_console.print(
        f"trained {training.get('epochs_run')} epochs (best {training.get('best_epoch')}, stopped by "
        f"{training.get('stopped_reason')}) in {training.get('wall_time_s', 0):.1f} s, "
        f"{training.get('rows_per_s', 0):,.0f} training rows/s; whole run {time.perf_counter() - started:.1f} s"
    )
    if metrics.get("verdict"):
        out_console.print(labelled("verdict:", "bold", metrics["verdict"]))


def scorer_label(selection: Any, network: str) -> str:
    """The chosen scorer in a column header: "LightGBM", "blend", "mlp network"; "chosen" for several targets
    that chose differently."""
    choices = [selection] if isinstance(selection, dict) and "scorer" in selection else list((selection or {}).values())
    names = {network if c.get("scorer") == "network" else str(c.get("scorer")) for c in choices}
    return names.pop() if len(names) == 1 else "chosen"


def cut_off_line(document: Any) -> str | None:
    """The cut-off the run recommends, beside the fixed one of accuracy, precision and recall.

    A fixed cut-off of 0.5 flags almost no row of a rare target (precision and recall then read 0 although
    the ranking is good); the cut-off worth using is the one of the most profitable share of the test rows
    to contact, at the run's contact cost and conversion value (the profit curve of ``evaluation.json``).
    None for a document of another task or of several targets."""
    if not isinstance(document, Mapping) or document.get("task") != "binary":
        return None
    model = (document.get("models") or {}).get(document.get("primary")) or {}
    best = (model.get("profit") or {}).get("best") or {}
    fixed = (model.get("metrics") or {}).get("threshold", 0.5)
    settings = document.get("profit_settings") or {}
    cost, value = settings.get("contact_cost", 1.0), settings.get("conversion_value", 10.0)
    economics = f"contact cost {cost:g}, conversion value {value:g}"
    said = f"accuracy, precision and recall are read at a score cut-off of {fixed:g}; "
    if best.get("threshold") is None:
        return said + f"on the test rows no cut-off makes a profit ({economics})."
    return said + (
        f"the most profitable on the test rows ({economics}) is {best['threshold']:.4f}: contact the top "
        f"{best['share']:.1%} ({best['contacted']:,} rows, {best['conversions']:,} conversions, profit "
        f"{best['profit']:,.0f}; --contact-cost and --conversion-value set the economics)."
    )
