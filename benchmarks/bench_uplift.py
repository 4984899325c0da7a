"""Uplift learners on a generated campaign with known effects: needmap's against causalml's, and the oracle.

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_uplift --customers 100000 --seeds 0,1,2 \\
        --out benchmarks/results/uplift.json
    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_uplift --tables benchmarks/results/uplift.json

Protocol, per seed: :func:`needmap.uplift.generate.campaign` draws ``--customers`` customers (control and two
offers, a third each; the seed is the campaign's), split 70 / 30 into training and test rows (stratified by arm
and outcome). needmap's seven learners (S, T, X, DR and the ensemble of S, X and DR over LightGBM; TARNet,
DragonNet) fit on the training rows with their defaults (10% of them held out for early stopping); causalml's
S, T and X learners fit on the same rows with LightGBM (``LGBMClassifier`` for outcomes, ``LGBMRegressor`` for
X's effects, LightGBM's defaults), the categorical columns one-hot, the propensity given as each arm's share
(the design, as needmap uses it).
Each scores the test rows; per offer, on that offer's and the control's test rows: the Qini coefficient
(scikit-uplift's ``qini_auc_score``: 1 = perfect ranking of the observed outcomes, 0 = random) and the PEHE
against the true effects (root mean squared error, in points of conversion chance). The oracle ranks by the
true effects. The conversion (0/1) is the outcome; ``spend`` is left out of the inputs.

Targeting, per seed: a budget of ``--budget-share`` of the test customers, a conversion worth ``--value``, a
contact costing ``--cost``. The contact list of needmap's best learner (by mean validation Qini, as ``needmap
train`` chooses) is scored by its realized incremental profit, computed from the true effects, beside: random
targeting (random customers, each a random offer), a response model (LightGBM predicting conversion from the
features on the training rows, as a team without uplift targets: the top customers by P(buy) - cost / value,
each given the offer of best average observed conversion) and the oracle (the true best offer and gain).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

NEEDMAP = ("s", "t", "x", "dr", "ensemble", "tarnet", "dragonnet")
CAUSALML = ("causalml_s", "causalml_t", "causalml_x")
CATEGORICAL = ("channel", "region", "noise_b")
NUMERIC = ("recency_days", "frequency", "history_spend", "tenure_days", "visits_30d", "age", "newsletter", "noise_a")


def design(table: Any) -> np.ndarray:
    """The features as one float matrix for causalml: numerics as they are, categoricals one-hot."""
    parts = [np.column_stack([np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64)
                              for c in NUMERIC])]  # fmt: skip
    for name in CATEGORICAL:
        values = np.asarray(table.column(name).to_pylist())
        parts.append(np.column_stack([(values == level).astype(np.float64) for level in sorted(set(values))]))
    return np.hstack(parts)


def causalml_effects(name: str, train: Any, test: Any, seed: int) -> np.ndarray:
    """causalml's learner ``name`` fitted on ``train``: the effect of each offer on the ``test`` rows."""
    from causalml.inference.meta import BaseSClassifier, BaseTClassifier, BaseXClassifier
    from lightgbm import LGBMClassifier, LGBMRegressor

    x, treatment = design(train), np.asarray(train.column("treatment").to_pylist())
    y = np.asarray(train.column("converted"))
    clf = {"random_state": seed, "verbose": -1, "n_jobs": 2}
    if name == "causalml_s":
        learner = BaseSClassifier(learner=LGBMClassifier(**clf), control_name="control")
        learner.fit(x, treatment, y)
        return np.asarray(learner.predict(design(test)))
    if name == "causalml_t":
        learner = BaseTClassifier(learner=LGBMClassifier(**clf), control_name="control")
        learner.fit(x, treatment, y)
        return np.asarray(learner.predict(design(test)))
    shares = {arm: np.mean(treatment == arm) for arm in set(treatment.tolist())}
    learner = BaseXClassifier(outcome_learner=LGBMClassifier(**clf), effect_learner=LGBMRegressor(**clf),
                              control_name="control")  # fmt: skip
    offers = sorted(a for a in shares if a != "control")
    p_train = {a: np.full(len(y), shares[a] / (shares[a] + shares["control"])) for a in offers}
    learner.fit(x, treatment, y, p=p_train)
    p_test = {a: np.full(test.num_rows, shares[a] / (shares[a] + shares["control"])) for a in offers}
    return np.asarray(learner.predict(design(test), p=p_test))


