"""The web page of the service: its files answered without a key, with their types, holding no web address; the
card route behind the key; and the page in headless Chromium against a service run for real, used as a marketer
would: the key typed in, the models with their charts, a customer looked up with the reasons, a CSV file turned
into a target list and downloaded, by keyboard where it matters, without a console error or a failed request.

The browser test needs Debian's Chromium (/usr/bin/chromium) and playwright's Python package (no downloaded
browser): without them it skips on a user's machine and fails where NEEDMAP_REQUIRE_BROWSER=1 (CI). Its
full-page screenshots go to NEEDMAP_SCREENSHOTS when set, else to the test's temporary directory (the path is
printed).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import KEY, customers_table, running

import needs
from needmap.serve.page import WEB_FILES, read_page_files
from needmap.serve.registry import Registry
from needmap.serve.settings import Settings

AUTH = {"Authorization": f"Bearer {KEY}"}


# -- the files, over HTTP (no model needed) ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def empty_url() -> Iterator[str]:
    """A service asking for :data:`KEY` that serves no model: enough for the page's files."""
    with running(Settings({}, api_keys=(KEY,)), Registry({})) as url:
        yield url


def test_the_page_and_its_files_are_served_without_a_key(empty_url: str) -> None:
    with httpx.Client(base_url=empty_url) as client:
        for path in ("/", "/ui"):
            moved = client.get(path)
            assert moved.status_code == 307 and moved.headers["location"] == "ui/", (path, moved.text)
        page = client.get("/", follow_redirects=True)
        assert page.status_code == 200 and str(page.url) == f"{empty_url}/ui/"
        types = {"/ui/": "text/html", "/ui/index.html": "text/html", "/ui/page.js": "text/javascript",
                 "/ui/page.css": "text/css"}  # fmt: skip
        for path, kind in types.items():
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["content-type"] == f"{kind}; charset=utf-8"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert "default-src 'none'" in answer.headers["content-security-policy"]
            assert int(answer.headers["content-length"]) == len(answer.content) > 1000
            again = client.get(path, headers={"If-None-Match": answer.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
        head = client.head("/ui/page.js")
        assert head.status_code == 200 and head.content == b""
        # anything else under /ui/ is the API's: the key first, then 404
        for path in ("/ui/nothing.js", "/ui/../v1/models", "/ui/models/bank/card", "/ui/web/page.js"):
            assert client.get(path).status_code == 401, path
        assert client.get("/ui/nothing.js", headers=AUTH).json()["error"]["kind"] == "not_found"
        assert client.get("/ui/models/bank/card", headers=AUTH).json()["error"]["kind"] == "unknown_model"
        assert client.post("/ui/", json={}).status_code == 401  # only GET and HEAD are the page's
        metrics = client.get("/metrics", headers=AUTH).text
        assert 'route="/ui/{file}",status="200"' in metrics  # every file counted under one route


def test_the_page_fetches_nothing_from_elsewhere() -> None:
    files = {name: content.decode("utf-8") for name, (content, _, _) in read_page_files().items()}
    assert set(files) == set(WEB_FILES)
    for name, text in files.items():
        assert not re.search(r"https?://", text, re.IGNORECASE), name
        assert not re.search(r"(src|href)\s*=\s*[\"']?//", text), name
        assert "@import" not in text and "url(" not in text.replace("URL(", ""), name
    html = files["index.html"]
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == ["page.js"]
    assert "<script>" not in html and not re.search(r"\son[a-z]+=", html) and " style=" not in html
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) == ["page.css"]
    # every control has a label, and the tabs, alerts and results are announced
    ids = set(re.findall(r'<(?:input|select)[^>]*\sid="([^"]+)"', html))
    assert ids and ids <= set(re.findall(r'<label for="([^"]+)"', html)), ids
    assert 'role="alert"' in html and html.count('aria-live="polite"') >= 3 and html.count('role="tab"') == 3
    assert not re.search(r"<(div|span)[^>]*(role=\"button\"|tabindex=\"0\"[^>]*onclick)", html)  # buttons act
    assert 'id="lookup-id" name="customer" type="text" disabled' in html


# -- the card route ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page_models(model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``bank``: a DeepFM trained by the train workflow (its evaluation.json holds the curves), beside the
    uplift model and the recommender of the service's tests."""
    import needmap as nm
    from needmap.workflows.train import run_train

    out = tmp_path_factory.mktemp("page") / "bank"
    model = nm.Model("deepfm", target="y", id="customer_id", epochs=1, progress=False, seed=0)
    run_train(customers_table(), model, out=out, baseline=False, n_boot=20)
    return {"bank": out, "campaign": model_dirs["campaign"], "offers": model_dirs["offers"]}


@pytest.fixture(scope="module")
def page_url(page_models: dict[str, Path]) -> Iterator[str]:
    """The three models served with :data:`KEY`."""
    with running(Settings(page_models, api_keys=(KEY,)), Registry.load(page_models)) as url:
        yield url


@pytest.mark.slow
def test_the_card_route_answers_the_card_metrics_and_curves(page_url: str) -> None:
    with httpx.Client(base_url=page_url, headers=AUTH) as client:
        bank = client.get("/ui/models/bank/card").json()
        assert bank["card"].startswith("# Model card") and bank["kind"] == "table"
        assert bank["version"] == client.get("/v1/models/bank").json()["version"]
        assert bank["headline"]["rows"] == "the test rows"
        auc = next(m for m in bank["headline"]["metrics"] if m["key"] == "auc")
        assert 0 <= auc["value"] <= 1 and auc["text"] == f"{auc['value']:.4f}"
        assert auc["name"] == "ranking quality (AUC)"
        assert [c["id"] for c in bank["charts"]] == ["calibration", "gains", "lift"]
        gains = bank["charts"][1]
        assert gains["diagonal"] and gains["x_format"] == "%" and gains["series"][0]["x"][0] == 0.0
        assert len(gains["series"][0]["x"]) == len(gains["series"][0]["y"]) > 10
        assert set(bank["example"]) == {"customer_id", "age", "income", "region", "member"}
        assert bank["rank_by"] == "score" and bank["ids"] == ["customer_id"] and "NA" in bank["missing"]
        campaign = client.get("/ui/models/campaign/card").json()
        assert [c["id"] for c in campaign["charts"]] == ["incremental-discount", "incremental-free_shipping"]
        assert campaign["rank_by"] == "best_uplift" and campaign["headline"]["metrics"]
        offers = client.get("/ui/models/offers/card").json()
        assert offers["charts"] == [] and offers["example"] is None and offers["card"].startswith("# Recommender")
        for name in ("nope", "..%2Fbank", "%2E%2E"):
            raw = httpx.URL(page_url).copy_with(raw_path=f"/ui/models/{name}/card".encode())
            assert client.get(raw).status_code == 404, name
    assert httpx.get(f"{page_url}/ui/models/bank/card").status_code == 401


# -- the page in a browser --------------------------------------------------------------------------------------
def bank_csv(rows: list[dict[str, Any]]) -> bytes:
    """The customers as a marketer's export: a byte-order mark, ';' between fields, decimal commas, CRLF line
    ends, and a quoted note holding the separator, a quote and a line break."""
    lines = ["customer_id;age;income;region;member;note"]
    for i, row in enumerate(rows):
        income = str(row["income"]).replace(".", ",")
        note = f'"call; ask for ""{i}""\nlater"' if i % 3 == 0 else ""
        lines.append(f"{row['customer_id']};{row['age']};{income};{row['region']};{row['member']};{note}")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def campaign_csv(rows: list[dict[str, Any]]) -> bytes:
    """The customers of a campaign as a plain comma-separated file, text quoted."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _shot(page: Any, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("NEEDMAP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


@pytest.mark.slow
def test_a_marketer_uses_the_page_in_a_browser(page_url: str, tmp_path: Path) -> None:
    from needmap.uplift.generate import campaign

    sync_playwright = needs.browser()
    api = httpx.Client(base_url=page_url, headers=AUTH, timeout=30)
    customers = customers_table(40, seed=7).drop_columns(["y"]).to_pylist()
    offers_rows = campaign(60, seed=9).table.drop_columns(["spend", "treatment", "converted"]).to_pylist()
    events: list[tuple[str, str, str]] = []  # (phase, what, text)
    phase = ["no key"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(needs.CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: events.append((phase[0], f"console {m.type}", m.text)))
        page.on("pageerror", lambda e: events.append((phase[0], "console error", str(e))))
        page.on("requestfailed", lambda r: events.append((phase[0], "failed", r.url)))
        page.on("request", lambda r: events.append((phase[0], "request", r.url)))
        page.on("response", lambda r: events.append((phase[0], f"status {r.status}", r.url)))
        try:
            # no key yet: the page says the service asks for one, in its alert area
            page.goto(f"{page_url}/")
            assert page.url == f"{page_url}/ui/"
            page.locator("#messages").get_by_text("asks for an API key").wait_for()
            # the key typed, then Tab to "Use key" and Enter
            phase[0] = "keyed"
            page.fill("#key", KEY)
            page.focus("#key")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "key-use"
            page.keyboard.press("Enter")
            page.locator("#status").get_by_text("3 models loaded.").wait_for()
            assert page.evaluate("sessionStorage.getItem('needmap.apiKey')") == KEY
            assert page.locator("#messages").inner_text() == ""

            # 1. the models, each with its card and metrics; bank's and campaign's charts drawn
            assert page.locator("article.model h3").all_inner_texts() == ["bank", "campaign", "offers"]
            for chart in ("gains", "lift", "calibration", "incremental-discount"):
                svg = page.locator(f'svg.chart[data-chart="{chart}"]')
                drawn = svg.evaluate(
                    "s => [...s.querySelectorAll('path.line')].filter(p => p.getAttribute('d').length > 10"
                    " && p.getBBox().width + p.getBBox().height > 0).length"
                )
                box = svg.bounding_box()
                assert drawn >= 1 and box is not None and box["width"] > 250 and box["height"] > 150, (chart, box)
            bank = page.locator("#model-bank")
            assert "ranking quality (AUC)" in bank.locator("dl.metrics").inner_text()
            bank.locator("summary").click()
            assert bank.locator(".markdown h4").first.inner_text().startswith("Model card")
            assert bank.locator(".markdown table th").count() >= 2
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            models_shot = _shot(page, "serve-page-models.png", tmp_path)

            # keyboard: Tab from the key's buttons reaches the selected tab, an arrow moves to the next page
            page.focus("#key-use")
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "tab-models"
            assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
            page.keyboard.press("ArrowRight")
            assert page.evaluate("document.activeElement.id") == "tab-lookup"
            assert page.locator("#panel-lookup").is_visible() and not page.locator("#panel-models").is_visible()

            # 2. a customer looked up: the example prefilled, one value changed, Enter: the score and reasons
            assert page.locator("#lookup-id").is_disabled()
            age = page.locator("#lookup-input-age")
            assert age.input_value() != ""
            row = {name: value for name, value in api.get("/ui/models/bank/card").json()["example"].items()}
            assert page.locator("#lookup-input-region").input_value() == row["region"]
            age.fill("61")
            age.press("Enter")
            result = page.locator("#lookup-result")
            result.locator("li").first.wait_for()
            row["age"] = 61
            expected = api.post("/v1/models/bank/explain", json={"rows": [row], "top": 4}).json()["rows"]
            raises = [r["reason"] for r in expected if r["effect"] == "raises"]
            lowers = [r["reason"] for r in expected if r["effect"] == "lowers"]
            lists = result.locator("section.reasons")
            assert lists.nth(0).locator("h4").inner_text() == "What raises the score"
            assert lists.nth(0).locator("li").all_inner_texts() == raises
            assert lists.nth(1).locator("li").all_inner_texts() == lowers
            score = api.post("/v1/models/bank/predict", json={"rows": [row]}).json()["rows"][0]["score"]
            shown = float(result.locator("dd").first.inner_text().replace(",", "."))
            assert shown == pytest.approx(score, abs=1e-4)

            # 3. a campaign: a CSV file of customers, the top 10 by score, downloaded
            page.click("#tab-campaign")
            page.select_option("#campaign-model", "bank")
            page.set_input_files("#campaign-file", files=[{"name": "customers.csv", "mimeType": "text/csv",
                                                           "buffer": bank_csv(customers)}])  # fmt: skip
            info = page.locator("#campaign-file-info")
            info.get_by_text("40 customers, 6 columns (separated by semicolons)").wait_for()
            page.fill("#campaign-n", "10")
            page.click("#campaign-submit")
            page.locator("#campaign-table tbody tr").nth(9).wait_for()
            assert page.locator("#campaign-table tbody tr").count() == 10
            scores = api.post("/v1/models/bank/predict", json={"rows": customers}).json()["rows"]
            best = sorted(scores, key=lambda r: -r["score"])[:10]
            with page.expect_download() as downloaded:
                page.click("#campaign-download")
            download = downloaded.value
            assert download.suggested_filename == "bank-target-list.csv"
            with open(download.path(), encoding="utf-8", newline="") as handle:
                listed = list(csv.reader(handle))
            assert listed[0] == ["rank", "customer_id", "score"]
            assert [r[1] for r in listed[1:]] == [r["customer_id"] for r in best]
            assert [float(r[2]) for r in listed[1:]] == pytest.approx([r["score"] for r in best], abs=1e-12)
            assert [r[0] for r in listed[1:]] == [str(i) for i in range(1, 11)]

            # an uplift model: as many contacts as a budget pays for, the offers chosen by the service
            page.select_option("#campaign-model", "campaign")
            page.set_input_files("#campaign-file", files=[{"name": "campaign.csv", "mimeType": "text/csv",
                                                           "buffer": campaign_csv(offers_rows)}])  # fmt: skip
            page.locator("#campaign-file-info").get_by_text("60 customers").wait_for()
            page.check("#mode-budget")
            page.fill("#campaign-budget", "50")
            page.fill("#campaign-cost", "5")
            page.fill("#campaign-value", "400")
            assert "10 contacts" in page.locator("#campaign-count").inner_text()
            page.click("#campaign-submit")
            page.locator("#campaign-summary").get_by_text("Expected gain of the list").wait_for()
            header = page.locator("#campaign-table thead th").all_inner_texts()
            assert header == ["rank", "customer_id", "offer", "predicted_uplift", "expected_gain"]
            chosen = page.locator("#campaign-table tbody tr td:nth-child(2)").all_inner_texts()
            target = api.post("/v1/models/campaign/target", json={"rows": offers_rows, "budget": 10, "cost": 5.0,
                                                                   "value": 400.0}).json()  # fmt: skip
            assert chosen == [r["customer_id"] for r in target["rows"]] and len(chosen) > 2
            campaign_shot = _shot(page, "serve-page-campaign.png", tmp_path)
        finally:
            context.close()
            browser.close()
            api.close()
    before = [e for e in events if e[0] == "no key"]
    after = [e for e in events if e[0] == "keyed"]
    urls = [text for _, what, text in events if what == "request"]
    assert urls and all(u.startswith((page_url + "/", "blob:", "data:")) for u in urls), urls
    assert not [e for e in events if e[1] == "failed"], events
    # before the key: the one refused call for the models, and the browser's line about it
    assert [e[2] for e in before if e[1].startswith("status 4")] == [f"{page_url}/v1/models"]
    assert all("401" in e[2] for e in before if e[1] == "console error"), before
    assert not [e for e in after if e[1] == "console error" or e[1].startswith(("status 4", "status 5"))], after
    for shot in (models_shot, campaign_shot):
        assert shot.stat().st_size > 20_000
