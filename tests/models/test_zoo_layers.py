"""The zoo's shared layers against their formulas, written out the slow way."""

from __future__ import annotations

import itertools

import pytest
import torch

from needmap.errors import ConfigError
from needmap.models.attention import FieldSelfAttention
from needmap.models.base import normalize_list_spec
from needmap.models.cin import CompressedInteraction
from needmap.models.cross import CrossNetMix, CrossNetV2
from needmap.models.factorized import FactorizedInteraction, FinalBlock
from needmap.models.fields import DeepTower, FieldEmbedding, LinearTerms
from needmap.models.fm import FMInteraction, bi_interaction
from needmap.models.gating import BilinearFusion, FeatureSelection, FieldGate
from needmap.models.layers import FOLD_ALIGN, NumericFields

CARDS = [4, 6]
LISTS = [
    normalize_list_spec({"name": "tags", "kind": "multihot", "cardinality": 5, "max_len": 3, "pooling": "mean"}, CARDS),
    normalize_list_spec(
        {"name": "history", "kind": "sequence", "cardinality": 6, "max_len": 4, "pooling": "sum", "share": 1}, CARDS
    ),
]


def _inputs(n: int = 6) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    numeric = torch.randn(n, 3, generator=g)
    categorical = torch.stack([torch.randint(0, c, (n,), generator=g) for c in CARDS], 1)
    tags = torch.tensor([[2, 3, 0], [4, 0, 0], [0, 0, 0], [2, 2, 1], [3, 4, 2], [1, 0, 0]])[:n]
    history = torch.tensor([[5, 2, 3, 0], [0, 0, 0, 0], [2, 0, 0, 0], [3, 3, 4, 5], [1, 0, 0, 0], [4, 5, 0, 0]])[:n]
    return numeric, categorical, (tags, history)


def test_field_embedding_order_and_values() -> None:
    torch.manual_seed(0)
    layer = FieldEmbedding(3, CARDS, LISTS, dim=4)
    numeric, categorical, lists = _inputs()
    out = layer(numeric, categorical, lists)
    assert layer.n_fields == 2 + 2 + 3
    assert out.shape == (6, 7, 4)
    cat_table = layer.categorical.embedding.weight
    # categorical fields first: column 1 reads its own rows of the one table (offset 4)
    assert torch.equal(out[0, 1], cat_table[4 + categorical[0, 1]])
    # the multihot field: mean of the non-padding tokens of the list's own table
    tags = layer.lists.embedding.weight
    assert torch.allclose(out[0, 2], (tags[2] + tags[3]) / 2)
    assert torch.equal(out[2, 2], torch.zeros(4))
    # the sequence field shares categorical column 1's vocabulary and pools by sum
    assert torch.allclose(out[0, 3], cat_table[4 + 5] + cat_table[4 + 2] + cat_table[4 + 3])
    # numeric fields last: value times the column's vector
    assert torch.allclose(out[:, 4:], numeric.unsqueeze(-1) * layer.numeric)


def test_field_embedding_with_only_numerics_or_only_categoricals() -> None:
    numeric, categorical, _ = _inputs()
    assert FieldEmbedding(3, [], [], 5)(numeric, torch.zeros((6, 0), dtype=torch.int64)).shape == (6, 3, 5)
    assert FieldEmbedding(0, CARDS, [], 5)(torch.zeros((6, 0)), categorical).shape == (6, 2, 5)


