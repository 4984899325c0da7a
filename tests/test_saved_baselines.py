"""The baselines saved with the model (baselines.json): JSON round trips that predict the same numbers, the
comparison on new labelled data (evaluate_with_baselines, needmap evaluate, needmap report)."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import torch
from typer.testing import CliRunner

import needmap as nm
from needmap.cli import app
from needmap.errors import ArtifactError
from needmap.model_place import write_manifest
from needmap.report import build_report
from needmap.workflows.baseline import (
    LGBM_MAX_ROUNDS,
    LIGHTGBM,
    LOGISTIC,
    RIDGE,
    Baseline,
    baselines_document,
    fit_baseline,
    fit_lightgbm,
    load_baselines,
)
from needmap.workflows.evaluate import evaluate_with_baselines
from needmap.workflows.train import run_train

SMALL = {"epochs": 2, "progress": False, "batch_size": 256, "hidden": (16,), "embedding_dim": 4}
runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> object:
    """A tiny network on a shared machine: one thread is several times faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(bank_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    """A small MLP trained by run_train on the bank slice, saved with its baselines; and its test rows. It
    answers with its network (select="network"), so that the network is what is compared with the saved
    baselines here; the choice of another scorer is tested in tests/test_selection*.py."""
    out = tmp_path_factory.mktemp("saved") / "bank"
    model = nm.Model("mlp", target="y", drop=["duration"], **SMALL)
    outcome = run_train(bank_table, model, out=out, n_boot=200, select="network")
    assert outcome.test_table is not None
    return out, outcome.test_table


@pytest.fixture(scope="module")
def test_csv(trained: tuple[Path, pa.Table], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The held-out rows as a ';'-separated CSV file: labelled rows the model did not train on."""
    path = tmp_path_factory.mktemp("holdout") / "holdout.csv"
    pacsv.write_csv(trained[1], path, write_options=pacsv.WriteOptions(delimiter=";"))
    return path


def _run(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


def _round_trip(base: Baseline) -> Baseline:
    """``base`` written as baselines.json text and read back."""
    text = json.dumps(baselines_document([base]), allow_nan=False)
    (loaded,) = load_baselines(json.loads(text))
    return loaded


# -- the JSON round trip -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["binary LR", "binary LightGBM", "multiclass", "regression"])
def test_each_baseline_predicts_the_same_after_its_json_round_trip(
    kind: str, trained: tuple[Path, pa.Table], bank_table: pa.Table
) -> None:
    prep = nm.load(trained[0]).preprocessor_
    assert prep is not None
    x, cards = prep.transform(bank_table), list(prep.cardinalities_)
    fit, rest = x.take(np.arange(2000)), x.take(np.arange(2000, 3000))
    y = np.asarray(prep.encode_target(bank_table))
    if kind == "binary LR":
        bases = [fit_baseline(fit, y[:2000], "binary", cards)]
    elif kind == "binary LightGBM":  # stops early: the kept rounds only are written
        valid = x.take(np.arange(2000, 2500))
        bases = [fit_lightgbm(fit, y[:2000], "binary", cards, x_valid=valid, y_valid=y[2000:2500])]
    elif kind == "multiclass":  # three classes of the first numeric column's thirds
        classes = np.digitize(x.numeric[:, 0], np.quantile(x.numeric[:, 0], [1 / 3, 2 / 3]))[:2000]
        bases = [fit_baseline(fit, classes, "multiclass", cards), fit_lightgbm(fit, classes, "multiclass", cards)]
    else:
        values = x.numeric[:2000, 1] * 3.0 + x.numeric[:2000, 2]
        bases = [fit_baseline(fit, values, "regression", cards), fit_lightgbm(fit, values, "regression", cards)]
    for base in bases:
        again = _round_trip(base)
        before, after = base.predict(rest), again.predict(rest)
        np.testing.assert_array_equal(after, before)
        assert (again.name, again.task, again.cardinalities, again.rounds) == (
            base.name,
            base.task,
            base.cardinalities,
            base.rounds,
        )
        if base.name == LIGHTGBM:
            assert isinstance(again.estimator, lgb.Booster)  # rebuilt from LightGBM's model text
            assert again.estimator.num_trees() == base.rounds * (3 if kind == "multiclass" else 1)
            design = base._inputs(rest)  # the Booster gives the numbers of the fitted estimator
            sk = base.estimator.predict_proba(design) if base.task != "regression" else base.estimator.predict(design)
            np.testing.assert_allclose(before, sk[:, 1] if base.task == "binary" else sk, rtol=1e-12, atol=0)
        else:
            assert type(again.estimator) is type(base.estimator)
    if kind == "binary LightGBM":
        assert bases[0].rounds is not None and bases[0].rounds < LGBM_MAX_ROUNDS
    if kind == "multiclass":
        assert bases[0].predict(rest).shape == (1000, 3)
    if kind == "regression":
        assert bases[0].name == RIDGE


# -- the model directory -------------------------------------------------------------------------------
def test_the_saved_baselines_learnt_from_the_networks_training_rows_alone(trained: tuple[Path, pa.Table]) -> None:
    """baselines.json holds baselines fitted on the rows that trained the network: LightGBM's trees (no
    bagging) each hold that many rows at their root, not the validation rows and not the test rows too."""
    out, test = trained
    report = json.loads((out / "metrics.json").read_text())["report"]
    assert report["test_rows"] == test.num_rows and report["validation_rows"] > 0
    (_, lightgbm) = load_baselines(json.loads((out / "baselines.json").read_text()))
    roots = {tree["tree_structure"]["internal_count"] for tree in lightgbm.estimator.dump_model()["tree_info"]}
    assert roots == {report["train_rows"]}, (roots, report)


def test_train_saves_the_baselines_and_they_score_the_test_rows_as_in_training(trained: tuple[Path, pa.Table]) -> None:
    out, test = trained
    document = json.loads((out / "baselines.json").read_text())
    assert document["version"] == 1 and [b["name"] for b in document["baselines"]] == [LOGISTIC, LIGHTGBM]
    assert isinstance(document["baselines"][1]["model"], str)  # LightGBM's own model text, inside the JSON
    loaded = nm.load(out)
    result = evaluate_with_baselines(loaded, test, n_boot=200, seed=0)
    evaluation = json.loads((out / "evaluation.json").read_text())
    for name in (LOGISTIC, LIGHTGBM):  # the same numbers as training's evaluation.json on the same rows
        assert result["baselines"][name] == evaluation["models"][name]["metrics"]
    chosen = evaluation["primary"]  # the scorer chosen on the validation rows, as training judged it
    assert result["primary"] == chosen
    deep = {k: v for k, v in result["metrics"].items() if k != "rows_without_target"}
    assert deep == pytest.approx(evaluation["models"][chosen]["metrics"], rel=1e-12)
    assert result["metrics"] == loaded.evaluate(test)  # the chosen scorer's metrics as Predictor.evaluate gives them
    assert result["comparisons"] == evaluation["comparisons"]
    others = [m for m in ("mlp network", LOGISTIC, LIGHTGBM) if m != chosen]
    assert [c["baseline"] for c in result["comparisons"]] == others
    assert result["rows"] == test.num_rows and result["rows_without_target"] == 0
    assert list(result["evaluation"]["models"]) == [chosen, *others]
    # on new rows the saved decision is reported as it holds up, with the same evidence, not chosen again
    evidence = evaluation["verdict"].split("On the test rows: ")[1].replace("the test rows", "WHERE")
    assert result["verdict"] == (
        f"The saved choice, {_label(chosen)}, on {result['evaluation']['data']}: "
        + evidence.replace("WHERE", result["evaluation"]["data"])
    )
    y = test.column("y").to_pylist()
    unlabelled = test.set_column(test.column_names.index("y"), "y", pa.array([None] * 7 + y[7:], pa.string()))
    partial = evaluate_with_baselines(loaded, unlabelled, n_boot=50)
    assert partial["rows_without_target"] == partial["metrics"]["rows_without_target"] == 7
    assert partial["rows"] == test.num_rows - 7 == partial["baselines"][LOGISTIC]["n"]


def test_a_corrupted_baselines_json_is_a_clear_artifact_error(
    trained: tuple[Path, pa.Table], test_csv: Path, tmp_path: Path
) -> None:
    out = trained[0]
    document = json.loads((out / "baselines.json").read_text())
    changed = json.loads(json.dumps(document))
    changed["baselines"][1]["model"] = changed["baselines"][1]["model"].replace("leaf_value=", "leaf_value=1", 1)
    copy = tmp_path / "changed"
    shutil.copytree(out, copy)
    (copy / "baselines.json").write_text(json.dumps(changed))
    write_manifest(copy)  # sealed again: the baseline's own sha256 must catch the edit
    code, output = _run("evaluate", copy, test_csv)
    assert code == 2 and "baselines.json" in output and "baseline 2 (LightGBM)" in output and "sha256" in output
    assert str(copy) in output
    (copy / "baselines.json").write_text(json.dumps(document)[:500])
    write_manifest(copy)
    with pytest.raises(ArtifactError, match=r"'baselines.json' is not valid JSON"):
        nm.load(copy)
    no_coef = json.loads(json.dumps(document))
    del no_coef["baselines"][0]["coef"]
    with pytest.raises(ArtifactError, match=r"'baselines.json': baseline 1 \(logistic regression\) has coef None"):
        load_baselines(no_coef)
    with pytest.raises(ArtifactError, match=r"'baselines.json': the document has version 2; expected version 1"):
        load_baselines({**document, "version": 2})
    wrong_task = json.loads(json.dumps(document))
    wrong_task["baselines"][1]["task"] = "multiclass"
    with pytest.raises(ArtifactError, match=r"baseline 2 \(LightGBM\) is a multiclass baseline whose LightGBM model"):
        load_baselines(wrong_task)
    assert [b.target for b in load_baselines(document)] == [None, None]  # a single-target model's
    targeted = json.loads(json.dumps(document))
    targeted["baselines"][0]["target"] = "y"
    assert load_baselines(targeted)[0].target == "y"
    targeted["baselines"][0]["target"] = 3
    with pytest.raises(ArtifactError, match=r"baseline 1 \(logistic regression\) has the target 3"):
        load_baselines(targeted)


# -- the command line ----------------------------------------------------------------------------------
def test_evaluate_prints_every_model_and_the_verdict(
    trained: tuple[Path, pa.Table], test_csv: Path, tmp_path: Path
) -> None:
    out = trained[0]
    code, output = _run("evaluate", out, test_csv, "--json-out", tmp_path / "m.json")
    assert code == 0, output
    expected = evaluate_with_baselines(nm.load(out), nm.read(test_csv))
    header = re.search(r"metric .*? auc", output)
    assert header and all(name in header.group(0) for name in ("mlp network", LOGISTIC, LIGHTGBM))
    auc_row = re.search(r"│ auc (.*?) │ logloss", output)
    assert auc_row, output
    aucs = [float(v) for v in re.findall(r"\d\.\d{4}", auc_row.group(1))]
    assert aucs == [round(m["auc"], 4) for m in (expected["metrics"], *expected["baselines"].values())]
    assert f"verdict: {expected['verdict']}" in output
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["auc"] == pytest.approx(expected["metrics"]["auc"])  # the deep model's keys as before
    assert saved["baselines"] == expected["baselines"] and saved["verdict"] == expected["verdict"]
    assert saved["comparisons"] == expected["comparisons"]
    code, output = _run("evaluate", out, test_csv, "--no-baselines", "--json-out", tmp_path / "alone.json")
    assert code == 0 and LIGHTGBM not in output and "verdict" not in output and "no saved baselines" not in output
    alone = json.loads((tmp_path / "alone.json").read_text())
    assert "baselines" not in alone and alone["auc"] == saved["auc"]


def test_a_model_trained_without_baselines_has_none_and_evaluate_says_so(
    bank_table: pa.Table, test_csv: Path, tmp_path: Path
) -> None:
    model = nm.Model("mlp", target="y", drop=["duration"], **{**SMALL, "epochs": 1})
    outcome = run_train(bank_table.slice(0, 1500), model, out=tmp_path / "plain", baseline=False)
    assert outcome.out is not None and not (outcome.out / "baselines.json").exists()
    assert (outcome.out / "evaluation.json").exists()
    code, output = _run("evaluate", outcome.out, test_csv, "--json-out", tmp_path / "m.json")
    assert code == 0, output
    assert "the model has no saved baselines (no baselines.json)" in output and "verdict" not in output
    assert "baselines" not in json.loads((tmp_path / "m.json").read_text())
    result = evaluate_with_baselines(nm.load(outcome.out), nm.read(test_csv))
    assert result["baselines"] == {} and result["verdict"] is None


# -- the report ----------------------------------------------------------------------------------------
def _section(text: str, ident: str) -> str:
    match = re.search(rf'<section id="{ident}">(.*?)</section>', text, re.S)
    assert match, ident
    return match.group(1)


def test_report_with_data_compares_with_the_saved_baselines_on_it(
    trained: tuple[Path, pa.Table], test_csv: Path, tmp_path: Path
) -> None:
    out = trained[0]
    data = nm.read(test_csv)
    text = build_report(out, data, out=tmp_path / "report.html").read_text()
    baselines = _section(text, "baselines")
    expected = evaluate_with_baselines(nm.load(out), data)
    evaluation = json.loads((out / "evaluation.json").read_text())
    verdicts = re.findall(r'<div class="verdict[^"]*" data-verdict>(.*?)</div>', baselines)
    assert verdicts == [html.escape(evaluation["verdict"]), html.escape(expected["verdict"])]
    assert "<h3>On holdout.csv</h3>" in baselines and "<h3>Paired bootstrap over holdout.csv</h3>" in baselines
    on_data = baselines.split("<h3>On holdout.csv</h3>")[1]
    for name, metrics in {"mlp network": expected["metrics"], **expected["baselines"]}.items():
        assert re.search(rf"<td>{name}</td><td>(deep|baseline)</td><td class=num>{metrics['auc']:.4f}</td>", on_data)
    roc = _section(text, "roc")  # the charts as before: every model on the test rows, the deep one on the data
    assert re.search(r'data-series="mlp network on holdout.csv \(AUC [^"]*\)"[^>]*stroke-dasharray', roc)
    assert f'data-series="{LOGISTIC} (AUC' in roc and f"{LOGISTIC} on holdout.csv" not in roc
    alone = build_report(out, out=tmp_path / "alone.html").read_text()
    assert "On holdout.csv" not in alone and len(re.findall("data-verdict", _section(alone, "baselines"))) == 1


def _label(chosen: str) -> str:
    """A chosen scorer in the verdict's words (the blend's weights are checked by the selection's own tests)."""
    return {"mlp network": "the mlp network"}.get(chosen, chosen)
