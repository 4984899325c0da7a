"""benchmarks/bench_recommend.py: every search space gives options its model accepts; the tables merge."""

from __future__ import annotations

import optuna
from benchmarks.bench_recommend import NEEDMAP_MODELS, build, markdown, merged, space


def test_every_space_gives_options_the_model_accepts() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for model in NEEDMAP_MODELS:
        for _ in range(3):
            params = space(model, study.ask())
            built = build(model, params, seed=1, max_time=None)
            assert all(built.get_params()[k] == v for k, v in params.items())


def test_tables_merge_and_mark_the_best() -> None:
    def report(model: str, ndcg: float) -> dict:
        mean = {"ndcg@10": ndcg, "recall@10": ndcg * 2, "mrr@10": ndcg / 2, "coverage@10": 0.1}
        entry = {
            "customers": 3,
            "items": 4,
            "events": 9,
            "models": {model: {"params": {"l2": 5.0}, "test_mean": mean, "test_std": dict.fromkeys(mean, 0.0)}},
        }
        return {"datasets": {"ml100k": entry}}

    text = markdown(merged([report("ease", 0.07), report("sasrec", 0.09)]))
    lines = [line for line in text.splitlines() if line.startswith("| sasrec") or line.startswith("| ease")]
    assert lines[0].startswith("| sasrec | **0.0900") and lines[1].startswith("| ease | 0.0700")