def _assert_same_outputs_and_gradients(
    flat: tuple[torch.Tensor, list[torch.Tensor]], folded: tuple[torch.Tensor, list[torch.Tensor]]
) -> None:
    """The outputs and the parameters' gradients of a network over the flattened fields (``flat``) and with its
    numeric fields folded (``folded``) agree to float32 rounding, and some gradient was computed."""
    (want, want_grads), (got, got_grads) = flat, folded
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert len(got_grads) == len(want_grads) > 0
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("n_numeric", "dim", "hidden"), [(3, 4, [8, 5]), (5, 16, [7]), (0, 4, [8]), (3, 4, [])])
def test_deep_tower_with_numeric_fields_folded_is_its_forward_over_the_flattened_fields(
    n_numeric: int, dim: int, hidden: list[int]
) -> None:
    """The numeric fields folded into the first layer: the same outputs and the same gradients (of the layer's
    weight, of the numeric vectors, of the embeddings) as the DNN over the flattened field embeddings."""
    torch.manual_seed(1)
    fields_layer = FieldEmbedding(n_numeric, CARDS, LISTS, dim=dim)
    tower = DeepTower(fields_layer.n_fields * dim, hidden, 2, "relu", 0.0, False)
    numeric, categorical, lists = _inputs()
    numeric = torch.randn(len(numeric), n_numeric, generator=torch.Generator().manual_seed(2))
    results = []
    for folded in (False, True):
        fields_layer.zero_grad()
        tower.zero_grad()
        if folded:
            out = tower(fields_layer(numeric, categorical, lists, parts=True))
        else:
            out = tower(fields_layer(numeric, categorical, lists).flatten(1))
        (out * torch.tensor([1.0, -2.0])).square().sum().backward()
        grads = [p.grad.clone() for p in [*tower.parameters(), *fields_layer.parameters()] if p.grad is not None]
        results.append((out.detach(), grads))
    _assert_same_outputs_and_gradients(results[0], results[1])


def test_field_embedding_in_parts_holds_the_fields_of_the_slab() -> None:
    layer = FieldEmbedding(3, CARDS, LISTS, dim=4)
    numeric, categorical, lists = _inputs()
    slab = layer(numeric, categorical, lists)
    parts = layer(numeric, categorical, lists, parts=True)
    assert isinstance(parts, NumericFields)
    assert torch.equal(parts.lead_fields, slab[:, :4])  # two categorical columns, two lists
    assert torch.equal(parts.fields, slab)
    assert torch.equal(parts.flat, slab.flatten(1))
    assert FieldEmbedding(3, [], [], 4)(numeric, categorical[:, :0], parts=True).lead_fields.shape == (6, 0, 4)


