"""MedMNIST npz in every shape the issue names, image folders and zip uploads."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from domains.base import DataError
from domains.medical_imaging import data as img_data
from tests.imaging_fixtures import synthetic_images, write_npz


def test_default_is_found_through_domainlens_data(synthetic_data_dir: Path) -> None:
    data = img_data.load()
    assert data.info["labels"] == ["normal", "pneumonia"] and data.info["positive"] == 1
    assert data.info["splits"] == ["train", "val", "test"]
    assert data.frame.height == 820 and set(data.frame["height"].unique()) == {28}
    assert data.info["flip"] is False  # chest X-rays are never mirrored


def test_medmnist_cache_is_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOMAINLENS_DATA")
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("MEDMNIST_ROOT", str(cache))
    with pytest.raises(DataError, match="DOMAINLENS_DATA"):
        img_data.load()
    write_npz(cache / "pneumoniamnist.npz", {"train": 20})
    assert img_data.load().frame.height == 20


def test_test_only_npz(tmp_path: Path) -> None:
    data = img_data.load(write_npz(tmp_path / "t.npz", {"test": 30}))
    assert data.info["splits"] == ["test"] and data.frame.height == 30


def test_rgb_multiclass_npz(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "bloodmnist.npz", {"train": 40, "test": 12}, channels=3, classes=4)
    data = img_data.load(path)
    assert data.info["channels"] == 3 and data.info["positive"] is None
    assert data.info["labels"][:2] == ["basophil", "eosinophil"]
    assert set(data.frame["channels"].unique()) == {3}


@pytest.mark.parametrize("arrays, message", [
    ({"images": np.zeros((3, 28, 28), np.uint8)}, "needs train_images"),
    ({"train_images": np.zeros((3, 28, 28), np.uint8), "train_labels": np.zeros((4, 1), np.uint8)}, "must match"),
    ({"train_images": np.zeros((3, 28, 28), np.uint8)}, "not both"),
    ({"train_images": np.zeros((3, 28), np.uint8), "train_labels": np.zeros((3, 1), np.uint8)}, "expected"),
])
def test_bad_npz_is_a_clear_error(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        img_data.load(path)


def test_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    np.savez(path, train_images=np.array([object()], dtype=object), train_labels=np.zeros((1, 1)))
    with pytest.raises((DataError, ValueError)):
        img_data.load(path)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_folder_and_zip_upload(tmp_path: Path) -> None:
    images, labels, _ = synthetic_images(40, size=32)
    root = tmp_path / "xrays"
    for i, (image, label) in enumerate(zip(images, labels[:, 0], strict=True)):
        folder = root / ("pneumonia" if label else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(_png(image))
    (root / "normal" / "notes.txt").write_text("not an image")
    data = img_data.load(root)
    assert data.info["labels"] == ["normal", "pneumonia"] and data.frame.height == 40
    assert {"train", "val", "test"} <= set(data.frame["split"].unique())

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in root.rglob("*.png"):
            archive.write(path, f"xrays/{path.relative_to(root)}")
        archive.writestr("../escape.png", _png(images[0]))  # a path that must not escape the temp dir
    uploaded = img_data.from_upload("xrays.zip", buffer.getvalue(), max_bytes=10_000_000)
    assert uploaded.frame.height == 40 and uploaded.info["labels"] == ["normal", "pneumonia"]


def test_upload_limits_and_types() -> None:
    with pytest.raises(DataError, match="limit"):
        img_data.from_upload("big.npz", b"x" * 2000, max_bytes=1000)
    with pytest.raises(DataError, match=r"\.npz or a \.zip"):
        img_data.from_upload("table.csv", b"a,b\n1,2\n", max_bytes=1000)
    with pytest.raises(DataError, match="not a readable"):
        img_data.from_upload("broken.npz", b"PK\x03\x04garbage", max_bytes=1000)
