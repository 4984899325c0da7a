"""The training section of a model's report: the loss and the validation metrics per epoch, the best epoch
marked (from metrics.json's training history)."""

from __future__ import annotations

from typing import Any

from needmap.metrics.names import plain_name
from needmap.report.html import Section, explain, note
from needmap.report.line_charts import Marker, Series, line_chart

#: The validation metric drawn per epoch beside the loss, per task.
HISTORY_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("valid_auc", "valid_pr_auc"),
    "multiclass": ("valid_accuracy", "valid_macro_auc"),
    "regression": ("valid_rmse", "valid_mae"),
    "ltv": ("valid_normalized_gini", "valid_auc"),
}


def training_section(metrics: dict[str, Any], task: str | None) -> Section:
    """The loss and the validation metrics per epoch, the best epoch marked."""
    training = metrics.get("training") or {}
    history = training.get("history") or []
    if not history:
        return Section("training", "Training", note("no training history in metrics.json"))
    epochs = [h.get("epoch") for h in history]
    best = training.get("best_epoch")
    loss_series = [Series("training loss", epochs, [h.get("loss") for h in history])]
    if any(h.get("valid_logloss") is not None for h in history):
        loss_series.append(Series("validation logloss", epochs, [h.get("valid_logloss") for h in history]))
    parts = [
        explain(
            f"{len(history)} epochs; the model keeps the weights of epoch {best} "
            f"(stopped by {training.get('stopped_reason', 'the epoch limit')})."
        ),
        line_chart("training-loss", "loss per epoch", loss_series, x_label="epoch", y_label="loss", x_integer=True),
    ]
    keys = [k for k in HISTORY_METRICS.get(task or "binary", ()) if any(h.get(k) is not None for h in history)]
    if keys:
        series = [Series(plain_name(k.removeprefix("valid_")), epochs, [h.get(k) for h in history]) for k in keys]
        first = history[[h.get("epoch") for h in history].index(best)] if best in epochs else None
        markers = (
            [Marker(float(best), float(first[keys[0]]), f"best epoch {best}")]
            if first is not None and first.get(keys[0]) is not None
            else []
        )
        parts.append(
            line_chart(
                "training-metric",
                "validation metrics per epoch",
                series,
                x_label="epoch",
                y_label="validation metric",
                markers=markers,
                x_integer=True,
            )
        )
    return Section("training", "Training", "".join(parts))
