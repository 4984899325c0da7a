"""References that the quality thresholds of the tests are set against, computed on the rows a test uses.

A model that passes "AUC > 0.70" on bank marketing may have learnt one column: ``nr.employed`` alone
ranks the test rows at about 0.75. So the tests compare a model with what the obvious reaches on the
same rows: the best single column (:func:`single_columns`), logistic regression
(:func:`logistic_regression_auc`) and the majority class (:func:`majority_share`); for a regression target
the best single column's R² and the training mean (:func:`regression_references`). Each is fitted on the
training rows only and scored on the test rows, as the model is; for cross-validation, fold by fold on the
other folds' rows (:func:`out_of_fold_references`).

The references are computed here with numpy and scikit-learn, not with needmap's models or baselines, so
that a fault in needmap cannot lower the bar it is measured against; needmap only says which rows a
training run held out (:func:`run_train_parts`, :func:`fit_parts`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import needmap as nm
from needmap.data.provenance import take_rows
from needmap.estimator import clean_training_table
from needmap.preprocessing.batch import FeatureBatch
from needmap.schema import Schema
from needmap.workflows.train_table import split_rows

Columns = Mapping[str, np.ndarray]


def _numeric_score(train: np.ndarray, y_train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The column itself (missing values: the training mean), turned so that it ranks the training rows
    the right way round."""
    train, rows = train.astype(np.float64), rows.astype(np.float64)
    fill = float(np.nanmean(train)) if np.isfinite(train).any() else 0.0
    train, rows = np.where(np.isfinite(train), train, fill), np.where(np.isfinite(rows), rows, fill)
    if len(np.unique(train)) > 1 and roc_auc_score(y_train, train) < 0.5:
        return -rows
    return rows