def judge(effect: np.ndarray, arms: Any, y: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    from needmap.metrics.uplift import pehe, qini_auc_score

    out = {}
    for j, offer in enumerate(arms.offers, start=1):
        rows = np.flatnonzero((arms.index == j) | (arms.index == 0))
        treated = (arms.index[rows] == j).astype(np.int64)
        out[offer] = {
            "qini": qini_auc_score(y[rows], treated, effect[rows, j - 1]),
            "pehe": pehe(truth[:, j - 1], effect[:, j - 1]),
        }
    return out


def run_seed(seed: int, customers: int, budget_share: float, value: float, cost: float) -> dict[str, Any]:
    import pyarrow as pa

    from needmap.data.split import split_indices
    from needmap.uplift.campaign_rows import campaign_arms, treatment_text
    from needmap.uplift.generate import campaign
    from needmap.uplift.model import UpliftModel
    from needmap.uplift.target import choose_contacts, realized_gain, response_contacts
    from needmap.uplift.train import _response_scores

    data = campaign(customers, seed=seed)
    table = data.table
    y_all = np.asarray(table.column("converted"), dtype=np.float64)
    arms_all = campaign_arms(treatment_text(table.column("treatment")), y_all, "control", column="treatment",
                             outcome_column="converted")  # fmt: skip
    train_idx, test_idx = split_indices(table.num_rows, method="stratified", test_size=0.3, seed=seed,
                                        y=arms_all.index * 2 + y_all.astype(np.int64))  # fmt: skip
    train, test = table.take(pa.array(train_idx)), table.take(pa.array(test_idx))
    y = y_all[test_idx]
    arms = campaign_arms(treatment_text(test.column("treatment")), y, "control", column="treatment",
                         outcome_column="converted", known=data.arms)  # fmt: skip
    truth = np.column_stack([data.true_uplift(a) for a in data.arms[1:]])[test_idx]
    result: dict[str, Any] = {"models": {}, "seconds": {}}
    result["models"]["oracle"] = judge(truth, arms, y, truth)
    effects: dict[str, np.ndarray] = {}
    validation: dict[str, float] = {}
    for name in NEEDMAP:
        started = time.perf_counter()
        predictor = UpliftModel(name, treatment="treatment", control="control", outcome="converted",
                                id="customer_id", drop="spend", seed=seed).fit(train).predictor_  # fmt: skip
        effects[name] = predictor.effects(test)
        result["seconds"][name] = round(time.perf_counter() - started, 1)
        validation[name] = float(
            np.mean([m["qini_coefficient"] for m in predictor.metrics_["validation"]["arms"].values()])
        )
        result["models"][name] = judge(effects[name], arms, y, truth)
        print(f"seed {seed} {name}: {result['models'][name]} in {result['seconds'][name]} s", flush=True)
    for name in CAUSALML:
        started = time.perf_counter()
        effects[name] = causalml_effects(name, train, test, seed)
        result["seconds"][name] = round(time.perf_counter() - started, 1)
        result["models"][name] = judge(effects[name], arms, y, truth)
        print(f"seed {seed} {name}: {result['models'][name]} in {result['seconds'][name]} s", flush=True)
    best = max(validation, key=validation.get)
    result["chosen"] = best
    result["validation_qini"] = validation
    # targeting under a budget, scored by the truth
    budget = round(budget_share * test.num_rows)
    costs = np.full(len(data.arms) - 1, cost)
    chosen = choose_contacts(effects[best], costs, value=value, budget=budget)
    oracle = choose_contacts(truth, costs, value=value, budget=budget)
    rng = np.random.default_rng(seed)
    random_rows = rng.choice(test.num_rows, size=budget, replace=False)
    random_offer = rng.integers(0, len(data.arms) - 1, size=budget)
    random_gain = float(np.sum(value * truth[random_rows, random_offer] - cost))
    response = _response_scores(train, test, "converted", "binary", ["treatment", "spend"], "customer_id", seed)
    train_arms = np.asarray(train.column("treatment").to_pylist())
    train_y = np.asarray(train.column("converted"))
    offer_rates = [train_y[train_arms == a].mean() for a in data.arms[1:]]
    picked = response_contacts(response, cost, value=value, budget=budget)
    best_offer = int(np.argmax(offer_rates))
    response_gain = float(np.sum(value * truth[picked.rows, best_offer] - cost))
    result["targeting"] = {
        "budget": budget, "value": value, "cost": cost,
        "needmap": {"learner": best, "contacts": len(chosen.rows),
                    "realized": realized_gain(chosen, truth, costs, value), "expected": float(chosen.gain.sum())},
        "random": {"contacts": budget, "realized": random_gain},
        "response": {"contacts": len(picked.rows), "realized": response_gain, "offer": data.arms[1 + best_offer]},
        "oracle": {"contacts": len(oracle.rows), "realized": realized_gain(oracle, truth, costs, value)},
    }  # fmt: skip
    print(f"seed {seed} targeting: {result['targeting']}", flush=True)
    return result


def only(report: dict[str, Any], seeds: list[int] | None) -> dict[str, Any]:
    """The report restricted to ``seeds`` (None: all)."""
    if seeds is None:
        return report
    keep = [k for k, seed in enumerate(report["seed_values"]) if seed in seeds]
    return {**report, "seed_values": [report["seed_values"][k] for k in keep],
            "seeds": [report["seeds"][k] for k in keep]}  # fmt: skip


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """Mean and standard deviation over the seeds of each model's Qini and PEHE per offer."""
    seeds = report["seeds"]
    names = list(seeds[0]["models"])
    offers = list(seeds[0]["models"]["oracle"])
    out: dict[str, Any] = {}
    for name in names:
        out[name] = {}
        for offer in offers:
            for key in ("qini", "pehe"):
                values = [s["models"][name][offer][key] for s in seeds]
                out[name][f"{offer}_{key}"] = (float(np.mean(values)), float(np.std(values)))
        out[name]["mean_qini"] = float(np.mean([out[name][f"{o}_qini"][0] for o in offers]))
    return out


def markdown(report: dict[str, Any]) -> str:
    table = summary(report)
    offers = list(report["seeds"][0]["models"]["oracle"])
    oracle = table["oracle"]["mean_qini"]
    head = "| learner | " + " | ".join(f"Qini {o}" for o in offers) + " | share of oracle | " + \
        " | ".join(f"PEHE {o}" for o in offers) + " |"  # fmt: skip
    lines = [head, "|" + "---|" * (2 + 2 * len(offers))]
    for name, values in sorted(table.items(), key=lambda kv: -kv[1]["mean_qini"]):
        qini = " | ".join(f"{values[f'{o}_qini'][0]:.4f} ± {values[f'{o}_qini'][1]:.4f}" for o in offers)
        pehe = " | ".join(f"{values[f'{o}_pehe'][0]:.4f}" for o in offers)
        lines.append(f"| {name} | {qini} | {values['mean_qini'] / oracle:.0%} | {pehe} |")
    lines.append("")
    lines.append("| seed | budget | kept learner | needmap | random | response model | oracle |")
    lines.append("|---|---|---|---|---|---|---|")
    for k, s in enumerate(report["seeds"]):
        t = s["targeting"]
        lines.append(
            f"| {report['seed_values'][k]} | {t['budget']:,} | {t['needmap']['learner']} "
            f"| {t['needmap']['realized']:,.0f} ({t['needmap']['contacts']:,} contacts) "
            f"| {t['random']['realized']:,.0f} | {t['response']['realized']:,.0f} "
            f"({t['response']['offer']}) | {t['oracle']['realized']:,.0f} ({t['oracle']['contacts']:,}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seeds", default=None, help="Seeds to run (default 0,1,2); with --tables, to show.")
    parser.add_argument("--budget-share", type=float, default=0.2)
    parser.add_argument("--value", type=float, default=40.0)
    parser.add_argument("--cost", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/uplift.json"))
    parser.add_argument("--tables", type=Path, nargs="+", help="Print the tables of these result files, merged.")
    args = parser.parse_args()
    if args.tables:
        reports = [json.loads(path.read_text()) for path in args.tables]
        merged = {**reports[0], "seed_values": [v for r in reports for v in r["seed_values"]],
                  "seeds": [s for r in reports for s in r["seeds"]]}  # fmt: skip
        chosen = [int(s) for s in args.seeds.split(",")] if args.seeds else None
        print(markdown(only(merged, chosen)))
        return
    seeds = [int(s) for s in (args.seeds or "0,1,2").split(",")]
    report: dict[str, Any] = {
        "date": date.today().isoformat(), "machine": platform.processor() or platform.machine(),
        "customers": args.customers, "seed_values": seeds, "seeds": [],
    }  # fmt: skip
    for seed in seeds:
        report["seeds"].append(run_seed(seed, args.customers, args.budget_share, args.value, args.cost))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    print(markdown(report))


if __name__ == "__main__":
    main()
