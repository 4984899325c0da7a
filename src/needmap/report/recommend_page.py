"""The report page of a recommender: what it learned from, every candidate side by side, the verdict."""

from __future__ import annotations

from typing import Any

from needmap.report.bar_charts import bar_chart
from needmap.report.html import Section, explain, facts, note, page, table, verdict_box
from needmap.report.text import number

#: The metrics of the side-by-side table, with what each says.
COLUMNS = {
    "ndcg": "NDCG: the held-out items' ranks, discounted (1 = each at the top)",
    "recall": "Recall: the share of held-out items in the list",
    "hit_rate": "Hit rate: customers with at least one held-out item in the list",
    "mrr": "MRR: 1 / the rank of the first held-out item",
    "coverage": "Coverage: the share of the catalogue recommended to someone",
    "popularity_bias": "Popularity bias: mean popularity percentile of what is recommended (0.5: as random)",
}


def recommender_page(metrics: dict[str, Any], card_facts: dict[str, Any], title: str) -> str:
    """The HTML page for a recommender's ``metrics.json`` (``card_facts``: what the model directory says)."""
    k = metrics.get("k", 10)
    models = metrics.get("models") or {}
    chosen = metrics.get("model") or card_facts.get("model")
    sections = [Section("model", "The model", facts(card_facts.items()))]
    if not models:
        sections.append(Section("comparison", "Compared with the baselines", note(
            "This recommender was fitted without a held-out comparison (no metrics in metrics.json)."
        )))  # fmt: skip
        return page(title, "recommender", sections)
    names = [chosen, *(n for n in models if n != chosen)] if chosen in models else list(models)
    rows = []
    for name in names:
        test = models[name].get("test", {})
        label = f"{name} (chosen)" if name == chosen else name
        rows.append([label, *(number(test.get(f"{key}@{k}"), 4) for key in COLUMNS),
                     number(models[name].get("validation", {}).get(f"ndcg@{k}"), 4),
                     number(models[name].get("training", {}).get("fit_s"), 1)])  # fmt: skip
    headers = ["model", *(f"{key}@{k}" for key in COLUMNS), f"validation ndcg@{k}", "fit s"]
    body = explain(
        f"Test customers ({metrics.get('split_note', metrics.get('split'))}); every model ranks the whole catalogue "
        f"and leaves out what each customer already has; lists of {k}. "
        + " ".join(f"{text}." for text in COLUMNS.values())
    )
    body += table(headers, rows, numeric=range(1, len(headers)))
    body += bar_chart(
        "ndcg", f"Test NDCG@{k} by model", names, [models[n].get("test", {}).get(f"ndcg@{k}", 0.0) for n in names],
        x_label=f"NDCG@{k}", value_text=lambda v: f"{v:.4f}",
    )  # fmt: skip
    sections.append(Section("comparison", "Compared with the baselines", body))
    sections.append(Section("verdict", "Verdict", verdict_box(metrics.get("verdict", ""))))
    later = metrics.get("later")
    if later:
        lk = later["k"]
        rows = [[name, *(number(values.get(f"{key}@{lk}"), 4) for key in COLUMNS)]
                for name, values in later["models"].items()]  # fmt: skip
        body = explain(
            f"The {later['customers']:,} customers of the given log who touched items they did not have; "
            f"{later['unknown_customers']:,} of them unknown to the model (served popular items)."
        )
        body += table(["model", *(f"{key}@{lk}" for key in COLUMNS)], rows, numeric=range(1, len(COLUMNS) + 1))
        body += verdict_box(later["verdict"])
        sections.append(Section("later", "On the given log", body))
    notes = metrics.get("notes") or []
    if notes:
        sections.append(Section("notes", "Notes", "".join(note(n) for n in notes)))
    return page(title, "recommender", sections)
