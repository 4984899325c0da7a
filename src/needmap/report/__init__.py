"""Reports people can read: a model's validation (curves, baselines, verdict, importance) and a data profile.

One self-contained HTML file each, with inline CSS and SVG charts: no script, nothing fetched.
"""

from __future__ import annotations

from needmap.report.build import build_profile_report, build_report
from needmap.workflows.importance import permutation_importance

__all__ = ["build_profile_report", "build_report", "permutation_importance"]
