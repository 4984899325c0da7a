"""The public surface: workflows, report and command line use public methods only; Model keeps scikit-learn's
estimator contract (parameters only, get_params / set_params / clone, fit returns self and leaves its
parameters alone) and its fitted state lives in one Predictor, which needmap.load gives back. The tests that
fit a model (directly or through the ``fitted`` fixture) are marked slow."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import needmap as nm
from needmap.errors import ConfigError
from needmap.preprocessing.target import target_names, target_tasks

SRC = Path(nm.__file__).parent
FAST = {"epochs": 1, "progress": False, "batch_size": 256, "hidden": (16,), "embedding_dim": 4}


# -- no private access from the faces and the workflows ---------------------------------------------------
def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str) -> list[str]:
    """``line: code`` of each use of another object's private name in ``source``: ``obj._name`` (read or
    called) on anything but ``self`` / ``cls``, ``getattr(obj, "_name")`` and the like, and
    ``from module import _name``. A module's own ``_helper(...)`` is a plain name and is allowed."""
    found = []
    for node in ast.walk(ast.parse(source)):
        hit = None
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                hit = node
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value):
                    hit = node
        elif isinstance(node, ast.ImportFrom) and any(_private(alias.name) for alias in node.names):
            hit = node
        if hit is not None:
            found.append((hit.lineno, hit.col_offset, f"{hit.lineno}: {ast.get_source_segment(source, hit)}"))
    return [text for *_, text in sorted(found)]


def _face_modules() -> list[Path]:
    files = [*sorted((SRC / "workflows").rglob("*.py")), *sorted((SRC / "report").rglob("*.py"))]
    files += sorted(SRC.glob("cli*.py")) + sorted((SRC / "cli").rglob("*.py")) + sorted(SRC.glob("demo.py"))
    return files


def test_the_checker_finds_private_access_and_lets_own_names_pass() -> None:
    source = (
        "def run(model, x):\n"
        "    model._check_fitted()\n"
        "    out = model.predictor_._outputs(x)\n"
        "    state = getattr(model, '_one_row', None)\n"
        "    from needmap.workflows.tune import _variant\n"
        "    return _helper(self._cache, cls._registry, model.__class__, out, state)\n"
    )
    assert private_uses(source) == [
        "2: model._check_fitted",
        "3: model.predictor_._outputs",
        "4: getattr(model, '_one_row', None)",
        "5: from needmap.workflows.tune import _variant",
    ]


def test_workflows_report_and_cli_use_no_private_name_of_another_object() -> None:
    files = _face_modules()
    names = {str(f.relative_to(SRC)) for f in files}
    assert {"workflows/train.py", "workflows/tune.py", "report/build.py", "cli/commands/train.py", "demo.py"} <= names
    found = {
        str(path.relative_to(SRC)): uses for path in files if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}


# -- scikit-learn's estimator contract ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rows(bank_table: pa.Table) -> tuple[pa.Table, pa.Table]:
    idx = np.random.default_rng(5).permutation(bank_table.num_rows)
    return bank_table.take(pa.array(idx[:900])), bank_table.take(pa.array(idx[900:1200]))


@pytest.fixture(scope="module")
def fitted(rows: tuple[pa.Table, pa.Table]) -> nm.Model:
    return nm.Model("mlp", target="y", drop=["duration"], calibrate="platt", seed=4, **FAST).fit(rows[0])


def _model() -> nm.Model:
    return nm.Model(
        "deepfm",
        target="y",
        drop="duration,pdays",
        hash={"job": 64},
        preprocess={"min_frequency": 2},
        calibrate="isotonic",
        lr=0.01,
        embedding_dim=4,
        clip_quantiles=None,
    )


def test_get_params_gives_the_constructor_parameters_as_given_and_round_trips() -> None:
    model = _model()
    params = model.get_params()
    assert params["drop"] == "duration,pdays" and params["hash"] == {"job": 64} and params["calibrate"] == "isotonic"
    assert params["model"] == "deepfm" and params["preprocess"] == {"min_frequency": 2}
    assert {k: params[k] for k in ("lr", "embedding_dim", "clip_quantiles")} == {
        "lr": 0.01,
        "embedding_dim": 4,
        "clip_quantiles": None,
    }
    assert nm.Model(**params).get_params() == params
    assert model.get_params(deep=False) == params
    # The keyword options, sorted by name as fit reads them.
    assert model.train_options == {"lr": 0.01} and model.params == {"embedding_dim": 4}
    assert model.preprocess_options == {"min_frequency": 2, "clip_quantiles": None}


