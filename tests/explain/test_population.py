"""The population saved with a model: one customer alone is explained against the rows the model was fitted on,
as if those rows were given as the background; a damaged population.json is refused on loading."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from cli_run import run_cli
from needmap.errors import ArtifactError
from needmap.explain import population as population_module
from needmap.explain.population import POPULATION_FILE, Population
from needmap.model_place import write_manifest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rng = np.random.default_rng(3)
    n = 2500
    visits = rng.poisson(3, n).astype(np.float64)
    visits[rng.random(n) < 0.05] = np.nan
    channel = rng.choice(["web", "store", "phone"], n, p=[0.5, 0.3, 0.2])
    logit = 0.7 * (np.nan_to_num(visits) - 3) + np.where(channel == "web", 1.0, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    table = pa.table({"customer": [f"c{i}" for i in range(n)], "visits": visits, "channel": channel,
                      "noise": rng.normal(size=n), "y": y})  # fmt: skip
    folder = tmp_path_factory.mktemp("population")
    nm.Model("mlp", target="y", id="customer", epochs=3, seed=0, progress=False).fit(table).save(folder / "model")
    return table, folder


def test_one_customer_is_explained_as_against_the_training_rows(fitted) -> None:
    table, folder = fitted
    model = nm.load(folder / "model")
    assert (folder / "model" / POPULATION_FILE).is_file() and model.population_.rows == table.num_rows
    one = table.slice(7, 1)
    alone = model.attributions(one)
    against = model.attributions(one, background=table)
    np.testing.assert_allclose(alone.values, against.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone.reference_output, against.reference_output, rtol=1e-5)
    # the sentences compare with the training rows, not with the one row explained (which would say 0% or 100%)
    saved = model.explain(one, top=3).to_pylist()
    given = model.explain(one, top=3, background=table).to_pylist()
    assert [r["column"] for r in saved] == [r["column"] for r in given]
    for a, b in zip(saved, given, strict=True):
        if a["column"] == "channel":
            assert a["compared"] == b["compared"]
        elif a["compared"]:  # a number's rank among 1,001 quantiles: within one point of the exact one
            exact = int(b["compared"].split()[2].rstrip("%"))
            assert abs(int(a["compared"].split()[2].rstrip("%")) - exact) <= 1, (a, b)
    shares = {r["value"]: r["compared"] for r in model.explain(table.slice(0, 60), top=3) .to_pylist()
              if r["column"] == "channel"}  # fmt: skip
    assert shares.get("web", "as 50% of customers") == "as 50% of customers"


def test_the_command_explains_one_row_against_the_saved_population(fitted, tmp_path) -> None:
    import pyarrow.csv as pcsv

    table, folder = fitted
    pcsv.write_csv(table.slice(0, 1), tmp_path / "one.csv")
    code, text = run_cli("explain", folder / "model", tmp_path / "one.csv", "--out", tmp_path / "r.csv")
    assert code == 0, text
    compared = pcsv.read_csv(tmp_path / "r.csv").column("compared").to_pylist()
    assert not any(c in ("higher than 0% of customers", "as 100% of customers") for c in compared)


def test_a_large_table_is_summarized_from_a_sample(fitted, monkeypatch) -> None:
    table, folder = fitted
    monkeypatch.setattr(population_module, "SAMPLE_ROWS", 500)
    found = Population.of(table, nm.load(folder / "model").preprocessor_)
    assert found.rows == 500 and len(found.quantiles["visits"]) == population_module.QUANTILES + 1
    assert abs(found.shares["channel"]["web"] - 0.5) < 0.08


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d.update(format="other"), "not a population"),
        (lambda d: d["reference"].update(numeric=d["reference"]["numeric"][:-1]), "does not fit the model's inputs"),
        (lambda d: d["reference"].update(categorical=[10**6] * len(d["reference"]["categorical"])),
         "does not fit the model's inputs"),
        (lambda d: d["reference"].update(numeric=[None] * len(d["reference"]["numeric"])), "not a population"),
        (lambda d: d.pop("quantiles"), "not a population"),
    ],
)  # fmt: skip
def test_a_damaged_population_is_refused_on_loading(fitted, tmp_path, damage, message) -> None:
    _, folder = fitted
    copy = tmp_path / "model"
    shutil.copytree(folder / "model", copy)
    document = json.loads((copy / POPULATION_FILE).read_text())
    damage(document)
    (copy / POPULATION_FILE).write_text(json.dumps(document))
    write_manifest(copy)  # sealed again, as a hand edit would be: the population's own checks must refuse it
    with pytest.raises(ArtifactError, match=message):
        nm.load(copy)


def test_the_sample_taken_before_the_fit_summarizes_as_the_whole_table(fitted, monkeypatch) -> None:
    """A fit takes the population's rows (rows_of) before its preprocessor is fitted, so that the whole table can go
    once encoded: summarizing them is summarizing the whole table."""
    table, folder = fitted
    preprocessor = nm.load(folder / "model").preprocessor_
    monkeypatch.setattr(population_module, "SAMPLE_ROWS", 400)
    rows = Population.rows_of(table, seed=5)
    assert rows.num_rows == 400 and Population.rows_of(table, seed=6).column("customer") != rows.column("customer")
    whole = Population.of(table, preprocessor, seed=5).to_dict()
    assert Population.of(rows, preprocessor, seed=5).to_dict() == whole and whole["rows"] == 400
