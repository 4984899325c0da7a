"""Reports people can read: a model's validation (curves, baselines, verdict, importance) and a data profile.

One self-contained HTML file each, with inline CSS and SVG charts: no script, nothing fetched.

Importing this package imports none of its modules: ``needmap profile`` loads the profile page without torch,
which the model's report (and permutation importance) loads. The names below are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from needmap.report.build import build_profile_report, build_report
    from needmap.workflows.importance import permutation_importance

__all__ = ["build_profile_report", "build_report", "permutation_importance"]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module when first asked for."""
    if name in ("build_profile_report", "build_report"):
        from needmap.report import build

        value = getattr(build, name)
    elif name == "permutation_importance":
        from needmap.workflows.importance import permutation_importance as value
    else:
        raise AttributeError(f"module 'needmap.report' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