@pytest.mark.parametrize("name", ["deepfm", "dcnv2", "wide_deep", "xdeepfm", "autoint"])
def test_no_backward_pass_slices_the_field_slab(name: str) -> None:
    """The first product reads the fields before the numeric ones as their own tensor: a slice of the slab
    (``fields[:, :n]``) would make the backward pass fill a gradient of every field with zeros each step."""
    from needmap.models.registry import build_model

    options = {"autoint": {"hidden": [8]}, "xdeepfm": {"hidden": [8]}}.get(name, {})
    model = build_model(name, n_numeric=3, cardinalities=CARDS, n_outputs=1, lists=LISTS, dropout=0.0, **options)
    out = model(*_inputs())
    seen, stack, slabs = set(), [out.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        nexts = [n for n, _ in node.next_functions]
        if type(node).__name__.startswith("Slice") and any(type(n).__name__.startswith("Cat") for n in nexts):
            slabs.append(node)
        stack.extend(nexts)
    assert len(seen) > 10
    assert slabs == []


@pytest.mark.parametrize("structure", ["parallel", "stacked", "low_rank", "no_dnn"])
def test_dcnv2_with_numeric_fields_folded_is_the_network_over_the_flattened_fields(structure: str) -> None:
    """DCN-v2 folds the numeric fields into its first cross layer and its DNN's first layer: the same logits
    and gradients as its body over the flattened fields (the mixture of low-rank experts reads them flat)."""
    from needmap.models.registry import build_model

    torch.manual_seed(4)
    options = {"low_rank": {"low_rank": 2}, "stacked": {"structure": "stacked"}, "no_dnn": {"hidden": []}}
    model = build_model("dcnv2", n_numeric=3, cardinalities=CARDS, n_outputs=1, lists=LISTS, dropout=0.0,
                        **options.get(structure, {}))  # fmt: skip
    numeric, categorical, lists = _inputs()
    results = []
    for folded in (False, True):
        model.zero_grad()
        fields = model.fields(numeric, categorical, lists)
        out = model(numeric, categorical, lists) if folded else model.head(model._body(fields.flatten(1)))
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    _assert_same_outputs_and_gradients(*results)


def test_deep_tower_with_numeric_fields_folded_multiplies_the_numbers_not_their_vectors() -> None:
    """The first layer's product reads each numeric field as one column (then zeros up to an aligned width),
    not as its ``dim`` embedding columns."""
    layer = FieldEmbedding(3, CARDS, LISTS, dim=4)
    tower = DeepTower(layer.n_fields * 4, [8], 1, "relu", 0.0, False)
    first = tower.mlp.layers[0]
    widths: list[int] = []
    first.register_forward_hook(lambda _m, inputs, _o: widths.append(inputs[0].shape[1]))
    numeric, categorical, lists = _inputs()
    tower(layer(numeric, categorical, lists, parts=True))
    unpadded = 4 * 4 + 3  # four other fields of dim 4, three numbers
    assert widths == [unpadded + (-unpadded % FOLD_ALIGN)]


def test_linear_terms_add_one_weight_per_feature() -> None:
    layer = LinearTerms(3, CARDS, LISTS, n_outputs=2)
    assert not any(p.detach().any() for p in layer.parameters())  # starts as the zero model
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    numeric, categorical, (tags, history) = _inputs()
    out = layer(numeric, categorical, (tags, history))
    cat = layer.categorical.embedding.weight
    own = layer.lists.embedding.weight
    i = 3  # tags [2, 2, 1] (mean), history [3, 3, 4, 5] (sum, shared with column 1)
    expected = (
        layer.bias
        + numeric[i] @ layer.numeric
        + cat[categorical[i, 0]]
        + cat[4 + categorical[i, 1]]
        + (own[2] + own[2] + own[1]) / 3
        + cat[4 + 3] * 2
        + cat[4 + 4]
        + cat[4 + 5]
    )
    assert out.shape == (6, 2)
    assert torch.allclose(out[i], expected, atol=1e-6)


def test_fm_interaction_is_the_sum_of_pairwise_dot_products() -> None:
    fields = torch.randn(5, 4, 3)
    pairs = sum((fields[:, i] * fields[:, j]).sum(-1, keepdim=True) for i, j in itertools.combinations(range(4), 2))
    assert torch.allclose(FMInteraction(3, 1)(fields), pairs, atol=1e-5)
    # its gradient too: field i's is the sum of the other fields, and a row of zeros (the norm's kink) gets one
    fields = torch.cat([torch.randn(4, 4, 3), torch.zeros(1, 4, 3)]).requires_grad_()
    FMInteraction(3, 1)(fields).sum().backward()
    others = fields.detach().sum(dim=1, keepdim=True) - fields.detach()
    torch.testing.assert_close(fields.grad, others, rtol=1e-5, atol=1e-6)
    projected = FMInteraction(3, n_outputs=4)
    assert projected(fields).shape == (5, 4)
    assert torch.allclose(projected(fields), bi_interaction(fields) @ projected.project.weight.T, atol=1e-6)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_fm_over_fields_in_parts_is_the_fm_over_the_slab(n_outputs: int) -> None:
    """Given the fields as :class:`NumericFields`, the FM takes the numeric fields by their sums, never making
    the slab: the same output, and the same gradients of the embeddings, the numeric vectors and the projection."""
    torch.manual_seed(3)
    layer = FieldEmbedding(3, CARDS, LISTS, dim=4)
    fm = FMInteraction(4, n_outputs)
    numeric, categorical, lists = _inputs()
    results = []
    for parts in (False, True):
        layer.zero_grad()
        fm.zero_grad()
        fields = layer(numeric, categorical, lists, parts=parts)
        out = fm(fields)
        (out * torch.arange(1.0, n_outputs + 1)).sin().sum().backward()
        grads = [p.grad.clone() for p in [*layer.parameters(), *fm.parameters()] if p.grad is not None]
        results.append((out.detach(), grads))
        if parts and n_outputs == 1:
            assert fields._fields is None  # the slab was never made
    _assert_same_outputs_and_gradients(*results)
    with torch.no_grad():  # scoring takes the same sums without the autograd function
        torch.testing.assert_close(fm(layer(numeric, categorical, lists, parts=True)), results[0][0])


def test_fm_gradient_in_one_pass_matches_finite_differences() -> None:
    """The FM's hand-written gradient (of the other fields, the numbers' vectors) against finite differences."""
    from needmap.models.fm import pairwise_sum

    g = torch.Generator().manual_seed(5)
    lead = torch.randn(4, 3, 2, dtype=torch.float64, generator=g, requires_grad=True)
    numeric = torch.randn(4, 2, dtype=torch.float64, generator=g)
    vectors = torch.randn(2, 2, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, v: pairwise_sum(NumericFields(a, numeric, v)), (lead, vectors))
    assert torch.autograd.gradcheck(pairwise_sum, (lead,))


@pytest.mark.parametrize("name", ["deepfm", "wide_deep"])
def test_models_that_fold_every_read_of_the_fields_never_make_the_slab(name: str) -> None:
    from needmap.models.registry import build_model

    model = build_model(name, n_numeric=3, cardinalities=CARDS, n_outputs=1, lists=LISTS, dropout=0.0)
    made: list[NumericFields] = []
    model.fields.register_forward_hook(lambda _m, _args, output: made.append(output))
    model(*_inputs()).sum().backward()
    assert len(made) == 1 and made[0]._fields is None


def test_cross_net_v2_follows_its_recursion() -> None:
    torch.manual_seed(0)
    net = CrossNetV2(6, layers=2)
    x0 = torch.randn(4, 6)
    x1 = x0 * net.layers[0](x0) + x0
    x2 = x0 * net.layers[1](x1) + x1
    assert torch.allclose(net(x0), x2, atol=1e-6)


def test_cross_net_mix_equals_a_loop_over_experts() -> None:
    torch.manual_seed(0)
    net = CrossNetMix(5, layers=2, low_rank=3, num_experts=4)
    with torch.no_grad():
        net.bias.normal_()
    x0 = torch.randn(7, 5)
    x = x0
    for l in range(2):  # noqa: E741
        gates = torch.softmax(net.gate(x), dim=-1)
        mix = torch.zeros_like(x)
        for e in range(4):
            v = torch.tanh(x @ net.V[l, e])
            v = torch.tanh(v @ net.C[l, e].T)
            mix = mix + gates[:, e : e + 1] * (x0 * (v @ net.U[l, e].T + net.bias[l]))
        x = mix + x
    assert torch.allclose(net(x0), x, atol=1e-5)


def test_cin_equals_the_explicit_sum_over_field_pairs() -> None:
    torch.manual_seed(0)
    cin = CompressedInteraction(n_fields=3, layer_sizes=[4, 2])
    with torch.no_grad():
        for b in cin.biases:
            b.normal_()
    x0 = torch.randn(2, 3, 5)
    x, pooled = x0, []
    for weight, bias in zip(cin.weights, cin.biases, strict=True):
        nxt = torch.zeros(2, weight.shape[2], 5)
        for k in range(weight.shape[2]):
            for h in range(weight.shape[0]):
                for j in range(3):
                    nxt[:, k] += weight[h, j, k] * x[:, h] * x0[:, j]
            nxt[:, k] += bias[k]
        x = nxt
        pooled.append(x.sum(-1))
    assert cin.out_dim == 6
    assert torch.allclose(cin(x0), torch.cat(pooled, 1), atol=1e-5)


def test_field_self_attention_matches_a_per_head_computation() -> None:
    torch.manual_seed(0)
    layer = FieldSelfAttention(4, attention_dim=6, heads=2, residual=True, scale=True)
    fields = torch.randn(3, 5, 4)
    q, k, v = layer.qkv(fields).split(6, dim=-1)
    heads = []
    for h in range(2):
        part = slice(3 * h, 3 * h + 3)
        scores = q[..., part] @ k[..., part].transpose(1, 2) / 3**0.5
        heads.append(torch.softmax(scores, -1) @ v[..., part])
    expected = torch.relu(torch.cat(heads, -1) + layer.residual(fields))
    assert torch.allclose(layer(fields), expected, atol=1e-5)
    with pytest.raises(ConfigError, match="divisible by num_heads"):
        FieldSelfAttention(4, attention_dim=6, heads=4)


def test_bilinear_fusion_matches_head_by_head_bilinear_forms() -> None:
    torch.manual_seed(0)
    fusion = BilinearFusion(4, 6, n_outputs=2, heads=2)
    o1, o2 = torch.randn(3, 4), torch.randn(3, 6)
    expected = fusion.linear1(o1) + fusion.linear2(o2)
    for h in range(2):
        x, y = o1[:, 2 * h : 2 * h + 2], o2[:, 3 * h : 3 * h + 3]
        for out in range(2):
            expected[:, out] += ((x @ fusion.bilinear[h, :, out, :]) * y).sum(-1)
    assert torch.allclose(fusion(o1, o2), expected, atol=1e-5)
    with pytest.raises(ConfigError, match="divisible by num_heads"):
        BilinearFusion(4, 5, n_outputs=1, heads=2)


def test_feature_selection_gates_lie_in_0_2_and_use_their_context() -> None:
    torch.manual_seed(0)
    fields = torch.randn(4, 3, 2)
    selection = FeatureSelection(3, 2, hidden=[8], context1=[], context2=[0])
    x1, x2 = selection(fields)
    gate1, gate2 = x1 / fields.flatten(1), x2 / fields.flatten(1)
    assert x1.shape == x2.shape == (4, 6)
    assert ((gate1 > 0) & (gate1 < 2)).all() and ((gate2 > 0) & (gate2 < 2)).all()
    assert torch.allclose(gate1, gate1[:1].expand(4, -1), atol=1e-5)  # no context: one gate for all rows
    assert not torch.allclose(gate2, gate2[:1].expand(4, -1))  # field 0 as context: a gate per row


def test_field_gate_starts_open_and_concatenates() -> None:
    fields = torch.randn(3, 4, 2)
    out = FieldGate(4)(fields)
    assert out.shape == (3, 8, 2)
    assert torch.equal(out[:, :4], fields) and torch.allclose(out[:, 4:], fields)


@pytest.mark.parametrize("residual", ["concat", "sum"])
def test_factorized_interaction_multiplies_the_halves(residual: str) -> None:
    torch.manual_seed(0)
    layer = FactorizedInteraction(5, 4, residual)
    x = torch.randn(3, 5)
    h2, h1 = layer.linear(x).chunk(2, dim=-1)
    expected = torch.cat([h2, h1 * h2], -1) if residual == "concat" else h2 + h1 * h2
    assert torch.allclose(layer(x), expected)
    assert layer(x).shape == (3, 4)


def test_final_block_layers_and_width_checks() -> None:
    block = FinalBlock(6, [8, 4], activation="relu", dropout=0.1, batch_norm=True)
    kinds = [type(m).__name__ for m in block.layers]
    assert kinds == ["FactorizedInteraction", "BatchNorm1d", "ReLU", "Dropout"] * 2
    assert block(torch.randn(5, 6)).shape == (5, 4)
    with pytest.raises(ConfigError, match="even number"):
        FactorizedInteraction(6, 5, "concat")
    with pytest.raises(ConfigError, match="residual_type"):
        FactorizedInteraction(6, 4, "product")
