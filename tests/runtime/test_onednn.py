"""needmap.runtime.onednn: fully connected layers on oneDNN's float32 kernels, and which kernel is chosen."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from needmap.errors import ConfigError
from needmap.models.layers import dense
from needmap.runtime import onednn
from needmap.runtime.matmul_choice import PRODUCTS, Kernels
from needmap.runtime.onednn import ENV_VAR, Linear, cpu_matmul, cpu_matmul_name

HAS_ONEDNN = onednn._linear_op() is not None
needs_onednn = pytest.mark.skipif(not HAS_ONEDNN, reason="this torch build has no oneDNN linear op")


@pytest.fixture
def forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "onednn")


def _grads(layer: torch.nn.Linear, x: torch.Tensor, use_onednn: bool) -> tuple[torch.Tensor, ...]:
    x = x.detach().clone().requires_grad_(True)
    layer.zero_grad()
    out = layer(x) if use_onednn else F.linear(x, layer.weight, layer.bias)
    (out * torch.linspace(-1.0, 1.0, out.shape[1])).square().sum().backward()
    return out.detach(), x.grad, layer.weight.grad.clone(), layer.bias.grad.clone()


@needs_onednn
def test_forward_and_gradients_match_f_linear(forced: None) -> None:
    torch.manual_seed(0)
    layer = Linear(96, 64)
    x = torch.randn(512, 96)
    assert layer.uses_onednn(x)
    got, want = _grads(layer, x, True), _grads(layer, x, False)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)  # float32 sums in another order


@needs_onednn
def test_non_contiguous_input_and_no_bias(forced: None) -> None:
    torch.manual_seed(1)
    layer = Linear(80, 48, bias=False)
    x = torch.randn(80, 600).t()  # [600, 80], a transposed view
    assert not x.is_contiguous() and layer.uses_onednn(x)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), x @ layer.weight.t(), rtol=1e-5, atol=1e-5)
    x = x.clone().requires_grad_(True)
    layer(x).sum().backward()
    torch.testing.assert_close(x.grad, layer.weight.sum(0).expand(600, 80), rtol=1e-5, atol=1e-5)


@needs_onednn
def test_only_the_bias_trains(forced: None) -> None:
    layer = Linear(64, 64)
    layer.weight.requires_grad_(False)
    layer(torch.randn(512, 64)).sum().backward()
    torch.testing.assert_close(layer.bias.grad, torch.full((64,), 512.0))


@needs_onednn
def test_small_products_autocast_and_tracing_keep_torch(forced: None) -> None:
    layer = Linear(624, 400)
    assert not layer.uses_onednn(torch.randn(1, 624))  # one row: 250k multiply-adds
    assert layer.uses_onednn(torch.randn(8, 624))
    assert not layer.uses_onednn(torch.randn(8, 624, dtype=torch.float64))
    assert not layer.uses_onednn(torch.randn(2, 8, 624))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not layer.uses_onednn(torch.randn(64, 624))
    traced = torch.jit.trace(layer, torch.randn(64, 624))
    assert "mkldnn" not in str(traced.graph)


def test_setting_torch_keeps_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "torch")
    assert cpu_matmul()[0] is False and cpu_matmul_name() == "torch"
    assert not Linear(624, 400).uses_onednn(torch.randn(4096, 624))


def test_unknown_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "fastest")
    with pytest.raises(ConfigError, match="NEEDMAP_CPU_MATMUL is 'fastest'"):
        cpu_matmul()


def test_auto_takes_the_measured_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """`auto` asks the measurement (where torch has a oneDNN that agrees with F.linear) whatever the vendor."""
    if not HAS_ONEDNN:
        pytest.skip("this torch build has no oneDNN linear op")
    chosen = Kernels(True, True, False, "measured")
    monkeypatch.setattr(onednn, "measured_kernels", lambda op: chosen)
    onednn._resolve.cache_clear()
    try:
        assert onednn._resolve("auto", "x86_64") is chosen
        assert cpu_matmul_name() == "onednn forward+dx, torch dW" and cpu_matmul() == (True, "measured")
    finally:
        onednn._resolve.cache_clear()


def test_asking_for_onednn_without_it_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onednn, "_linear_op", lambda: None)
    onednn._resolve.cache_clear()
    try:
        with pytest.raises(ConfigError, match="no oneDNN linear op"):
            onednn._resolve("onednn", "x86_64")
        assert onednn._resolve("auto", "x86_64").any is False
    finally:
        onednn._resolve.cache_clear()


def test_a_disagreeing_kernel_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onednn, "_linear_op", lambda: lambda x, w, b, *rest: F.linear(x, w, b) + 1.0)
    onednn._resolve.cache_clear()
    try:
        chosen = onednn._resolve("auto", "x86_64")
        assert chosen.any is False and "disagreed" in chosen.why
    finally:
        onednn._resolve.cache_clear()


def _counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[int, ...]]:
    """The calls of the oneDNN product function ``name`` from here on: each ``(x rows, x cols, out)``."""
    calls: list[tuple[int, ...]] = []
    real = getattr(onednn, name)

    def counted(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        calls.append((*x.shape, w.shape[0]))
        return real(x, w, b)

    monkeypatch.setattr(onednn, name, counted)
    return calls


@needs_onednn
@pytest.mark.parametrize("on", [(True, False, False), (False, True, False), (False, False, True), (True, True, False)])
def test_each_product_runs_on_its_chosen_kernel(monkeypatch: pytest.MonkeyPatch, on: tuple[bool, bool, bool]) -> None:
    """A mixed choice sends exactly the chosen products to oneDNN, and the results still match F.linear."""
    kernels = Kernels(*on, why="test")
    monkeypatch.setattr(onednn, "cpu_kernels", lambda: kernels)
    calls = _counted(monkeypatch, "_onednn_product")
    torch.manual_seed(2)
    layer = Linear(96, 64)
    x = torch.randn(512, 96)
    got = _grads(layer, x, True)
    want = _grads(layer, x, False)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    shapes = {"forward": (512, 96, 64), "dx": (512, 64, 96), "dW": (64, 512, 96)}  # x rows, x cols, out
    assert calls == [shapes[p] for p, chosen in zip(PRODUCTS, on, strict=True) if chosen]


@needs_onednn
def test_product_with_a_derived_weight_matches_f_linear(forced: None) -> None:
    """``layer(x, weight)``: the layer's bias with a weight made from its own, on oneDNN, with the gradients
    flowing through that weight to the layer's."""
    torch.manual_seed(3)
    layer = Linear(96, 64)
    x = torch.randn(512, 40)
    results = []
    for use_onednn in (True, False):
        layer.zero_grad()
        weight = layer.weight[:, :40] * 2.0
        assert layer.uses_onednn(x, weight)
        out = layer(x, weight) if use_onednn else F.linear(x, weight, layer.bias)
        out.square().sum().backward()
        results.append((out.detach(), layer.weight.grad.clone(), layer.bias.grad.clone()))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert layer.weight.grad[:, 40:].abs().max() == 0


