"""The sections about the rows rather than the model: the data profile (each column, its missing values) and
the drift of given rows against the training profile. The profile page (:func:`needmap.report.build.
build_profile_report`) shows the profile section too."""

from __future__ import annotations

from typing import Any

from needmap.metrics.names import metric_text
from needmap.report.bar_charts import bar_chart
from needmap.report.content import MOST_BARS, percent
from needmap.report.histograms import histogram_pair, spark_histogram
from needmap.report.html import Raw, Section, badge, explain, facts, note, table
from needmap.report.text import esc, number

#: How many columns' distributions the drift section draws: those with the largest PSI.
DRIFT_CHARTS = 3


def _column_summary(entry: dict[str, Any]) -> str:
    kind = entry.get("kind")
    if kind == "numeric" and entry.get("mean") is not None:
        q = entry.get("quantiles") or {}
        return (
            f"mean {number(entry['mean'])}, std {number(entry['std'])}; min {number(entry['min'])}, "
            f"median {number(q.get('p50'))}, max {number(entry['max'])}; 1%–99%: {number(q.get('p1'))} – "
            f"{number(q.get('p99'))}"
        )
    if kind in ("categorical", "list") and entry.get("top"):
        total = sum(t["count"] for t in entry["top"]) + entry.get("other", 0)
        shown = ", ".join(f"{t['value']} ({t['count'] / max(total, 1) * 100:.0f}%)" for t in entry["top"][:5])
        more = (entry.get("distinct") or len(entry["top"])) - len(entry["top"][:5])
        return shown + (f", … {more} more" if more > 0 else "")
    return ""


def profile_section(profile: dict[str, Any] | None, missing_note: str) -> Section:
    """Each column of the profiled rows: role, missing share, distinct values, a summary, a histogram."""
    if not profile:
        return Section("profile", "Data profile", note(missing_note))
    columns = profile.get("columns") or []
    parts = [
        facts([("rows", f"{profile.get('rows', 0):,}"), ("columns", len(columns)), ("rows of", profile.get("source"))]),
        explain(
            "Missing counts values that are absent (or, in a numeric column, not numbers); outliers are the values "
            "outside the quantiles the preprocessor clips to. Histograms span the 1% to 99% quantiles, with one "
            "bar for the values below and one for those above; a column of whole numbers with at most 20 values "
            "there has one bar per value."
        ),
    ]
    rows = []
    for i, entry in enumerate(columns):
        histogram = entry.get("histogram")
        spark = (
            Raw(spark_histogram(f"hist-{i}", f"histogram of {entry['name']}", histogram["counts"]))
            if histogram and sum(histogram["counts"])
            else ""
        )
        rows.append(
            [
                entry["name"],
                entry.get("role", ""),
                entry.get("dtype", ""),
                percent(entry.get("missing_share")),
                "–" if entry.get("distinct") is None else f"{entry['distinct']:,}",
                "" if entry.get("outliers") is None else f"{entry['outliers']:,}",
                _column_summary(entry),
                spark,
            ]
        )
    parts.append(
        table(
            ["column", "role", "type", "missing", "distinct", "outliers", "values", "histogram"],
            rows,
            numeric=(3, 4, 5),
        )
    )
    with_missing = sorted((c for c in columns if c.get("missing")), key=lambda c: -c["missing_share"])[:MOST_BARS]
    parts.append("<h3>Missing values</h3>")
    if with_missing:
        parts.append(
            bar_chart(
                "missing",
                "share of rows missing, per column",
                [c["name"] for c in with_missing],
                [c["missing_share"] for c in with_missing],
                x_label="share of rows missing",
                x_format="%",
            )
        )
    else:
        parts.append(note("no column has missing values"))
    return Section("profile", "Data profile", "".join(parts))


def drift_section(drift: list[dict[str, Any]] | None, missing_note: str, data_name: str | None) -> Section:
    """PSI per column of the given rows against the training profile, and the most moved distributions."""
    if drift is None:
        return Section("drift", "Drift", note(missing_note))
    if not drift:
        return Section(
            "drift", "Drift", note("no column to compare: the profile has no numeric, categorical or list column")
        )
    parts = [
        explain(
            "Population stability index (PSI) of each column of "
            f"{data_name or 'the given rows'} against the training rows, over the training profile's bins "
            "(missing values are a bin of their own): below 0.1 stable, below 0.25 moderate, else large."
        ),
        table(
            ["column", "role", "PSI", "drift"],
            [[d["column"], d.get("role") or "", metric_text("psi", d["psi"]), badge(d["label"])] for d in drift],
            numeric=(2,),
        ),
    ]
    drawn = [d for d in drift if d.get("psi") is not None and d.get("bins")][:DRIFT_CHARTS]
    for k, d in enumerate(drawn, start=1):
        parts.append(f"<h3>{esc(d['column'])}: PSI {metric_text('psi', d['psi'])} ({esc(d['label'])})</h3>")
        parts.append(
            histogram_pair(
                f"drift-{k}",
                f"distribution of {d['column']}: training rows and {data_name or 'the given rows'}",
                d["bins"],
                d["expected"],
                d["actual"],
                names=("training rows", data_name or "given rows"),
            )
        )
    return Section("drift", "Drift", "".join(parts))
