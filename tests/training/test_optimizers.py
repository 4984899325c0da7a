"""Sparse embedding updates (row-wise lazy Adam) and bfloat16 training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from training_helpers import CARDS, N_NUMERIC, best_column_auc, binary_data, small_mlp

from needmap.errors import ConfigError
from needmap.metrics import binary_metrics
from needmap.models import build_model
from needmap.runtime import precision as precision_module
from needmap.runtime.precision import precision_context
from needmap.training import TrainConfig, Trainer, predict_proba
from needmap.training.optimizers import (
    SPARSE_MIN_ROWS,
    LazyAdam,
    Optimizers,
    embedding_rows,
    embedding_tables,
    resolve_embedding_updates,
)


def quiet(**options: object) -> TrainConfig:
    return TrainConfig(progress=False, threads=1, **options)


def test_auto_is_dense_for_small_tables_and_sparse_for_large_ones() -> None:
    small = small_mlp()
    assert embedding_rows(small) == sum(CARDS)
    assert resolve_embedding_updates(quiet(), small) == "dense"
    large = build_model("deepfm", n_numeric=1, cardinalities=[SPARSE_MIN_ROWS - 10, 10], n_outputs=1, embedding_dim=2)
    # DeepFM's field table and its first-order table: two tables, each with every id.
    assert embedding_rows(large) == 2 * SPARSE_MIN_ROWS
    assert len(embedding_tables(large)) == 2
    assert resolve_embedding_updates(quiet(), large) == "sparse"
    assert resolve_embedding_updates(quiet(embedding_updates="dense"), large) == "dense"
    # 'auto' does not pick sparse updates where they would change the training: other optimizers, weight decay.
    assert resolve_embedding_updates(quiet(optimizer="sgd"), large) == "dense"
    assert resolve_embedding_updates(quiet(weight_decay=1e-5), large) == "dense"


def test_explicit_sparse_that_cannot_hold_is_an_error() -> None:
    model = small_mlp()
    assert resolve_embedding_updates(quiet(embedding_updates="sparse"), model) == "sparse"
    with pytest.raises(ConfigError, match="needs optimizer 'adam'"):
        resolve_embedding_updates(quiet(embedding_updates="sparse", optimizer="rmsprop"), model)
    with pytest.raises(ConfigError, match="no weight decay"):
        resolve_embedding_updates(quiet(embedding_updates="sparse", weight_decay=0.01), model)
    with pytest.raises(ConfigError, match="embedding_updates is"):
        quiet(embedding_updates="lazy")
    with pytest.raises(ConfigError, match="precision is"):
        quiet(precision="fp16")


def _two_steps(updates: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Row 2 of column 0 before and after a second step whose batch does not look it up."""
    model = small_mlp(seed=3)
    optimizers = Optimizers(model, quiet(embedding_updates=updates), "max", updates)
    table = embedding_tables(model)[0]
    numeric = torch.randn(8, N_NUMERIC)
    for ids in (2, 3):  # step 1 looks up id 2 of column 0, step 2 only id 3
        categorical = torch.tensor([[ids, 1]] * 8)
        optimizers.zero_grad()
        model(numeric, categorical).sum().backward()
        if ids == 2:
            assert table.weight.grad.is_sparse == (updates == "sparse")
            optimizers.step()
            before = table.weight[2].detach().clone()
        else:
            optimizers.step()
    return before, table.weight[2].detach().clone()


def test_sparse_updates_touch_only_the_rows_of_the_batch() -> None:
    # Dense Adam keeps moving a row by its momentum after the batches stop looking it up; row-wise lazy
    # Adam updates (and decays the moments of) only the rows a batch holds.
    before, after = _two_steps("sparse")
    assert torch.equal(before, after)
    before, after = _two_steps("dense")
    assert not torch.equal(before, after)


def _lazy_steps(tables: list[torch.nn.Embedding], optimizers: list[torch.optim.Optimizer]) -> None:
    """Five steps of a squared loss on each table with its optimizer; repeated ids inside a batch."""
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        ids = torch.randint(0, 20, (64,), generator=generator)  # rows 20-49 are never looked up
        target = torch.randn(64, 4, generator=generator)
        for table, optimizer in zip(tables, optimizers, strict=True):
            optimizer.zero_grad()
            ((table(ids) - target) ** 2).sum().backward()
            optimizer.step()


