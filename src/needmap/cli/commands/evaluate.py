"""``needmap evaluate``: a saved model's metrics on labelled rows, beside its saved baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from needmap.cli.base import Delimiter, Encoding, app, console, friendly_errors, labelled, out_console, read_table
from needmap.cli.options import with_options
from needmap.data.read_options import ReadOptions
from needmap.output_files import refuse_overwriting_inputs, replaced_note


@app.command(epilog="Example: needmap evaluate models/bank holdout.csv --json-out holdout_metrics.json")
@friendly_errors
@with_options(ReadOptions)
def evaluate(
    model_dir: Path = typer.Argument(..., help="Model directory written by 'needmap train'."),
    data: str = typer.Argument(..., help="Labelled rows to evaluate on (for a recommender: a later event log)."),
    delimiter: str | None = Delimiter,
    encoding: str = Encoding,
    json_out: Path | None = typer.Option(None, "--json-out", help="Also write the metrics to this JSON file."),
    baselines: bool = typer.Option(
        True,
        "--baselines/--no-baselines",
        help="Score the baselines saved with the model (baselines.json) on the same rows and give the verdict.",
    ),
    options: Any = None,
) -> None:
    """Metrics of a saved model on labelled rows (AUC, logloss, lift, calibration, ...), beside the baselines
    saved with it (logistic regression, LightGBM) and the verdict: does the deep model still beat them?"""
    from needmap.display import metrics_table
    from needmap.estimator import load
    from needmap.recommend.recommender import is_recommender

    if is_recommender(model_dir):
        from needmap.cli.recommend_outcome import evaluate_recommender_command

        evaluate_recommender_command(model_dir, data, json_out)
        return
    from needmap.uplift.model import is_uplift

    if is_uplift(model_dir):
        from needmap.cli.uplift_outcome import evaluate_uplift_command

        evaluate_uplift_command(model_dir, data, json_out)
        return
    from needmap.workflows.evaluate import evaluate_with_baselines, saved_baselines
    from needmap.workflows.predict import write_json

    if json_out is not None:
        refuse_overwriting_inputs(json_out, "--json-out", model=model_dir, data=data)
    loaded = load(model_dir)
    assert loaded.schema_ is not None
    bases = saved_baselines(loaded, file=str(model_dir)) if baselines else []
    table = read_table(data, delimiter, encoding, options[ReadOptions])
    result = evaluate_with_baselines(loaded, table, baselines=bases) if bases else None
    metrics = loaded.evaluate(table) if result is None else result["metrics"]
    columns = {"metrics": metrics} if result is None else {result["primary"]: metrics, **result["baselines"]}
    out_console.print(metrics_table(loaded.schema_.task or "binary", columns, title=f"{model_dir} on {data}"))
    per_target = {k: v for k, v in metrics.items() if isinstance(v, dict)} or {loaded.schema_.target: metrics}
    for name, values in per_target.items():
        if values.get("rows_without_target"):
            left_out = f"{values['rows_without_target']} rows without '{name}' were left out."
            console.print(labelled("note:", "yellow", left_out))
    if baselines and not bases:
        console.print("[yellow]note:[/] the model has no saved baselines (no baselines.json): its metrics alone.")
    if result is not None:
        out_console.print(labelled("verdict:", "bold", result["verdict"]), soft_wrap=True)
        keys = ("baselines", "comparisons", "verdict")
        metrics = {**metrics, **{key: result[key] for key in keys}}
    if json_out:
        existed = json_out.exists()
        write_json(metrics, json_out)
        out_console.print(f"metrics written to {json_out}{replaced_note(existed)}", markup=False)
