"""The service's tests: three small saved models (a DeepFM of a table, an uplift model, a recommender) and a
service of them run for real, by uvicorn on a free loopback port in a thread, called over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import KEY, customers_table, running

import needmap as nm
from needmap.serve.registry import Registry
from needmap.serve.settings import Limits, Settings


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three saved models by name: ``bank`` (DeepFM, binary), ``campaign`` (uplift, T-learner over
    LightGBM), ``offers`` (ItemKNN)."""
    from needmap.recommend.generate import planted_interactions
    from needmap.recommend.recommender import Recommender
    from needmap.uplift.generate import campaign
    from needmap.uplift.model import UpliftModel

    root = tmp_path_factory.mktemp("served")
    model = nm.Model("deepfm", target="y", id="customer_id", epochs=1, progress=False, seed=0)
    model.fit(customers_table()).predictor_.save(root / "bank")
    rows = campaign(1500, seed=5).table.drop_columns(["spend"])
    uplift = UpliftModel("t", base="lightgbm", treatment="treatment", control="control", outcome="converted",
                         id="customer_id", threads=1)  # fmt: skip
    uplift.fit(rows).predictor_.save(root / "campaign")
    data, _, _ = planted_interactions(customers=60, items=20, seed=2)
    Recommender("itemknn").fit(data).save(root / "offers")
    return {"bank": root / "bank", "campaign": root / "campaign", "offers": root / "offers"}


@pytest.fixture(scope="session")
def registry(model_dirs: dict[str, Path]) -> Registry:
    """The three models loaded once, shared by the services of the tests that do not reload."""
    return Registry.load(model_dirs)


@pytest.fixture(scope="session")
def base_url(model_dirs: dict[str, Path], registry: Registry) -> Iterator[str]:
    """A service of the three models without keys (loopback)."""
    with running(Settings(model_dirs), registry) as url:
        yield url


@pytest.fixture(scope="session")
def keyed_url(model_dirs: dict[str, Path], registry: Registry) -> Iterator[str]:
    """A service of the three models asking for :data:`KEY`, with small limits (2 KiB bodies, 5 rows)."""
    limits = Limits(max_body_bytes=2048, max_rows=5)
    settings = Settings(model_dirs, api_keys=(KEY,), limits=limits, cors_origins=("https://app.example",))
    with running(settings, registry) as url:
        yield url


@pytest.fixture
def model_copy(model_dirs: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the DeepFM's directory, for the tests that replace it."""
    return Path(shutil.copytree(model_dirs["bank"], tmp_path / "bank"))
