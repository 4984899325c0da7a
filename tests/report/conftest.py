"""Fixtures of the report tests: small trained models with their documents, and a hand-made evaluation.json.

The evaluation document follows the format that ``needmap.workflows.evaluation.evaluation_document``
writes (curves per model on the test rows, the comparisons and the verdict); :func:`fake_evaluation`
builds one by hand with numpy, so the charts can be tested on known numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import torch

import needmap as nm
from needmap.data.profile import profile_table
from needmap.datasets import bank_marketing_path
from needmap.metrics import binary_metrics
from needmap.workflows.baseline import fit_baseline
from needmap.workflows.train import run_train

BANK = bank_marketing_path()  # the whole file, as needmap ships it
SMALL = {"epochs": 4, "progress": False, "batch_size": 64, "hidden": (16,), "embedding_dim": 4}
LIFT_TOPS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _curves(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """The curve keys of one model of evaluation.json, by hand: ranks, cumulative sums, bins."""
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    n, pos = len(y), int(y.sum())
    tp = np.concatenate([[0], np.cumsum(ys)])
    fp = np.concatenate([[0], np.cumsum(1 - ys)])
    pick = np.unique(np.linspace(0, n, 201).round().astype(int))
    shares = np.linspace(0, 1, 101)
    counts = np.ceil(shares * n - 1e-9).astype(int)
    captured = tp[counts] / pos
    bins = np.minimum((p * 10).astype(int), 9)
    kept = [b for b in range(10) if (bins == b).any()]
    cost, value = 1.0, 10.0
    profit = value * tp[counts] - cost * counts
    best = int(np.argmax(profit))
    return {
        "roc": {"fpr": (fp[pick] / (n - pos)).tolist(), "tpr": (tp[pick] / pos).tolist()},
        "pr": {"recall": (tp[pick[1:]] / pos).tolist(), "precision": (tp[pick[1:]] / pick[1:]).tolist()},
        "gains": {"share": shares.tolist(), "captured": captured.tolist()},
        "lift": {"share": shares[1:].tolist(), "lift": (captured[1:] / shares[1:]).tolist()},
        "lift_table": [
            {
                "top": t,
                "lift": float(tp[int(np.ceil(t * n))] / np.ceil(t * n) / (pos / n)),
                "capture": float(tp[int(np.ceil(t * n))] / pos),
            }
            for t in LIFT_TOPS
        ],
        "calibration": {
            "mean_predicted": [float(p[bins == b].mean()) for b in kept],
            "observed": [float(y[bins == b].mean()) for b in kept],
            "count": [int((bins == b).sum()) for b in kept],
        },
        "profit": {
            "share": shares.tolist(),
            "threshold": [float(p[order[max(c - 1, 0)]]) for c in counts],
            "profit": profit.tolist(),
            "best": {
                "share": float(shares[best]),
                "threshold": float(p[order[max(counts[best] - 1, 0)]]),
                "profit": float(profit[best]),
                "contacted": int(counts[best]),
                "conversions": int(tp[counts[best]]),
            },
        },
    }


def fake_evaluation(y: np.ndarray, scores: dict[str, np.ndarray], *, data: str = "test rows") -> dict[str, Any]:
    """An evaluation.json for ``scores`` (the first model is the deep one) on labels ``y`` ``[n]``."""
    y = np.asarray(y, dtype=np.float64)
    names = list(scores)
    models = {}
    for i, name in enumerate(names):
        p = np.asarray(scores[name], dtype=np.float64)
        models[name] = {"kind": "deep" if i == 0 else "baseline", "metrics": binary_metrics(y, p)}
        models[name].update(_curves(y, p))
    deep = models[names[0]]["metrics"]["auc"]
    comparisons = []
    for name in names[1:]:
        other = models[name]["metrics"]["auc"]
        d = deep - other
        comparisons.append(
            {"baseline": name, "metric": "auc", "deep": deep, "other": other, "difference": d,
             "low": d - 0.01, "high": d + 0.01, "level": 0.95, "n_boot": 200}
        )  # fmt: skip
    best = max(comparisons, key=lambda c: c["other"]) if comparisons else None
    if best is None:
        verdict = "no baseline to compare with."
    elif best["low"] > 0:
        verdict = (
            f"the deep model is better than {best['baseline']} by {best['difference']:.3f} AUC "
            f"[{best['low']:.3f}, {best['high']:.3f}] (95% bootstrap interval)."
        )
    else:
        verdict = (
            f"use {best['baseline']}: the deep model is not better on this data (AUC difference "
            f"{best['difference']:+.3f} [{best['low']:+.3f}, {best['high']:+.3f}], 95% bootstrap interval)."
        )
    return {
        "version": 1, "task": "binary", "data": data, "rows": len(y), "positives": int(y.sum()),
        "primary": names[0], "models": models,
        "profit_settings": {"contact_cost": 1.0, "conversion_value": 10.0},
        "comparisons": comparisons, "verdict": verdict, "group_auc": None, "importance": None,
    }  # fmt: skip


@pytest.fixture(scope="session")
def fake_document() -> Any:
    """The builder :func:`fake_evaluation`."""
    return fake_evaluation


def _real_or_fake_evaluation(y: np.ndarray, scores: dict[str, np.ndarray], data: str) -> dict[str, Any]:
    """evaluation.json by needmap.workflows.evaluation when it is there, else by hand."""
    try:
        from needmap.workflows.evaluation import evaluation_document
    except ImportError:
        return fake_evaluation(y, scores, data=data)
    return evaluation_document(y, scores, task="binary", primary=next(iter(scores)), data=data)


def train_with_documents(table: pa.Table, target: str, out: Path) -> Path:
    """Train a small MLP with run_train, add profile.json and evaluation.json where training did not, save.

    ``table`` has a ``__row__`` column (its row numbers, not an input) to tell the training rows from the test rows.
    """
    model = nm.Model("mlp", target=target, drop=["__row__"], **SMALL)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network on a shared machine: one thread is several times faster
    try:
        outcome = run_train(table, model, out=None, test_size=0.25)
    finally:
        torch.set_num_threads(threads)
    fitted = outcome.model
    assert fitted.preprocessor_ is not None and outcome.test_table is not None
    test = outcome.test_table
    train_rows = table.take(pa.array(sorted(set(range(table.num_rows)) - set(test.column("__row__").to_pylist()))))
    if "profile.json" not in fitted.extras_:
        profiled = train_rows.drop_columns(["__row__"])
        fitted.extras_["profile.json"] = profile_table(profiled, fitted.schema_, source="training rows")
    if "evaluation.json" not in fitted.extras_:
        y = np.asarray(fitted.preprocessor_.encode_target(test), dtype=np.float64)
        x_train = fitted.preprocessor_.transform(train_rows)
        base = fit_baseline(
            x_train, fitted.preprocessor_.encode_target(train_rows), "binary", list(fitted.preprocessor_.cardinalities_)
        )
        scores = {
            "mlp network": fitted.predict_proba(test),
            base.name: base.predict(fitted.preprocessor_.transform(test)),
        }
        fitted.extras_["evaluation.json"] = _real_or_fake_evaluation(y, scores, f"test rows ({test.num_rows})")
    return fitted.save(out)


@pytest.fixture(scope="session")
def bank_rows(bank_table: pa.Table) -> pa.Table:
    """The bank slice with a row number column (to find the training rows again) and without duration."""
    return bank_table.drop_columns(["duration"]).append_column("__row__", pa.array(range(bank_table.num_rows)))


@pytest.fixture(scope="session")
def bank_model_dir(tmp_path_factory: pytest.TempPathFactory, bank_rows: pa.Table) -> Path:
    """A small MLP trained on the bank slice, with profile.json and evaluation.json."""
    out = tmp_path_factory.mktemp("bank_model") / "model"
    return train_with_documents(bank_rows, "y", out)


@pytest.fixture(scope="session")
def shoppers_table(shoppers_csv: Path) -> pa.Table:
    table = nm.read(shoppers_csv)
    return table.append_column("__row__", pa.array(range(table.num_rows)))


@pytest.fixture(scope="session")
def shoppers_model_dir(tmp_path_factory: pytest.TempPathFactory, shoppers_table: pa.Table) -> Path:
    """A small MLP trained on the shoppers slice, with profile.json and evaluation.json."""
    out = tmp_path_factory.mktemp("shoppers_model") / "model"
    return train_with_documents(shoppers_table, "Revenue", out)


@pytest.fixture(scope="session")
def bank_holdout_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 bank rows drawn with another seed than the training slice, as a ';'-separated CSV: new labelled data."""
    table = pacsv.read_csv(BANK, parse_options=pacsv.ParseOptions(delimiter=";"))
    index = np.sort(np.random.default_rng(11).choice(table.num_rows, size=600, replace=False))
    path = tmp_path_factory.mktemp("holdout") / "bank_holdout.csv"
    pacsv.write_csv(table.take(pa.array(index)), path, write_options=pacsv.WriteOptions(delimiter=";"))
    return path
