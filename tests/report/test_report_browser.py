"""The report in headless Chromium: it renders offline, every chart has a size and drawn data, nothing is fetched.

Needs Debian's Chromium (/usr/bin/chromium) and playwright's Python package (no downloaded browser).
Without them the test skips on a user's machine and fails where NEEDMAP_REQUIRE_BROWSER=1 (CI).
Set NEEDMAP_SCREENSHOTS=<dir> to keep the full-page screenshots there too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import needmap as nm
import needs
from needmap.report import build_profile_report, build_report

BASE_CHARTS = ("training-loss", "training-metric", "roc", "pr", "calibration", "gains", "lift", "profit")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, launched once for this file's tests."""
    sync_playwright = needs.browser()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(needs.CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def _check_in_browser(browser: Any, path: Path, charts: list[str], shot: Path) -> dict[str, Any]:
    """Open ``path`` in Chromium: no console error, no request but the file, every chart drawn; a screenshot."""
    url = path.resolve().as_uri()
    console: list[tuple[str, str]] = []
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.on("pageerror", lambda e: console.append(("error", str(e))))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url, wait_until="load")
        found = {}
        for chart in charts:
            svg = page.locator(f'svg.chart[data-chart="{chart}"]')
            assert svg.count() == 1, f"chart {chart!r}: {svg.count()} elements"
            box = svg.bounding_box()
            assert box is not None and box["width"] > 50 and box["height"] > 20, (chart, box)
            # the data only: lines (not the axes, grid, guides or legend) and bars with an area
            drawn = svg.evaluate(
                """s => ({
                    paths: [...s.querySelectorAll('path.line')].filter(p => (p.getAttribute('d') || '').length > 2
                           && p.getBBox().width + p.getBBox().height > 0).length,
                    rects: [...s.querySelectorAll('rect')].filter(r => r.getBBox().width > 0
                           && r.getBBox().height > 0).length,
                    title: (s.querySelector('title') || {}).textContent || ''
                })"""
            )
            assert drawn["paths"] + drawn["rects"] > 0, f"chart {chart!r} draws no data: {drawn}"
            assert drawn["title"], f"chart {chart!r} has no title"
            found[chart] = drawn
        page.screenshot(path=str(shot), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        context.close()
    errors = [text for kind, text in console if kind == "error"]
    assert not errors, errors
    assert requests and all(r == url for r in requests), requests
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("NEEDMAP_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return {"charts": found, "width": width}


@pytest.mark.slow
def test_bank_report_renders_offline(
    browser: Any, tmp_path: Path, bank_model_dir: Path, bank_holdout_csv: Path
) -> None:
    out = build_report(bank_model_dir, nm.read(bank_holdout_csv), out=tmp_path / "bank-report.html")
    charts = [*BASE_CHARTS, "drift-1", "drift-2", "drift-3", "importance", "attribution", "hist-0"]
    result = _check_in_browser(browser, out, charts, tmp_path / "bank-report.png")
    assert result["width"] <= 1280  # nothing wider than the window
    n_models = len(nm.load(bank_model_dir).extras_["evaluation.json"]["models"])
    assert result["charts"]["roc"]["paths"] == n_models + 1  # each model on the test rows, the deep one on the data


@pytest.mark.slow
def test_shoppers_report_renders_offline(
    browser: Any, tmp_path: Path, shoppers_model_dir: Path, shoppers_csv: Path
) -> None:
    data = nm.read(shoppers_csv)
    out = build_report(shoppers_model_dir, data, out=tmp_path / "shoppers-report.html")
    _check_in_browser(browser, out, [*BASE_CHARTS, "drift-1", "importance"], tmp_path / "shoppers-report.png")


def test_profile_page_renders_offline(browser: Any, tmp_path: Path, shoppers_csv: Path) -> None:
    table = nm.read(shoppers_csv)
    schema = nm.Model("mlp", target="Revenue").infer_schema(table)
    out = build_profile_report(table, out=tmp_path / "shoppers-profile.html", schema=schema)
    _check_in_browser(browser, out, ["target", "hist-0"], tmp_path / "shoppers-profile.png")


def test_without_chromium_the_test_skips_unless_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(needs, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("NEEDMAP_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        needs.browser()
    monkeypatch.setenv("NEEDMAP_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="NEEDMAP_REQUIRE_BROWSER=1"):
        needs.browser()
