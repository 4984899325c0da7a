"""What ``needmap train --task recommend`` prints: the candidates side by side, the verdict, the saved model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from needmap.cli.base import console, labelled, out_console
from needmap.errors import ConfigError

#: The columns of the side-by-side table, in order, with their headers.
SHOWN = {
    "ndcg": "NDCG",
    "recall": "Recall",
    "hit_rate": "HR",
    "mrr": "MRR",
    "coverage": "cover.",
    "popularity_bias": "pop.",
}


def train_recommender_command(
    data: str, out: Path, model: str | None, options: dict[Any, dict[str, Any]], recommend: dict[str, Any],
    params: dict[str, Any], started: float,
) -> None:  # fmt: skip
    """Train and save a recommender from the command's options, then print the outcome."""
    from needmap.data.roles import ColumnRoles
    from needmap.models.options import NetworkOptions
    from needmap.training.config import TrainConfig
    from needmap.workflows.recommend import run_recommend_train

    roles = {k: v for k, v in options[ColumnRoles].items() if k != "task"}
    if roles:
        flags = ", ".join("--" + k.replace("_", "-") for k in roles)
        raise ConfigError(f"{flags} describe a table's columns; a recommender reads --customer, --item and --time.")
    shared = {**options.get(NetworkOptions, {}), **options.get(TrainConfig, {})}
    outcome = run_recommend_train(
        data, out, model=model, recommend=recommend, shared=shared, params=params,
        say=lambda text: console.print(text, markup=False, highlight=False),
    )  # fmt: skip
    print_recommend_outcome(outcome.metrics)
    out_console.print(f"whole run {time.perf_counter() - started:.1f} s", markup=False, highlight=False)
    out_console.print(f"recommender saved to [bold]{escape(str(out))}[/] (recommender.json, weights.safetensors, "
                      "metrics.json, card.md inside)")  # fmt: skip


def print_recommend_outcome(metrics: dict[str, Any]) -> None:
    """The test table of every model (the chosen one first), then the notes and the verdict."""
    for note in metrics.get("notes", []):
        console.print(labelled("note:", "yellow", note))
    out_console.print(models_table(metrics))
    out_console.print(labelled("verdict:", "bold", metrics.get("verdict", "")))


def models_table(metrics: dict[str, Any], part: str = "test") -> Table:
    """One row per model: its full-ranking metrics on the ``part`` customers (cover.: catalogue coverage; pop.:
    the popularity bias). Validation NDCG and training time are in the lines printed while training and in
    metrics.json; the table fits an 80-column terminal."""
    k = metrics.get("k", 10)
    chosen = metrics.get("model")
    models = metrics.get("models", {})
    names = [chosen, *(n for n in models if n != chosen)] if chosen in models else list(models)
    table = Table(
        title=f"{part.capitalize()} customers, full ranking over every item, k = {k} ({metrics.get('split')})"
    )
    table.add_column("model", no_wrap=True)
    for key, header in SHOWN.items():
        label = f"{header}@{k}" if key in ("ndcg", "recall", "hit_rate", "mrr") else header
        table.add_column(label, justify="right", no_wrap=True, min_width=6)
    for name in names:
        found = models[name].get(part, {})
        label = f"{name} (chosen)" if name == chosen else name
        table.add_row(label, *(f"{found.get(f'{key}@{k}', float('nan')):.4f}" for key in SHOWN))
    return table


def evaluate_recommender_command(model_dir: Path, data: str, json_out: Path | None) -> None:
    """``needmap evaluate RECOMMENDER LOG``: the model and popularity on what customers did afterwards."""
    from needmap.output_files import refuse_overwriting_inputs, replaced_note
    from needmap.recommend.evaluate import evaluate_on_log
    from needmap.recommend.recommender import load_recommender
    from needmap.workflows.predict import write_json

    if json_out is not None:
        refuse_overwriting_inputs(json_out, "--json-out", model=model_dir, data=data)
    rec = load_recommender(model_dir)
    result = evaluate_on_log(rec, data, k=int((rec.metrics_ or {}).get("k", 10)))
    k = result["k"]
    table = Table(title=f"{model_dir} on {data}: {result['customers']:,} customers with new items, k = {k}")
    table.add_column("model", no_wrap=True)
    for key, header in SHOWN.items():
        table.add_column(f"{header}@{k}" if key in ("ndcg", "recall", "hit_rate", "mrr") else header, justify="right")
    for name, values in result["models"].items():
        table.add_row(name, *(f"{values.get(f'{key}@{k}', float('nan')):.4f}" for key in SHOWN))
    out_console.print(table)
    if result["unknown_customers"]:
        console.print(labelled("note:", "yellow", f"{result['unknown_customers']:,} of them are unknown to the model "
                                                  "and got the most popular items."))  # fmt: skip
    out_console.print(labelled("verdict:", "bold", result["verdict"]))
    if json_out:
        existed = json_out.exists()
        write_json(result, json_out)
        out_console.print(f"metrics written to {json_out}{replaced_note(existed)}", markup=False)
