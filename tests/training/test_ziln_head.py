"""The lifetime-value head: the ZILN loss against its formula and scipy's log-normal, finite gradients, the
scores, the head kind's wiring, and a small network that ranks simulated spend better than a constant."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import lognorm

from ltv_simulation import ltv_table
from needmap.errors import DataError
from needmap.metrics.ltv import normalized_gini
from needmap.schema import Head
from needmap.training.config import TrainConfig
from needmap.training.heads import head_kind
from needmap.training.target_heads import TargetHeads
from needmap.training.ziln import SIGMA_FLOOR, ZilnLoss, ziln_loss, ziln_offsets, ziln_scores


def test_loss_by_hand() -> None:
    out = torch.zeros((2, 3))
    y = torch.tensor([0.0, math.e])
    sigma = math.log(2.0) + SIGMA_FLOOR  # softplus(0) + floor
    by_hand = [
        math.log(2.0),  # -log(1 - sigmoid(0)): did not buy
        math.log(2.0) + 1.0 + math.log(sigma) + 0.5 * math.log(2 * math.pi) + 1.0 / (2 * sigma**2),
    ]
    per_row = ZilnLoss(reduction="none")(out, y)
    assert per_row.tolist() == pytest.approx(by_hand, rel=1e-6)
    # the log-normal part is minus scipy's log density of the spend (log-normal, mu 0, sigma)
    assert by_hand[1] - math.log(2.0) == pytest.approx(-lognorm(s=sigma, scale=1.0).logpdf(math.e), rel=1e-6)
    assert ZilnLoss()(out, y).item() == pytest.approx(sum(by_hand) / 2, rel=1e-6)


def test_offsets_shift_the_outputs() -> None:
    labels = np.array([0.0, 0.0, 0.0, 10.0, 1000.0])
    offsets = ziln_offsets(labels)
    assert offsets["logit_offset"] == pytest.approx(math.log(0.4 / 0.6))
    assert offsets["mu_offset"] == pytest.approx((math.log(10) + math.log(1000)) / 2)
    shifted = ZilnLoss(offsets["logit_offset"], offsets["mu_offset"], "none")
    plain = ZilnLoss(reduction="none")
    out = torch.randn(5, 3)
    moved = out + torch.tensor([offsets["logit_offset"], offsets["mu_offset"], 0.0])
    assert torch.allclose(shifted(out, torch.tensor(labels)), plain(moved, torch.tensor(labels)), atol=1e-5)
    assert type(ziln_loss(labels, None, 3, "mean")) is ZilnLoss


def test_gradient_is_finite_even_for_wild_outputs() -> None:
    out = torch.tensor([[30.0, -20.0, -40.0], [-30.0, 20.0, 40.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = ZilnLoss()(out, torch.tensor([0.0, 1e6, 0.01]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(out.grad).all()
    assert out.grad.abs().sum() > 0


def test_scores_are_expected_spend_and_chance() -> None:
    raw = np.array([[0.0, math.log(100.0), -50.0], [math.log(3.0), 0.0, 0.0]])
    scores = ziln_scores(raw, None)
    sigma = math.log(2.0) + SIGMA_FLOOR
    assert scores[0].tolist() == pytest.approx([0.5 * 100.0 * math.exp(SIGMA_FLOOR**2 / 2), 0.5, 100.0], rel=1e-4)
    assert scores[1].tolist() == pytest.approx([0.75 * math.exp(sigma**2 / 2), 0.75, math.exp(sigma**2 / 2)])
    with_offsets = ziln_scores(np.zeros((1, 3)), {"logit_offset": math.log(3.0), "mu_offset": 0.0})
    assert with_offsets[0, 1] == pytest.approx(0.75)
    assert np.isfinite(ziln_scores(np.array([[0.0, 500.0, 50.0]]), None)).all()


def test_the_head_kind_is_wired() -> None:
    kind = head_kind("ltv")
    assert kind.width == 3 and Head("spend", "ltv").n_outputs == 3
    assert kind.default_monitor == "normalized_gini" and not kind.with_others
    heads = TargetHeads(["ltv"], ["spend"], TrainConfig(), 3)
    assert heads.labels(np.array([0.0, 5.0]), "targets").shape == (2, 1)
    with pytest.raises(DataError, match=r"not numbers >= 0 for the ltv target 'spend' \(first: -3.0 in row 1"):
        heads.labels(np.array([0.0, -3.0, 4.0]), "targets")
    with pytest.raises(Exception, match="need a model with 3 outputs"):
        TargetHeads(["ltv"], ["spend"], TrainConfig(), 1)


@pytest.mark.slow
def test_a_network_ranks_spend_better_than_a_constant() -> None:
    from needmap.estimator import Model

    table = ltv_table(600, seed=3)
    train, test = table.slice(0, 450), table.slice(450)
    model = Model(target="label_spend", task="ltv", model="mlp", epochs=4, seed=0,
                  drop=["label_bought", "label_purchases"], id=["customer_id"]).fit(train)  # fmt: skip
    scores = model.predictor_.predict_proba(test)
    assert scores.shape == (150, 3)
    y = test.column("label_spend").to_numpy()
    constant = normalized_gini(y, np.full(len(y), float(np.mean(y))))
    assert constant == pytest.approx(0.0)
    assert normalized_gini(y, scores[:, 0]) > constant + 0.3
    assert np.all((scores[:, 1] > 0) & (scores[:, 1] < 1))
    assert scores[:, 0] == pytest.approx(scores[:, 1] * scores[:, 2])
