"""needmap's Dropout (needmap.models.dropout): the drop rate, the scaling, the gradient, evaluation, seeding."""

from __future__ import annotations

import pytest
import torch

from needmap.models.dropout import Dropout, keep_mask


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3, 0.5])
def test_each_element_is_dropped_with_probability_p(p: float) -> None:
    torch.manual_seed(0)
    kept = keep_mask(torch.Size([400, 1000]), p, torch.device("cpu"))
    n = kept.numel()
    share = 1 - kept.float().mean().item()
    assert abs(share - p) < 4 * (p * (1 - p) / n) ** 0.5  # within 4 standard errors of 400,000 draws
    # no position is favoured: each of the four lanes of a draw drops at the same rate
    lanes = (~kept).reshape(-1, 4).float().mean(dim=0)
    assert (lanes - p).abs().max().item() < 4 * (p * (1 - p) / (n / 4)) ** 0.5


def test_kept_values_are_scaled_and_the_gradient_follows_the_same_mask() -> None:
    torch.manual_seed(1)
    x = torch.randn(64, 300, requires_grad=True)
    out = Dropout(0.2).train()(x)
    kept = out != 0
    torch.testing.assert_close(out[kept], x.detach()[kept] / 0.8)
    out.backward(torch.ones_like(out))
    assert x.grad is not None
    torch.testing.assert_close(x.grad, kept.float() / 0.8)
    assert abs(out.mean().item() - x.mean().item()) < 0.05  # inverted dropout keeps the mean


def test_evaluation_and_rate_zero_are_the_identity() -> None:
    x = torch.randn(8, 5)
    assert Dropout(0.3).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match="expected 0 <= p < 1"):
        Dropout(1.0)


def test_the_seed_makes_the_mask_repeatable() -> None:
    torch.manual_seed(7)
    a = keep_mask(torch.Size([10, 33]), 0.5, torch.device("cpu"))  # an element count that is not a multiple of 4
    torch.manual_seed(7)
    b = keep_mask(torch.Size([10, 33]), 0.5, torch.device("cpu"))
    assert torch.equal(a, b) and a.shape == (10, 33)
