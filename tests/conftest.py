"""Every test runs offline, on CPU (unless marked gpu), with a private artifacts root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ["DOMAINLENS_NO_PROGRESS"] = "1"

pytest_plugins = ["tests.recs_fixtures", "tests.imaging_fixtures", "tests.text_fixtures", "tests.translation_fixtures",
                  "tests.redis_server"]


# The longest modules (seconds on 2 cores, measured with --durations), started first so that
# `make test`'s two workers (pytest-xdist, one module at a time each) finish together.
LONGEST_FIRST = ["tests/test_api.py", "tests/e2e/test_pages.py", "tests/e2e/test_first_visit_words.py",
                 "tests/domains/test_distributed.py", "tests/e2e/test_flows.py", "tests/e2e/test_browser.py",
                 "tests/e2e/test_no_code_names.py", "tests/dashboard/test_translation_page.py",
                 "tests/e2e/test_live_sources.py", "tests/domains/test_contract.py"]


def _longest_first(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: module order kept


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    _longest_first(items)
    if torch.cuda.is_available() or os.environ.get("DOMAINLENS_GPU_DRY_RUN") == "1":
        return  # the dry run checks the gpu tests themselves on the CPU
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none is visible: torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    home = tmp_path / "artifacts"
    monkeypatch.setenv("DOMAINLENS_HOME", str(home))
    if "gpu" not in request.keywords:
        monkeypatch.setenv("DOMAINLENS_DEVICE", "cpu")
    return home


@pytest.fixture(scope="session")
def german_credit_csv() -> Path:
    from domains.credit_risk.data import german_credit_path

    return german_credit_path()


def train_default_checkpoint(domain_key: str, root: Path) -> Path:
    """The domain's default model trained on its default data, saved as ``<root>/<domain>/<model>/v1``."""
    import torch

    from domains import registry
    from domains.base import TrainSettings
    from domains.training import train_and_save
    from models.control import CancelToken

    domain = registry.get(domain_key)
    spec = domain.models()[0]
    out = root / domain_key / spec.key / "v1"
    train_and_save(domain, spec, domain.load_data(), TrainSettings(), device=torch.device("cpu"),
                   progress=lambda p: None, cancel=CancelToken(), out_dir=out)
    return out


@pytest.fixture(scope="session")
def trained_gbm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained credit checkpoint shared by tests that only read it."""
    return train_default_checkpoint("credit_risk", tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="session")
def prepared_defaults(tmp_path_factory: pytest.TempPathFactory, synthetic_data_dir: Path) -> Path:
    """The default models every page opens with, fitted once for the session, as a server keeps
    them after its first start (``<artifacts>/_prepared``). Each served dashboard (and model
    server) starts with a copy, as a restarted server would: the browser and API tests then wait
    on pages and requests, not on fits (the preparation itself, with its progress, is what the
    AppTest page tests wait through)."""
    from unittest import mock

    import torch

    from domains import registry
    from domains.registry import PREPARED

    home = tmp_path_factory.mktemp("prepared")
    with mock.patch.dict(os.environ, {"DOMAINLENS_HOME": str(home), "DOMAINLENS_DATA": str(synthetic_data_dir)}):
        for key in registry.domain_keys():
            domain = registry.get(key)
            spec = domain.models()[0]
            if not spec.ready:
                registry.open_predictor(domain, spec, torch.device("cpu"))
    return home / PREPARED


def chromium_path() -> str | None:
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None
