"""Shared MovieLens data and one trained EASE checkpoint for the recommendation tests (domain and page)."""

from pathlib import Path

import pytest
import torch

from domains import registry
from domains.base import DomainData, TrainSettings
from domains.recommendations.predict import RecPredictor
from domains.training import train_and_save
from models.checkpoints import load_bundle
from models.control import CancelToken


@pytest.fixture(scope="session")
def movielens() -> DomainData:
    return registry.get("recommendations").load_data()


@pytest.fixture(scope="session")
def ease_dir(tmp_path_factory: pytest.TempPathFactory, movielens: DomainData) -> Path:
    domain = registry.get("recommendations")
    spec = next(s for s in domain.models() if s.key == "ease")
    out = tmp_path_factory.mktemp("artifacts") / "recommendations" / "ease" / "v1"
    train_and_save(domain, spec, movielens, TrainSettings(), device=torch.device("cpu"), progress=lambda p: None,
                   cancel=CancelToken(), out_dir=out)
    return out


@pytest.fixture(scope="session")
def ease(ease_dir: Path) -> RecPredictor:
    predictor = registry.get("recommendations").load(load_bundle(ease_dir), torch.device("cpu"))
    assert isinstance(predictor, RecPredictor)
    return predictor
