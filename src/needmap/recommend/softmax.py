"""The sampled softmax of the recommender networks, with the logQ correction (Yi et al. 2019).

A softmax over a sample of candidates (a batch's own targets, and items drawn uniformly) favours the items
drawn most often; subtracting from each candidate's logit the log of how often it is expected among the
candidates removes that bias. The two-tower network and SASRec's sampled loss share it.
"""

from __future__ import annotations

from typing import Any


def sampled_softmax_loss(
    customers: Any, candidates: Any, candidate_items: Any, log_expected: Any, temperature: float
) -> Any:
    """Mean cross-entropy of each customer's own target among the candidates, with the logQ correction.

    ``customers`` [B, d] and ``candidates`` [C, d] (C >= B) are vectors; candidate ``i < B`` is row ``i``'s
    target, the others are negatives. ``candidate_items`` [C] are the candidates' item indices and
    ``log_expected`` [C] the log of how often each is expected among the candidates (its sampling
    probability, up to a constant). Logit ``(i, j)`` is ``customers[i] · candidates[j] / temperature -
    log_expected[j]``; a candidate ``j != i`` of the same item as row ``i``'s target is masked out."""
    import torch

    rows = customers.shape[0]
    logits = customers @ candidates.T / temperature - log_expected.unsqueeze(0)
    positives = candidate_items[:rows]
    hits = positives.unsqueeze(1) == candidate_items.unsqueeze(0)
    hits[:, :rows].fill_diagonal_(False)
    logits = logits.masked_fill(hits, -torch.inf)
    return torch.nn.functional.cross_entropy(logits, torch.arange(rows, device=logits.device))


def log_expected_counts(probability: Any, candidates: Any, rows: int, negatives: int, n_items: int) -> Any:
    """The logQ correction of each candidate: the log of how many times it is expected among a batch's
    candidates, ``rows * probability[item] + negatives / n_items`` (``rows`` targets drawn by the items'
    training frequency ``probability``, ``negatives`` drawn uniformly). Without mixed negatives this is
    ``log p(item)`` plus a constant, the correction of Yi et al. 2019."""
    import torch

    expected = rows * probability[candidates] + negatives / n_items
    return torch.log(expected.clamp_min(1e-30)).to(torch.float32)