def test_set_params_sets_named_parameters_and_options_and_checks_them() -> None:
    model = _model()
    assert model.set_params(calibrate=None, lr=0.1, dropout=0.3, drop=["duration"]) is model
    params = model.get_params()
    assert params["calibrate"] is None and params["drop"] == ["duration"]
    assert model.train_options == {"lr": 0.1} and model.params == {"embedding_dim": 4, "dropout": 0.3}
    with pytest.raises(ConfigError, match=r"'sigmoid'.*'isotonic', 'platt'"):
        model.set_params(calibrate="sigmoid")
    with pytest.raises(ConfigError, match=r"'sigmoid'.*'isotonic', 'platt'"):
        nm.Model("mlp", target="y", calibrate="sigmoid")


@pytest.mark.slow
def test_clone_has_equal_parameters_deep_copied_and_no_fitted_state(fitted: nm.Model) -> None:
    model = _model()
    for copied in (nm.clone(model), model.clone()):
        assert type(copied) is nm.Model and copied is not model
        assert copied.get_params() == model.get_params()
        assert copied.get_params()["hash"] is not model.get_params()["hash"]
    again = nm.clone(fitted)
    assert again.get_params() == fitted.get_params()
    assert again.predictor_ is None and again.schema_ is None and again.network_ is None
    assert again.metrics_ == {} and again.extras_ == {} and fitted.extras_ != {}
    with pytest.raises(ConfigError, match="not fitted"):
        again.predict_proba({"age": 40})


@pytest.mark.slow
@pytest.mark.parametrize("target", ["y", "y,age"])
def test_fit_returns_self_and_leaves_its_parameters_alone(rows: tuple[pa.Table, pa.Table], target: str) -> None:
    model = nm.Model("mlp", target=target, drop=["duration"], bucketize={"*": 4}, **FAST)
    before = copy.deepcopy(model.get_params())
    assert model.fit(rows[0], epochs=1, validation=0.2) is model
    assert model.get_params() == before  # "y,age": two targets and their tasks inferred, target still "y,age"
    assert isinstance(model.predictor_, nm.Predictor)
    assert target_names(model.schema_) == target.split(",")
    assert target_tasks(model.schema_) == ["binary", "regression"][: len(target.split(","))]


@pytest.mark.slow
def test_the_fitted_state_lives_in_the_predictor_alone(fitted: nm.Model) -> None:
    assert {name for name in vars(fitted) if name.endswith("_")} == {"predictor_"}
    predictor = fitted.predictor_
    assert fitted.schema_ is predictor.schema_ and fitted.network_ is predictor.network_
    assert fitted.calibrator_ is predictor.calibrator_ and fitted.metrics_ is predictor.metrics_
    with pytest.raises(AttributeError):
        fitted.schema_ = None  # read-only: the state is set by fit alone
    with pytest.raises(TypeError):
        nm.Model("mlp", target="y").extras_["tuning.json"] = {}  # nothing to keep it in before fit


@pytest.mark.slow
def test_a_loaded_predictor_scores_as_the_fitted_model(
    fitted: nm.Model, rows: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    test = rows[1]
    loaded = nm.load(fitted.save(tmp_path / "model"))
    assert isinstance(loaded, nm.Predictor) and loaded.calibrate == "platt" and loaded.model == "mlp"
    np.testing.assert_array_equal(loaded.predict_proba(test), fitted.predict_proba(test))
    assert loaded.predict(test).equals(fitted.predict(test))
    assert loaded.evaluate(test) == fitted.evaluate(test)
    batch = loaded.preprocessor_.transform(test)
    np.testing.assert_array_equal(loaded.score(batch), fitted.predictor_.score(batch))
    row = test.drop(["y"]).to_pylist()[0]
    np.testing.assert_array_equal(loaded.predict_proba(row), fitted.predict_proba(row))
    assert loaded.model_description() == fitted.model_description()
    again = nm.load(loaded.save(tmp_path / "again"))
    np.testing.assert_array_equal(again.predict_proba(test), fitted.predict_proba(test))
