"""Synthetic MedMNIST-layout data (always available) and the real PneumoniaMNIST file
(skipped with a reason when absent) for the medical imaging tests.

The synthetic "X-rays" are smooth grey fields with noise; the positive class carries a
bright blob (an "opacity") at a random place in the left or right half, so a model can
learn it in seconds and Grad-CAM has a known place to point at.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from domains import registry
from domains.base import TrainSettings
from domains.training import train_and_save
from models.control import CancelToken

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DOMAINLENS_SHARED_DATA", REPO.parent / "shared" / "data"))


def synthetic_images(n: int, *, size: int = 28, channels: int = 1, classes: int = 2, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels and blob centres (row, col) for the positive/extra classes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    labels = rng.integers(0, classes, size=n)
    images = np.empty((n, size, size), dtype=np.float32)
    centres = np.zeros((n, 2), dtype=np.float32)
    for i in range(n):
        base = 70 + 40 * (yy / size) + rng.normal(0, 12, (size, size))
        if labels[i]:
            cy, cx = rng.uniform(0.3, 0.7) * size, rng.uniform(0.2, 0.8) * size
            radius = size * (0.08 + 0.04 * labels[i])
            base += 120 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
            centres[i] = (cy, cx)
            if labels[i] >= 2:  # extra classes: a dark band across the bottom as well
                base[int(size * 0.8) :, :] -= 50
        images[i] = base
    out = np.clip(images, 0, 255).astype(np.uint8)
    if channels == 3:
        tint = np.array([1.0, 0.8, 0.6], dtype=np.float32)
        out = np.clip(out[..., None] * tint, 0, 255).astype(np.uint8)
    return out, labels.reshape(-1, 1).astype(np.uint8), centres


def write_npz(path: Path, splits: dict[str, int], **kwargs: int) -> Path:
    arrays = {}
    for offset, (split, n) in enumerate(splits.items()):
        images, labels, _ = synthetic_images(n, seed=offset, **kwargs)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    np.savez_compressed(path, **arrays)
    return path


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A $DOMAINLENS_DATA folder whose pneumoniamnist.npz is synthetic (300+ test images
    so the contract test's 300-event replay fits)."""
    folder = tmp_path_factory.mktemp("imaging-data")
    write_npz(folder / "pneumoniamnist.npz", {"train": 400, "val": 100, "test": 320})
    return folder


@pytest.fixture(autouse=True)
def _synthetic_default(synthetic_data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOMAINLENS_DATA", str(synthetic_data_dir))
    monkeypatch.setenv("MEDMNIST_ROOT", str(tmp_path / "no-medmnist-cache"))
    monkeypatch.setenv("DOMAINLENS_OFFLINE", "1")


@pytest.fixture(scope="session")
def imaging_cnn_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_data_dir: Path) -> Path:
    """One CNN checkpoint trained on the synthetic data, shared by tests that only read it."""
    domain = registry.get("medical_imaging")
    out = tmp_path_factory.mktemp("artifacts") / "medical_imaging" / "cnn" / "v1"
    data = domain.load_data(synthetic_data_dir / "pneumoniamnist.npz")
    # Two folds: the default recipe's cross-validated ensemble, at a fraction of five folds' time.
    train_and_save(domain, domain.models()[0], data, TrainSettings(epochs=4, options={"folds": 2}),
                   device=torch.device("cpu"),
                   progress=lambda p: None, cancel=CancelToken(), out_dir=out)
    return out


@pytest.fixture(scope="session")
def pneumonia_npz() -> Path:
    path = SHARED / "pneumoniamnist.npz"
    if not path.is_file():
        pytest.skip(f"real PneumoniaMNIST not found at {path} (set DOMAINLENS_SHARED_DATA to its folder)")
    return path
