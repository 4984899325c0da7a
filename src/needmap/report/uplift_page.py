"""The report page of an uplift model: the campaign and its randomization check, every learner and the
response model side by side per offer, the incremental outcome curves against contacts, the deciles, the
verdict."""

from __future__ import annotations

from typing import Any

from needmap.report.html import Section, explain, facts, note, page, table, verdict_box
from needmap.report.line_charts import Series, line_chart
from needmap.report.text import number

RESPONSE = "response model"


def _curve_series(name: str, curve: dict[str, Any], rows: int, *, dashed: bool = False) -> Series:
    shares = [0.0, *curve["share"]]
    values = [0.0, *(float("nan") if v is None else v for v in curve["incremental"])]
    return Series(name, [s * rows for s in shares], values, dashed=dashed)


def uplift_page(metrics: dict[str, Any], report: dict[str, Any], card_facts: dict[str, Any], title: str) -> str:
    """The HTML page for an uplift model's ``metrics.json`` and fit ``report`` (``card_facts``: what the
    model directory says)."""
    sections = [Section("model", "The model", facts(card_facts.items()))]
    balance = report.get("balance") or []
    if balance:
        flagged = [row for row in balance if row.get("flag")]
        body = explain(
            "Each offer's customers against the control's, column by column: the standardized mean difference of a "
            "number (difference of means over the pooled standard deviation), the largest difference in a "
            "category's share. In a randomized test these are near 0; above 0.1 is flagged."
        )
        if flagged:
            body += note(f"{len(flagged)} of {len(balance)} comparisons differ by more than 0.1: check how the arms "
                         "were assigned before trusting the effects.")  # fmt: skip
        rows = [[r["column"], r["kind"], r["arm"], number(r["difference"], 3), "yes" if r["flag"] else ""]
                for r in balance]  # fmt: skip
        body += table(["column", "kind", "offer", "difference", "flagged"], rows, numeric=[3])
        sections.append(Section("balance", "Randomization check", body))
    candidates = metrics.get("candidates") or {}
    if not candidates:
        sections.append(Section("comparison", "Learners", note(
            "This model was fitted without a held-out comparison (no candidates in metrics.json)."
        )))  # fmt: skip
        return page(title, "uplift model", sections)
    chosen = metrics.get("chosen")
    names = [chosen, *(n for n in candidates if n != chosen)] if chosen in candidates else list(candidates)
    k = float(metrics.get("k", 0.3))
    rows = []
    for name in names:
        for offer, m in candidates[name]["test"]["arms"].items():
            label = f"{name} (kept)" if name == chosen else name
            rows.append([label, offer, number(m["qini_coefficient"], 4), number(m.get("auuc"), 4),
                         number(m["uplift_at_k"], 4), number(m["incremental_at_k"], 1)])  # fmt: skip
    body = explain(
        f"{metrics['rows']['test']:,} test rows that no learner saw; each offer judged on its own and the control's "
        "rows. Qini coefficient and AUUC: 1 = the perfect ranking of the observed outcomes, 0 = random (an oracle "
        f"knowing each customer's true effect reaches only about 0.1 on effects of a few points). uplift@{k:.0%}: "
        f"treated minus control outcome among the top {k:.0%}; extra@{k:.0%}: that times the rows, the incremental "
        "outcome had they been contacted. The response model predicts who buys, not who is changed."
    )
    body += table(["learner", "offer", "Qini", "AUUC", f"uplift@{k:.0%}", f"extra@{k:.0%}"], rows, numeric=[2, 3, 4, 5])
    sections.append(Section("comparison", "Learners on the test rows", body))
    for offer in candidates[chosen]["test"]["arms"]:
        mine = candidates[chosen]["test"]["arms"][offer]
        rows_n = mine["rows_treated"] + mine["rows_control"]
        series = [_curve_series(f"{chosen} (kept)", mine["incremental_curve"], rows_n)]
        if RESPONSE in candidates:
            series.append(
                _curve_series(RESPONSE, candidates[RESPONSE]["test"]["arms"][offer]["incremental_curve"], rows_n)
            )
        total = mine["incremental_curve"]["incremental"][-1] or 0.0
        series.append(Series("random", [0.0, float(rows_n)], [0.0, total], dashed=True))
        chart = line_chart(
            f"profit-{offer}", f"Incremental outcome against contacts: {offer}", series,
            x_label="customers contacted, best first", y_label="incremental outcome", x_integer=True,
        )  # fmt: skip
        deciles = mine["by_decile"]
        keys = ("n_treatment", "n_control", "response_rate_treatment", "response_rate_control", "uplift")
        decile_rows = [
            [str(i + 1), *(number(deciles[key][i], 0 if key.startswith("n_") else 4) for key in keys)]
            for i in range(len(deciles["uplift"]))
        ]
        body = explain(
            f"The expected profit curve for a value of 1 per unit of the outcome and no contact cost, estimated on "
            f"the {rows_n:,} test rows of {offer} and control: contacting the top customers of each ranking, how "
            "many more conversions (or how much more spend) than without contact. With a value V and a cost C per "
            "contact the profit is V x this - C x contacts (needmap target computes it per customer)."
        )
        body += chart
        body += table(["decile", "treated", "control", "rate treated", "rate control", "uplift"], decile_rows,
                      numeric=range(1, 6))  # fmt: skip
        sections.append(Section(f"offer-{offer}", f"{offer}: profit curve and deciles ({chosen})", body))
    sections.append(Section("verdict", "Verdict", verdict_box(metrics.get("verdict", ""))))
    return page(title, "uplift model", sections)