def _category_score(train: np.ndarray, y_train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each row's category replaced by the share of positives among the training rows of that category
    (a category the training rows lack: the overall share)."""
    train, rows = train.astype(str), rows.astype(str)
    overall = float(np.mean(y_train))
    categories, inverse = np.unique(train, return_inverse=True)
    rates = np.bincount(inverse, weights=y_train) / np.bincount(inverse)
    lookup = dict(zip(categories.tolist(), rates.tolist(), strict=True))
    return np.array([lookup.get(v, overall) for v in rows.tolist()], dtype=np.float64)


def _column_score(kind: str, train: np.ndarray, y_train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return (_numeric_score if kind == "numeric" else _category_score)(train, y_train, rows)


def lift_at(y: np.ndarray, score: np.ndarray, top: float = 0.1) -> float:
    """Positive rate of the ``top`` share of rows by ``score`` over the positive rate of all rows (the top
    group holds ``ceil(top * n)`` rows, as needmap's ``lift_at_10``); rows tied at the group's edge count
    with the positive rate of their tie, the expected lift of any order among them."""
    y, score = np.asarray(y, dtype=np.float64), np.asarray(score, dtype=np.float64)
    k = max(1, int(np.ceil(top * len(y))))
    edge = np.sort(score)[::-1][k - 1]
    above, tied = score > edge, score == edge
    caught = y[above].sum() + y[tied].mean() * (k - above.sum())
    return float((caught / k) / y.mean())


def single_columns(
    numeric: tuple[Columns, Columns],
    categorical: tuple[Columns, Columns],
    y_train: np.ndarray,
    y_test: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Each column alone, fitted on the training rows: ``{column: {"auc": .., "lift_at_10": ..}}`` on the
    test rows. A numeric column scores a row by its value (the sign chosen on the training rows), a
    categorical one by the training share of positives in the row's category.

    ``numeric`` and ``categorical``: ``(training columns, test columns)`` by name.
    """
    y_train, y_test = np.asarray(y_train, dtype=np.float64), np.asarray(y_test, dtype=np.float64)
    found: dict[str, dict[str, float]] = {}
    for kind, (train, test) in (("numeric", numeric), ("categorical", categorical)):
        for name in train:
            values = _column_score(kind, train[name], y_train, test[name])
            found[name] = {"auc": float(roc_auc_score(y_test, values)), "lift_at_10": lift_at(y_test, values)}
    return found


def _best(columns: dict[str, dict[str, float]]) -> dict[str, object]:
    best = max(columns, key=lambda name: columns[name]["auc"])
    return {
        "best_column": best,
        "best_column_auc": columns[best]["auc"],
        "best_lift_at_10": max(c["lift_at_10"] for c in columns.values()),  # of any column
    }


def logistic_regression_auc(
    numeric: tuple[np.ndarray, np.ndarray],
    categorical: tuple[np.ndarray, np.ndarray],
    y_train: np.ndarray,
    y_test: np.ndarray,
) -> float:
    """Test AUC of scikit-learn's logistic regression (L2, C=1) on standardized numerics and one-hot
    categories, fitted on the training rows: ``numeric`` and ``categorical`` are ``(train [n, a], test
    [m, a])`` arrays (a may be 0)."""
    parts_train, parts_test = [], []
    if numeric[0].shape[1]:
        train, test = (np.nan_to_num(a.astype(np.float64)) for a in numeric)
        scaler = StandardScaler().fit(train)
        parts_train.append(scaler.transform(train))
        parts_test.append(scaler.transform(test))
    if categorical[0].shape[1]:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(categorical[0].astype(str))
        parts_train.append(encoder.transform(categorical[0].astype(str)))
        parts_test.append(encoder.transform(categorical[1].astype(str)))
    model = LogisticRegression(C=1.0, max_iter=5000).fit(np.hstack(parts_train), y_train)
    return float(roc_auc_score(y_test, model.predict_proba(np.hstack(parts_test))[:, 1]))


def majority_share(labels: Sequence[object] | np.ndarray) -> float:
    """The share of the most common label: the accuracy of always predicting it."""
    _, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return float(counts.max() / counts.sum())


def _class_shares(kind: str, train: np.ndarray, y_train: np.ndarray, rows: np.ndarray, k: int, bins: int) -> np.ndarray:
    """``[n, k]``: each row's share of each class among the training rows of its category (a numeric column:
    of its bin between ``bins`` training quantiles; missing values: the training mean)."""
    if kind == "numeric":
        train, rows = train.astype(np.float64), rows.astype(np.float64)
        fill = float(np.nanmean(train)) if np.isfinite(train).any() else 0.0
        train, rows = np.where(np.isfinite(train), train, fill), np.where(np.isfinite(rows), rows, fill)
        edges = np.unique(np.quantile(train, np.linspace(0, 1, bins + 1)[1:-1]))
        train, rows = np.digitize(train, edges), np.digitize(rows, edges)
    return np.column_stack([_category_score(train, (y_train == c).astype(np.float64), rows) for c in range(k)])


def multiclass_references(
    numeric: tuple[Columns, Columns],
    categorical: tuple[Columns, Columns],
    y_train: np.ndarray,
    y_test: np.ndarray,
    *,
    bins: int = 10,
) -> dict[str, object]:
    """Each column alone for a multiclass target (classes ``0..k-1``), fitted on the training rows: a row's
    class shares among the training rows of its category, or of its bin for a numeric column
    (:func:`_class_shares`). On the test rows: ``best_column`` by macro AUC (the unweighted mean of the
    one-vs-rest AUC of each class present, as needmap's ``macro_auc``) and its ``best_column_macro_auc``,
    the best ``best_column_accuracy`` of any column (the argmax of its shares), and ``majority_share``.

    ``numeric`` and ``categorical``: ``(training columns, test columns)`` by name.
    """
    y_train, y_test = np.asarray(y_train, dtype=np.int64), np.asarray(y_test, dtype=np.int64)
    k = int(max(y_train.max(), y_test.max())) + 1
    present = [c for c in range(k) if 0 < (y_test == c).sum() < len(y_test)]
    found: dict[str, dict[str, float]] = {}
    for kind, (train, test) in (("numeric", numeric), ("categorical", categorical)):
        for name in train:
            shares = _class_shares(kind, train[name], y_train, test[name], k, bins)
            found[name] = {
                "accuracy": float((shares.argmax(axis=1) == y_test).mean()),
                "macro_auc": float(np.mean([roc_auc_score(y_test == c, shares[:, c]) for c in present])),
            }
    best = max(found, key=lambda name: found[name]["macro_auc"])
    return {
        "best_column": best,
        "best_column_macro_auc": found[best]["macro_auc"],
        "best_column_accuracy": max(c["accuracy"] for c in found.values()),  # of any column
        "majority_share": majority_share(y_test),
    }


def _numeric_fit(train: np.ndarray, y_train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The least-squares line of ``y_train`` on the column (missing values: the training mean), at ``rows``."""
    train, rows = train.astype(np.float64), rows.astype(np.float64)
    fill = float(np.nanmean(train)) if np.isfinite(train).any() else 0.0
    train, rows = np.where(np.isfinite(train), train, fill), np.where(np.isfinite(rows), rows, fill)
    if len(np.unique(train)) < 2:
        return np.full(len(rows), float(np.mean(y_train)))
    slope, intercept = np.polyfit(train, y_train, 1)
    return slope * rows + intercept


def regression_references(
    numeric: tuple[Columns, Columns],
    categorical: tuple[Columns, Columns],
    y_train: np.ndarray,
    y_test: np.ndarray,
) -> dict[str, object]:
    """What the obvious reaches on a regression target's test rows, fitted on the training rows:
    ``best_column`` and its ``best_column_r2`` (a numeric column: the least-squares line on it; a
    categorical one: the training mean of the row's category, the overall mean for a category the
    training rows lack), and ``mean_rmse``, the RMSE of the training mean.

    ``numeric`` and ``categorical``: ``(training columns, test columns)`` by name.
    """
    y_train, y_test = np.asarray(y_train, dtype=np.float64), np.asarray(y_test, dtype=np.float64)
    r2: dict[str, float] = {}
    for name in numeric[0]:
        r2[name] = float(r2_score(y_test, _numeric_fit(numeric[0][name], y_train, numeric[1][name])))
    for name in categorical[0]:  # a category's share of positives is its mean target: the same lookup
        r2[name] = float(r2_score(y_test, _category_score(categorical[0][name], y_train, categorical[1][name])))
    best = max(r2, key=r2.__getitem__)
    mean_rmse = float(np.sqrt(np.mean((y_test - y_train.mean()) ** 2)))
    return {"best_column": best, "best_column_r2": r2[best], "mean_rmse": mean_rmse}


def run_train_parts(
    table: pa.Table, schema: Schema, drop: Sequence[str] = (), *, test_size: float = 0.2, seed: int = 0
) -> tuple[pa.Table, pa.Table]:
    """The training and test rows that ``needmap train`` (run_train, stratified split) made of ``table``
    for a model of ``schema``: the rows its test metrics were measured on, to measure the references on."""
    clean, _ = clean_training_table(table, schema, user_dropped=drop)
    train, test, _ = split_rows(clean, schema, test_size=test_size, split="stratified", time_column=None, seed=seed)
    return take_rows(clean, pa.array(train)), take_rows(clean, pa.array(test))


def fit_parts(
    table: pa.Table, schema: Schema, drop: Sequence[str] = (), *, validation: float, seed: int
) -> tuple[pa.Table, pa.Table]:
    """The training and validation rows that ``Model(seed=seed).fit(table, validation=validation)`` made of
    ``table`` (from a table or a Parquet file alike): the split that ``needmap train`` makes of its rows,
    with the validation share as the test share. A test that uses it checks that the model's validation
    metrics are those of these rows."""
    return run_train_parts(table, schema, drop, test_size=validation, seed=seed)


# -- adapters: raw Arrow tables and needmap's preprocessed features ------------------------------------
def _table_columns(table: pa.Table, names: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    numeric, categorical = {}, {}
    for name in names:
        column = table.column(name)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            numeric[name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            categorical[name] = np.asarray(column.to_pylist(), dtype=object)
    return numeric, categorical


def table_labels(table: pa.Table, target: str, positive: object = "yes") -> np.ndarray:
    """1 where ``target`` is ``positive``, else 0."""
    return (np.asarray(table.column(target).to_pylist(), dtype=object) == positive).astype(np.int64)


def labelled(table: pa.Table, target: str) -> pa.Table:
    """The rows of ``table`` with a value for ``target`` (a model of several targets is scored on each
    target's own rows)."""
    return table.filter(pc.is_valid(table.column(target)))


def _stack(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    return np.column_stack(list(columns.values())) if columns else np.zeros((n, 0))


def table_references(
    train: pa.Table,
    test: pa.Table,
    target: str,
    *,
    drop: Sequence[str] = (),
    positive: object = "yes",
    logistic: bool = True,
) -> dict[str, object]:
    """The references of raw tables on ``test`` for a model trained on ``train`` (every column but
    ``target`` and ``drop``): ``best_column`` (by test AUC) and its ``best_column_auc``, the best
    ``best_lift_at_10`` of any one column, and ``logistic_auc`` (not with ``logistic=False``: one-hot
    columns of ids or lists of ids make its fit the slow part). Rows without a ``target`` value are left
    out of both (:func:`labelled`)."""
    train, test = labelled(train, target), labelled(test, target)
    names = [n for n in train.column_names if n != target and n not in drop]
    num_train, cat_train = _table_columns(train, names)
    num_test, cat_test = _table_columns(test, names)
    y_train, y_test = table_labels(train, target, positive), table_labels(test, target, positive)
    best = _best(single_columns((num_train, num_test), (cat_train, cat_test), y_train, y_test))
    if not logistic:
        return best
    auc = logistic_regression_auc(
        (_stack(num_train, train.num_rows), _stack(num_test, test.num_rows)),
        (_stack(cat_train, train.num_rows), _stack(cat_test, test.num_rows)),
        y_train,
        y_test,
    )
    return {**best, "logistic_auc": auc}


def table_regression_references(
    train: pa.Table, test: pa.Table, target: str, *, drop: Sequence[str] = ()
) -> dict[str, object]:
    """:func:`regression_references` of raw tables (every column but ``target`` and ``drop``; rows without
    a ``target`` value left out)."""
    train, test = labelled(train, target), labelled(test, target)
    names = [n for n in train.column_names if n != target and n not in drop]
    num_train, cat_train = _table_columns(train, names)
    num_test, cat_test = _table_columns(test, names)

    def values(table: pa.Table) -> np.ndarray:
        return table.column(target).to_numpy(zero_copy_only=False).astype(np.float64)

    return regression_references((num_train, num_test), (cat_train, cat_test), values(train), values(test))


def saved_run_references(
    data: Path, model_dir: Path, drop: Sequence[str] = (), *, target: str | None = None, logistic: bool = True
) -> dict[str, object]:
    """:func:`table_references` on the test rows that ``needmap train`` (default split and seed) held out of
    the file ``data`` for the model it saved in ``model_dir``, for ``target`` (default: the first target;
    the other targets are not columns the model reads; ``logistic`` as there). The number of test rows with
    a ``target`` value is checked against the saved test metrics."""
    schema = nm.load(model_dir).schema_
    assert schema is not None and schema.target is not None
    train, test = run_train_parts(nm.read(data), schema, drop)
    target = target or schema.target
    head = next(h for h in schema.heads if h.name == target)
    saved = json.loads((Path(model_dir) / "metrics.json").read_text())["test"]
    saved = saved if len(schema.heads) == 1 else saved[target]
    assert labelled(test, target).num_rows == saved["n"], (labelled(test, target).num_rows, saved)
    positive = True if pa.types.is_boolean(train.schema.field(target).type) else head.classes[1]
    others = [h.name for h in schema.heads if h.name != target]
    return table_references(train, test, target, drop=[*drop, *others], positive=positive, logistic=logistic)


def out_of_fold_references(
    table: pa.Table, target: str, folds: np.ndarray, *, drop: Sequence[str] = (), positive: object = "yes"
) -> dict[str, object]:
    """The references of cross-validation's pooled out-of-fold scores: each column scores the rows of each
    fold as :func:`single_columns` does, fitted on the rows of the other folds; ``best_column``, its
    ``best_column_auc`` and the ``best_lift_at_10`` of any column are of those scores pooled over the
    folds, as the models' pooled metrics are. ``folds``: the fold of each row of ``table`` ``[n]``."""
    names = [n for n in table.column_names if n != target and n not in drop]
    numeric, categorical = _table_columns(table, names)
    y = table_labels(table, target, positive)
    found: dict[str, dict[str, float]] = {}
    for kind, columns in (("numeric", numeric), ("categorical", categorical)):
        for name, values in columns.items():
            pooled = np.zeros(len(y))
            for fold in np.unique(folds):
                held = folds == fold
                pooled[held] = _column_score(kind, values[~held], y[~held], values[held])
            found[name] = {"auc": float(roc_auc_score(y, pooled)), "lift_at_10": lift_at(y, pooled)}
    return _best(found)


def batch_regression_references(
    x_train: FeatureBatch, y_train: np.ndarray, x_test: FeatureBatch, y_test: np.ndarray
) -> dict[str, object]:
    """:func:`regression_references` of preprocessed features (``numeric j`` and ``categorical j``)."""
    (num_train, cat_train), (num_test, cat_test) = _batch_columns(x_train), _batch_columns(x_test)
    return regression_references((num_train, num_test), (cat_train, cat_test), y_train, y_test)


def _batch_columns(x: FeatureBatch) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return (
        {f"numeric {j}": x.numeric[:, j] for j in range(x.numeric.shape[1])},
        {f"categorical {j}": x.categorical[:, j] for j in range(x.categorical.shape[1])},
    )


def batch_multiclass_references(
    x_train: FeatureBatch, y_train: np.ndarray, x_test: FeatureBatch, y_test: np.ndarray
) -> dict[str, object]:
    """:func:`multiclass_references` of preprocessed features (``numeric j`` and ``categorical j``)."""
    (num_train, cat_train), (num_test, cat_test) = _batch_columns(x_train), _batch_columns(x_test)
    return multiclass_references((num_train, num_test), (cat_train, cat_test), y_train, y_test)


def batch_references(
    x_train: FeatureBatch,
    y_train: np.ndarray,
    x_test: FeatureBatch,
    y_test: np.ndarray,
    *,
    numeric_names: Sequence[str] | None = None,
    categorical_names: Sequence[str] | None = None,
    logistic: bool = True,
) -> dict[str, object]:
    """The references of preprocessed features on the test rows, as :func:`table_references` gives them
    (list features are left out; ``logistic=False``: without ``logistic_auc``, whose fit is the slow part
    on many rows).

    With the preprocessor's ``numeric_names_`` and ``categorical_names_``, a categorical field that encodes
    a numeric column (its levels, under the numeric column's name) is left out of the single columns: the
    numeric column is scored by its value, as the raw table's would be."""
    numeric_names = list(numeric_names or [f"numeric {j}" for j in range(x_train.numeric.shape[1])])
    categorical_names = list(categorical_names or [f"categorical {j}" for j in range(x_train.categorical.shape[1])])
    fields = [j for j, name in enumerate(categorical_names) if name not in numeric_names]

    def columns(x: FeatureBatch, kind: str) -> dict[str, np.ndarray]:
        if kind == "numeric":
            return {name: x.numeric[:, j] for j, name in enumerate(numeric_names)}
        return {categorical_names[j]: x.categorical[:, j] for j in fields}

    best = _best(
        single_columns(
            (columns(x_train, "numeric"), columns(x_test, "numeric")),
            (columns(x_train, "categorical"), columns(x_test, "categorical")),
            y_train,
            y_test,
        )
    )
    if not logistic:
        return best
    auc = logistic_regression_auc(
        (x_train.numeric, x_test.numeric), (x_train.categorical, x_test.categorical), y_train, y_test
    )
    return {**best, "logistic_auc": auc}
