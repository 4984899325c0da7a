"""Reason codes: the columns that raise and lower each score, as sentences, from Python and the command line."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

import needmap as nm
from cli_run import run_cli
from needmap.explain.attributions import Attributions
from needmap.explain.reasons import reason_table

pytestmark = pytest.mark.slow


def test_reason_sentences_by_hand() -> None:
    table = pa.table({"id": ["u1", "u2"], "age": [62, 30], "city": ["porto", "lisboa"], "visits": [5, 0]})
    found = Attributions(
        ["age", "city", "visits"], np.array([[0.5, -0.2, 0.1], [-0.3, 0.0, 0.4]]), np.zeros(2), np.zeros(2),
        np.zeros(2), {},
    )  # fmt: skip
    reasons = reason_table(found, table, ids=["id"], top=1).to_pylist()
    assert [(r["id"], r["rank"], r["effect"], r["column"]) for r in reasons] == [
        ("u1", 1, "raises", "age"), ("u1", 1, "lowers", "city"), ("u2", 1, "raises", "visits"),
        ("u2", 1, "lowers", "age"),
    ]  # fmt: skip
    assert reasons[0]["reason"] == "age 62, higher than 50% of customers: raises the score"
    assert reasons[1]["reason"] == "city porto, as 50% of customers: lowers the score"
    assert reasons[3]["reason"] == "age 30, lower than 50% of customers: lowers the score"


@pytest.fixture(scope="module")
def bank_like(tmp_path_factory):
    rng = np.random.default_rng(1)
    n = 3000
    visits = rng.poisson(2, n)
    channel = rng.choice(["web", "store", "phone"], n)
    logit = 0.8 * (visits - 2) + np.where(channel == "web", 1.0, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    table = pa.table({"customer": [f"c{i}" for i in range(n)], "visits": visits, "channel": channel,
                      "noise": rng.normal(size=n), "y": y})  # fmt: skip
    folder = tmp_path_factory.mktemp("explain")
    pcsv.write_csv(table, folder / "rows.csv")
    model = nm.Model("mlp", target="y", id="customer", epochs=4, seed=0, progress=False).fit(table)
    model.save(folder / "model")
    return table, folder


def test_the_predictor_explains_with_ids_as_they_came_in(bank_like) -> None:
    table, folder = bank_like
    reasons = nm.load(folder / "model").explain(table.slice(0, 20), top=2, background=table)
    assert reasons.column_names == [
        "customer",
        "rank",
        "effect",
        "column",
        "value",
        "compared",
        "attribution",
        "reason",
    ]
    assert set(reasons.column("customer").to_pylist()) <= set(table.column("customer").to_pylist()[:20])
    first = [r for r in reasons.to_pylist() if r["customer"] == "c0"]
    assert len(first) <= 4 and all(r["column"] in ("visits", "channel", "noise") for r in first)
    top = max(first, key=lambda r: abs(r["attribution"]))
    assert top["column"] in ("visits", "channel")


def test_the_explain_command(bank_like, tmp_path) -> None:
    _, folder = bank_like
    code, text = run_cli("explain", folder / "model", folder / "rows.csv", "--top", "3", "--out", tmp_path / "r.csv")
    assert code == 0, text
    reasons = pcsv.read_csv(tmp_path / "r.csv")
    assert "reasons for 3,000 rows" in text and reasons.num_rows > 3000
    assert set(reasons.column("effect").to_pylist()) == {"raises", "lowers"}
    code, text = run_cli("explain", folder / "model", folder / "rows.csv", "--top", "0", "--out", tmp_path / "x.csv")
    assert code != 0 and "--top is 0" in text