def test_lazy_adam_with_a_moment_per_weight_matches_torch_sparse_adam() -> None:
    torch.manual_seed(0)
    tables = [torch.nn.Embedding(50, 4, sparse=True) for _ in range(2)]
    tables[1].load_state_dict(tables[0].state_dict())
    start = tables[0].weight.detach().clone()
    ours = LazyAdam([tables[0].weight], lr=0.01, rowwise=False)
    _lazy_steps(tables, [ours, torch.optim.SparseAdam([tables[1].weight], lr=0.01)])
    assert torch.allclose(tables[0].weight, tables[1].weight, atol=1e-6)
    assert not torch.equal(tables[0].weight[:20], start[:20])
    assert torch.equal(tables[0].weight[20:], start[20:])
    assert ours.state[tables[0].weight]["exp_avg_sq"].shape == (50, 4)
    dense = torch.nn.Embedding(5, 2)
    dense(torch.tensor([1])).sum().backward()
    with pytest.raises(ConfigError, match="sparse gradients"):
        LazyAdam([dense.weight]).step()


class _RowwiseReference(torch.optim.Optimizer):
    """Row-wise Adam written out densely, row by row, from LazyAdam's docstring: the reference."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None) -> None:
        b1, b2, eps = 0.9, 0.999, 1e-8
        for param in self.param_groups[0]["params"]:
            grad = param.grad.coalesce()
            state = self.state[param]
            if not state:
                state.update(t=0, m=torch.zeros_like(param), v=torch.zeros(param.shape[0]))
            state["t"] += 1
            t = state["t"]
            for row, g in zip(grad.indices()[0].tolist(), grad.values(), strict=True):
                state["m"][row] = b1 * state["m"][row] + (1 - b1) * g
                state["v"][row] = b2 * state["v"][row] + (1 - b2) * (g * g).mean()
                size = self.param_groups[0]["lr"] * (1 - b2**t) ** 0.5 / (1 - b1**t)
                param[row] -= size * state["m"][row] / (state["v"][row].sqrt() + eps)


def test_lazy_adam_keeps_one_second_moment_per_row_by_default() -> None:
    torch.manual_seed(0)
    tables = [torch.nn.Embedding(50, 4, sparse=True) for _ in range(3)]
    for table in tables[1:]:
        table.load_state_dict(tables[0].state_dict())
    ours = LazyAdam([tables[0].weight], lr=0.01)
    per_weight = LazyAdam([tables[2].weight], lr=0.01, rowwise=False)
    _lazy_steps(tables, [ours, _RowwiseReference([tables[1].weight], lr=0.01), per_weight])
    assert torch.allclose(tables[0].weight, tables[1].weight, atol=1e-6)
    assert not torch.allclose(tables[0].weight, tables[2].weight, atol=1e-4)  # a different update rule
    state = ours.state[tables[0].weight]
    assert state["exp_avg_sq"].shape == (50,) and state["exp_avg"].shape == (50, 4)
    assert torch.equal(state["exp_avg_sq"][20:], torch.zeros(30))  # never looked up: never touched


def test_sparse_training_learns_and_leaves_dense_lookups(tmp_path) -> None:
    split = (*binary_data(1500, seed=1), *binary_data(500, seed=2))
    train, y_train, valid, y_valid = split
    model = small_mlp()
    config = quiet(epochs=8, batch_size=128, lr=3e-3, embedding_updates="sparse")
    result = Trainer(model, "binary", config).fit(train, y_train, valid, y_valid)
    assert result.embedding_updates == "sparse"
    auc, reference = binary_metrics(y_valid, predict_proba(model, valid))["auc"], best_column_auc(*split)
    assert auc > reference, (auc, reference)  # the category's embedding learned beside x0 and x1
    assert not any(t.sparse for t in embedding_tables(model))


def test_bf16_autocast_runs_matrix_products_in_bfloat16() -> None:
    if not precision_module.cpu_has_bf16():
        with pytest.raises(ConfigError, match="native bfloat16"):
            precision_context("bf16")
        return
    layer = torch.nn.Linear(4, 3)
    with precision_context("bf16")():
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    with precision_context("fp32")():
        assert layer(torch.randn(2, 4)).dtype == torch.float32


def test_bf16_without_native_support_is_an_error(monkeypatch) -> None:
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: False)
    with pytest.raises(ConfigError, match="native bfloat16"):
        precision_context("bf16")


@pytest.mark.slow
def test_bf16_training_reaches_the_float32_auc() -> None:
    if not precision_module.cpu_has_bf16():
        pytest.skip("this CPU has no native bfloat16 (the error is tested above)")
    train, y_train = binary_data(3000, seed=1)
    valid, y_valid = binary_data(1000, seed=2)
    aucs = {}
    for precision in ("fp32", "bf16"):
        model = small_mlp()
        config = quiet(epochs=8, batch_size=128, lr=3e-3, precision=precision)
        Trainer(model, "binary", config).fit(train, y_train, valid, y_valid)
        probs = predict_proba(model, valid)
        assert np.isfinite(probs).all()
        aucs[precision] = binary_metrics(y_valid, probs)["auc"]
    reference = best_column_auc(train, y_train, valid, y_valid)
    assert aucs["bf16"] > reference, (aucs, reference)
    assert abs(aucs["bf16"] - aucs["fp32"]) < 0.01


def test_native_bf16_is_read_from_the_cpu_flags(monkeypatch) -> None:
    # AVX-512 alone emulates bfloat16 (slower than float32): native means AVX512-BF16 or AMX-BF16.
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: {"avx512f", "avx512bw", "avx512_vnni"})
    assert not precision_module.cpu_has_bf16()
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert precision_module.cpu_has_bf16()
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: {"amx_bf16", "amx_tile"})
    assert precision_module.cpu_has_bf16()


def test_row_sum_matrix_sums_the_rows_of_each_id() -> None:
    from needmap.training.optimizers import row_sum_matrix

    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 1000, (5000,), generator=generator) ** 2 % 997  # repeated, unordered ids
    values = torch.randn(5000, 7, generator=generator)
    rows, matrix = row_sum_matrix(ids, values.dtype)
    expected_rows = torch.unique(ids)
    expected = torch.zeros(len(expected_rows), 7).index_add_(0, torch.searchsorted(expected_rows, ids), values)
    assert torch.equal(rows, expected_rows)
    assert torch.allclose(matrix @ values, expected, atol=1e-4)


@pytest.mark.parametrize("n", [1, 2, 4096, 106_496, 131_073])
@pytest.mark.parametrize("method", ["radix", "packed", "torch"])
def test_sorting_ids_with_their_positions_is_torchs_stable_sort(n: int, method: str, monkeypatch) -> None:
    """Each method gives the ids ascending and, among equal ids, their positions in order, as torch's stable
    sort does (the row sums then add each id's rows in the same order, whichever method this CPU takes);
    negative ids and ids too large to share an int64 with a position take torch's sort."""
    from needmap.training import id_sort

    monkeypatch.setattr(id_sort, "_chosen", method)
    generator = torch.Generator().manual_seed(n)
    for low, high in ((0, 50), (0, 400_000), (0, 1 << 40), (0, 1 << 62), (-5, 50)):
        ids = torch.randint(low, high, (n,), generator=generator)
        ids[: n // 3] = ids[n // 2]  # a third of the rows share one id
        got_ids, got_order = id_sort.sort_with_positions(ids)
        want_ids, want_order = torch.sort(ids, stable=True)
        assert torch.equal(got_ids, want_ids)
        assert torch.equal(got_order, want_order)


def test_the_sort_method_is_measured_once_on_a_large_call(monkeypatch) -> None:
    from needmap.training import id_sort

    assert id_sort._fastest(torch.arange(20_000).flip(0)) in id_sort.METHODS  # the real measurement
    monkeypatch.setattr(id_sort, "_chosen", None)
    timed: list[int] = []
    monkeypatch.setattr(id_sort, "_fastest", lambda ids: timed.append(len(ids)) or "packed")
    small = torch.arange(id_sort.MEASURE_MIN_IDS - 1)
    assert id_sort.chosen_method(small) == id_sort.UNMEASURED and not timed
    large = torch.arange(id_sort.MEASURE_MIN_IDS).flip(0)
    assert id_sort.chosen_method(large) == "packed"
    assert id_sort.chosen_method(large) == "packed" and timed == [id_sort.MEASURE_MIN_IDS]  # kept, not measured again
    got_ids, got_order = id_sort.sort_with_positions(large)
    assert torch.equal(got_ids, torch.arange(id_sort.MEASURE_MIN_IDS))
    assert torch.equal(got_order, large)


def test_tables_sharing_ids_in_one_step_update_as_if_alone() -> None:
    # A model's embeddings and its first-order weights are looked up with the same ids: one sort serves
    # both, and each table still gets its own update.
    torch.manual_seed(0)
    together = [torch.nn.Embedding(50, 4, sparse=True), torch.nn.Embedding(50, 1, sparse=True)]
    alone = [torch.nn.Embedding(50, 4, sparse=True), torch.nn.Embedding(50, 1, sparse=True)]
    for a, b in zip(together, alone, strict=True):
        b.load_state_dict(a.state_dict())
    shared_optimizer = LazyAdam([t.weight for t in together], lr=0.01)
    separate = [LazyAdam([t.weight], lr=0.01) for t in alone]
    generator = torch.Generator().manual_seed(1)
    for _ in range(4):
        ids = torch.randint(0, 20, (64,), generator=generator)
        for tables, optimizers in ((together, [shared_optimizer]), (alone, separate)):
            for optimizer in optimizers:
                optimizer.zero_grad()
            (tables[0](ids).sum(1) * tables[1](ids).squeeze(1) - 1).pow(2).sum().backward()
            for optimizer in optimizers:
                optimizer.step()
    for a, b in zip(together, alone, strict=True):
        assert torch.allclose(a.weight, b.weight, atol=1e-6)
