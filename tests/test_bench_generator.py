"""benchmarks/make_criteo_like.py: the seeded Criteo-shaped generator of the accuracy benchmark.

The generator lives beside the benchmarks, not in the package, so it is imported by path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

GENERATOR = Path(__file__).resolve().parents[1] / "benchmarks" / "make_criteo_like.py"
ROWS = 20_000


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("needmap_bench_make_criteo_like", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load()


@pytest.fixture(scope="module")
def made(gen: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 20k rows twice (seed 3) and 2k rows of another seed."""
    root = tmp_path_factory.mktemp("criteo_like")
    paths = {"a": root / "a" / "c.parquet", "b": root / "b" / "c.parquet", "other": root / "o" / "c.parquet"}
    gen.generate(ROWS, paths["a"], seed=3)
    gen.generate(ROWS, paths["b"], seed=3)
    gen.generate(2_000, paths["other"], seed=4)
    return paths


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _meta(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".meta.json").read_text())


def test_same_seed_gives_an_identical_file_and_another_seed_does_not(gen: ModuleType, made: dict[str, Path]) -> None:
    assert _sha(made["a"]) == _sha(made["b"])
    first = pq.read_table(made["a"]).slice(0, 2_000)
    other = pq.read_table(made["other"])
    assert not first.equals(other)
    meta_a, meta_b = _meta(made["a"]), _meta(made["b"])
    for key in ("positive_rate", "oracle_auc", "oracle_logloss", "auc_without_interactions"):
        assert meta_a[key] == meta_b[key]
    assert not list(made["a"].parent.glob("*.partial"))


def test_layout_is_label_thirteen_counts_and_twenty_six_categories(gen: ModuleType, made: dict[str, Path]) -> None:
    table = pq.read_table(made["a"])
    assert table.num_rows == ROWS
    assert table.column_names == ["label"] + [f"I{k}" for k in range(1, 14)] + [f"C{j}" for j in range(1, 27)]
    assert all(str(table.schema.field(f"I{k}").type) == "int64" for k in range(1, 14))
    assert all(str(table.schema.field(f"C{j}").type) == "string" for j in range(1, 27))
    tokens = table.column("C3").drop_null()
    assert set(pc.utf8_length(tokens).to_pylist()) == {8}
    assert pc.all(pc.match_substring_regex(tokens, "^[0-9a-f]{8}$")).as_py()


def test_about_a_quarter_of_rows_are_positive(made: dict[str, Path]) -> None:
    label = pq.read_table(made["a"]).column("label").to_numpy()
    assert set(np.unique(label).tolist()) == {0, 1}
    assert 0.22 < label.mean() < 0.28
    assert _meta(made["a"])["positive_rate"] == pytest.approx(label.mean())


def test_missing_values_follow_the_configured_shares(gen: ModuleType, made: dict[str, Path]) -> None:
    table = pq.read_table(made["a"])
    for k, share in enumerate(gen.INT_MISSING, start=1):
        found = table.column(f"I{k}").null_count / ROWS
        assert found == pytest.approx(share, abs=0.015), f"I{k}"
    for j, share in enumerate(gen.CAT_MISSING, start=1):
        found = table.column(f"C{j}").null_count / ROWS
        assert found == pytest.approx(share, abs=0.015), f"C{j}"
    assert table.column("I12").null_count > 0.7 * ROWS
    assert table.column("C1").null_count == 0


def test_counts_are_heavy_tailed_and_categories_zipf_shaped(gen: ModuleType, made: dict[str, Path]) -> None:
    table = pq.read_table(made["a"])
    counts = table.column("I5").drop_null().to_numpy()
    assert counts.min() >= 0 and np.percentile(counts, 99.9) > 20 * np.median(counts)
    assert table.column("I2").drop_null().to_numpy().min() < 0
    big = table.column("C3").drop_null()  # cardinality 1,000,000
    values = pc.value_counts(big).field("counts").to_numpy()
    assert len(values) > 3_000  # a long tail of rare values
    assert values.max() > 0.05 * len(big)  # and a heavy head
    assert len(pc.unique(table.column("C9"))) <= gen.CAT_CARDINALITY[8]


def test_interactions_carry_signal_the_oracle_sees(made: dict[str, Path]) -> None:
    meta = _meta(made["a"])
    assert 0.75 < meta["oracle_auc"] < 0.92
    assert meta["oracle_auc"] > meta["auc_without_interactions"] + 0.03
    assert meta["rows"] == ROWS and meta["seed"] == 3


def test_zipf_ranks_stay_in_range_and_favour_low_ranks(gen: ModuleType) -> None:
    ranks = gen.zipf_ranks(np.random.default_rng(0), 50_000, 1_000, 1.2)
    assert ranks.min() == 0 and ranks.max() <= 999
    assert (ranks == 0).mean() > 5 * (ranks == 10).mean()
    assert gen.zipf_ranks(np.random.default_rng(0), 100, 4, 1.0).max() <= 3


def test_auc_of_the_generator_matches_a_direct_count(gen: ModuleType) -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.4])
    pairs = [(p, q) for p in score[y == 1] for q in score[y == 0]]
    expected = np.mean([1.0 if p > q else 0.5 if p == q else 0.0 for p, q in pairs])
    assert gen.auc(y, score) == pytest.approx(expected)


def test_zero_rows_is_refused(gen: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1 row"):
        gen.generate(0, tmp_path / "x.parquet")