def test_no_product_chosen_keeps_f_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onednn, "cpu_kernels", lambda: Kernels.every(False, "measured"))
    assert not Linear(624, 400).uses_onednn(torch.randn(4096, 624))


def test_dense_layers_are_onednn_linears_with_nn_linear_state() -> None:
    layer = dense(16, 8)
    assert isinstance(layer, Linear) and isinstance(layer, torch.nn.Linear)
    assert set(layer.state_dict()) == {"weight", "bias"}


@pytest.mark.slow
@needs_onednn
def test_a_model_trains_alike_on_either_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """DCN-v2 (cross layers and DNN are Linear layers) after 20 SGD steps: the same weights to
    float32 rounding on oneDNN and on torch's default, and the training report names the kernel.

    SGD, not Adam: Adam divides each gradient by its own running size, so a gradient that is near zero and
    differs in its rounding on the two kernels moves a full step either way (a unit the ReLU lets through on a
    few rows: 84 of the first layer's weights differed by up to 4e-4 after 20 Adam steps once that layer folded
    the numeric fields). Without dropout, for the same reason (one mask in six seeds made such gradients); the
    masks themselves are the same on both kernels (tests/models/test_dropout.py seeds them)."""
    from needmap.models.registry import build_model

    def train(setting: str) -> tuple[torch.Tensor, torch.Tensor]:
        monkeypatch.setenv(ENV_VAR, setting)
        torch.manual_seed(0)
        model = build_model("dcnv2", n_numeric=4, cardinalities=[50, 30, 20], n_outputs=1, cross_layers=2, dropout=0.0)
        start = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        gen = torch.Generator().manual_seed(0)
        for _ in range(20):
            numeric = torch.randn(512, 4, generator=gen)
            categorical = torch.stack([torch.randint(0, c, (512,), generator=gen) for c in (50, 30, 20)], 1)
            y = (numeric[:, :1] > 0).float()
            loss = F.binary_cross_entropy_with_logits(model(numeric, categorical), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return start, torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    (start, on_onednn), (_, on_torch) = train("onednn"), train("torch")
    assert (on_torch - start).abs().max() > 1e-2  # the steps moved the weights
    torch.testing.assert_close(on_onednn, on_torch, rtol=1e-3, atol=1e-4)


def _mlp_with_fused_calls(
    monkeypatch: pytest.MonkeyPatch, in_dim: int = 96, hidden: tuple[int, ...] = (64, 32)
) -> tuple[torch.nn.Module, list[tuple[int, ...]]]:
    from needmap.models.layers import MLPBlock

    calls = _counted(monkeypatch, "_onednn_product_relu")
    torch.manual_seed(4)
    return MLPBlock(in_dim, list(hidden)).eval(), calls


def _unfused(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    for layer in block.layers:
        x = F.linear(x, layer.weight, layer.bias) if isinstance(layer, torch.nn.Linear) else layer(x)
    return x


@needs_onednn
def test_scoring_fuses_each_relu_into_its_product(forced: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """While scoring, each Linear and the ReLU after it run as one oneDNN product with the activation fused,
    and the outputs are those of the product and then the activation."""
    block, calls = _mlp_with_fused_calls(monkeypatch)
    x = torch.randn(512, 96)
    with torch.inference_mode():
        got = block(x)
    assert calls == [(512, 96, 64), (512, 64, 32)]
    torch.testing.assert_close(got, _unfused(block, x), rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        block(x)
    assert len(calls) == 4


@needs_onednn
def test_scoring_folds_numeric_fields_and_fuses_the_relu(forced: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from needmap.models.layers import NumericFields

    torch.manual_seed(5)
    lead, numeric, vectors = torch.randn(512, 5, 16), torch.randn(512, 3), torch.randn(3, 16)
    block, calls = _mlp_with_fused_calls(monkeypatch, 8 * 16, (64,))
    with torch.inference_mode():
        got = block(NumericFields(lead, numeric, vectors))
    assert len(calls) == 1 and calls[0][0] == 512 and calls[0][2] == 64
    whole = torch.cat([lead, numeric.unsqueeze(-1) * vectors], dim=1).flatten(1)
    torch.testing.assert_close(got, _unfused(block, whole), rtol=1e-4, atol=1e-4)


@needs_onednn
def test_training_fuses_the_relu_with_relus_gradient(forced: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """In training too each Linear and its ReLU run as one product; the output and the gradients of the input
    and of every weight are those of the product and then the activation."""
    block, calls = _mlp_with_fused_calls(monkeypatch)
    block.train()
    x = torch.randn(512, 96)
    grads = []
    for run in (block, lambda inputs: _unfused(block, inputs)):
        block.zero_grad()
        inputs = x.clone().requires_grad_(True)
        out = run(inputs)
        (out * torch.linspace(-1.0, 1.0, out.shape[1])).square().sum().backward()
        grads.append([out.detach(), inputs.grad, *(p.grad.clone() for p in block.parameters())])
    assert calls == [(512, 96, 64), (512, 64, 32)]
    assert (grads[1][0] == 0).any()  # some units are cut by the ReLU, so its gradient is exercised
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@needs_onednn
def test_hooked_layers_are_called_as_they_are(forced: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Linear or ReLU with a hook is not fused: each layer is called, so its hooks run."""
    block, calls = _mlp_with_fused_calls(monkeypatch)
    x = torch.randn(512, 96)
    seen: list[str] = []
    hook = block.layers[1].register_forward_hook(lambda *_: seen.append("relu"))
    try:
        with torch.inference_mode():
            got = block(x)
    finally:
        hook.remove()
    assert seen == ["relu"] and calls == [(512, 64, 32)]  # the hooked pair called as it is, the other fused
    torch.testing.assert_close(got, _unfused(block, x), rtol=1e-4, atol=1e-4)
    every = torch.nn.modules.module.register_module_forward_hook(lambda module, *_: seen.append(type(module).__name__))
    try:
        with torch.inference_mode():
            block(x)
    finally:
        every.remove()
    # a hook on every module: nothing fused, each Linear and ReLU called
    assert len(calls) == 1 and seen.count("ReLU") == 2 and seen.count("Linear") == 2
