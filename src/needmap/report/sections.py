"""The sections of a model's report page, in page order, each from plain dicts: metrics.json,
evaluation.json, profile.json.

:class:`~needmap.report.content.ReportData` gathers what a page shows; one function per section turns it
into HTML, each in the module of its part of the report: the summary (:mod:`needmap.report.summary_section`),
the data profile and drift (:mod:`needmap.report.data_sections`), training
(:mod:`needmap.report.training_section`), the evaluation charts (:mod:`needmap.report.curve_sections`),
the regression charts (:mod:`needmap.report.regression_sections`), the lifetime-value metrics and deciles
(:mod:`needmap.report.ltv_section`), the baselines
(:mod:`needmap.report.baselines_section`) and the importance
(:mod:`needmap.report.importance_section`). The page around them is in :mod:`needmap.report.html`. A
section whose data is missing says so in one line instead of drawing an empty chart.
"""

from __future__ import annotations

from needmap.report.baselines_section import baselines_section
from needmap.report.content import ReportData
from needmap.report.curve_sections import CURVES, curve_section
from needmap.report.data_sections import drift_section, profile_section
from needmap.report.html import Section
from needmap.report.importance_section import importance_section
from needmap.report.ltv_section import ltv_section
from needmap.report.reasons_section import reasons_section
from needmap.report.regression_sections import amount_gains_section, deciles_section, residuals_section
from needmap.report.summary_section import summary_section
from needmap.report.training_section import training_section


def report_sections(data: ReportData) -> list[Section]:
    """Every section of a model's report, in page order: the evaluation charts of the model's tasks alone
    (ROC to profit for a binary target, residuals, deciles and gains by amount for a regression target; a
    multiclass target has its metrics in the summary and baselines sections)."""
    notes = data.notes
    tasks = set(data.targets.values())
    binary = [curve_section(curve, data) for curve in CURVES] if "binary" in tasks or not tasks else []
    regression = (
        [residuals_section(data), deciles_section(data), amount_gains_section(data)] if "regression" in tasks else []
    )
    ltv = [ltv_section(data)] if "ltv" in tasks else []
    return [
        summary_section(data),
        profile_section(data.profile, notes.get("profile", "no profile.json in this model directory")),
        drift_section(
            data.drift, notes.get("drift", "no data given to compare with the training rows"), data.data_name
        ),
        training_section(data.metrics, data.task),
        *binary,
        *regression,
        *ltv,
        baselines_section(data),
        importance_section(data, notes.get("importance", "no importance measured")),
        *([reasons_section(data)] if not tasks or tasks <= {"binary", "regression"} else []),
    ]
