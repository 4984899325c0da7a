"""What ``needmap train --task uplift`` prints: every learner's test metrics per offer, the verdict, the model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from needmap.cli.base import console, labelled, out_console
from needmap.errors import ConfigError


def train_uplift_command(
    data: str, out: Path, model: str | None, options: dict[Any, dict[str, Any]], uplift: dict[str, Any],
    params: dict[str, Any], started: float,
) -> None:  # fmt: skip
    """Train and save an uplift model from the command's options, then print the outcome."""
    from needmap.data.read import read
    from needmap.data.roles import ColumnRoles
    from needmap.training.config import TrainConfig
    from needmap.uplift.train import train_uplift

    roles = dict(options[ColumnRoles])
    roles.pop("task", None)
    target = roles.pop("target", None)
    target = [target] if isinstance(target, str) else target
    if not target or len(target) != 1:
        raise ConfigError("an uplift model needs one outcome column; expected --target COLUMN (0/1 or an amount).")
    for name in ("treatment", "control"):
        if not uplift.get(name):
            raise ConfigError(f"--task uplift needs --{name}; expected the treatment column and its control value.")
    other = sorted(set(roles) - {"id", "drop"})
    if other:
        flags = ", ".join("--" + k.replace("_", "-") for k in other)
        raise ConfigError(f"{flags} are not read by an uplift model; it takes --id and --drop of the column roles.")
    train = options.get(TrainConfig, {})
    kept = {k: train[k] for k in ("seed", "threads", "epochs", "lr", "batch_size") if k in train}
    extra = {k: v for k, v in uplift.items() if k in ("propensity", "shares", "base")}
    table = read(data)
    outcome = train_uplift(
        table, treatment=uplift["treatment"], control=str(uplift["control"]), outcome=target[0],
        learners=[model] if model else None, k=float(uplift.get("top_share", 0.3)), id=roles.get("id"),
        drop=roles.get("drop"), params=params or None, say=lambda text: console.print(text, markup=False,
        highlight=False), **extra, **kept,
    )  # fmt: skip
    print_uplift_outcome(outcome.metrics)
    path = outcome.predictor.save(out)
    out_console.print(f"whole run {time.perf_counter() - started:.1f} s", markup=False, highlight=False)
    out_console.print(f"uplift model saved to [bold]{escape(str(path))}[/] (uplift.json, weights.safetensors, "
                      "metrics.json, card.md inside)")  # fmt: skip


def print_uplift_outcome(metrics: dict[str, Any]) -> None:
    """The test table of every learner and the response model, then the verdict."""
    out_console.print(learners_table(metrics))
    out_console.print(labelled("verdict:", "bold", metrics.get("verdict", "")))


def learners_table(metrics: dict[str, Any]) -> Table:
    """One row per learner and offer: Qini coefficient, AUUC, uplift and incremental outcome at the top share,
    on the test rows (the chosen learner first, marked)."""
    k = metrics.get("k", 0.3)
    table = Table(title=f"uplift on {metrics['rows']['test']:,} test rows (Qini, AUUC: 1 = perfect, 0 = random)")
    for header in ("learner", "offer", "Qini", "AUUC", f"uplift@{k:.0%}", f"extra@{k:.0%}"):
        table.add_column(header, justify="left" if header in ("learner", "offer") else "right")
    chosen = metrics.get("chosen")
    names = [chosen, *[n for n in metrics["candidates"] if n != chosen]]
    for name in names:
        for offer, m in metrics["candidates"][name]["test"]["arms"].items():
            label = f"{name} *" if name == chosen else name
            auuc = "-" if m.get("auuc") is None else f"{m['auuc']:.4f}"
            table.add_row(label, offer, f"{m['qini_coefficient']:.4f}", auuc, f"{m['uplift_at_k']:+.4f}",
                          f"{m['incremental_at_k']:+.1f}")  # fmt: skip
    table.caption = "* kept (largest validation Qini). extra@: incremental outcome had the top share been contacted."
    return table


def evaluate_uplift_command(model_dir: Path, data: str, json_out: Path | None) -> None:
    """``needmap evaluate UPLIFT_MODEL FILE``: the model's uplift metrics per offer on a campaign's rows."""
    from needmap.data.read import read
    from needmap.output_files import refuse_overwriting_inputs, replaced_note
    from needmap.uplift.model import load_uplift
    from needmap.workflows.predict import write_json

    if json_out is not None:
        refuse_overwriting_inputs(json_out, "--json-out", model=model_dir, data=data)
    predictor = load_uplift(model_dir)
    k = float(predictor.metrics_.get("k", 0.3))
    result = predictor.evaluate(read(data), k=k)
    table = Table(title=f"{model_dir} on {data} (Qini, AUUC: 1 = perfect, 0 = random)")
    for header in ("offer", "treated", "control", "Qini", "AUUC", f"uplift@{k:.0%}", f"extra@{k:.0%}"):
        table.add_column(header, justify="left" if header == "offer" else "right")
    for offer, m in result["arms"].items():
        auuc = "-" if m.get("auuc") is None else f"{m['auuc']:.4f}"
        table.add_row(offer, f"{m['rows_treated']:,}", f"{m['rows_control']:,}", f"{m['qini_coefficient']:.4f}", auuc,
                      f"{m['uplift_at_k']:+.4f}", f"{m['incremental_at_k']:+.1f}")  # fmt: skip
    out_console.print(table)
    if json_out:
        existed = json_out.exists()
        write_json(result, json_out)
        out_console.print(f"metrics written to {json_out}{replaced_note(existed)}", markup=False)
