"""The medical imaging CLI forms the issue fixes: train, evaluate on a test-only npz,
predict on a folder, an npz and a DICOM file."""

import json
from pathlib import Path

import polars as pl
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from dashboard.cli import main
from tests.imaging_fixtures import synthetic_images, write_npz


def _last_json(capsys: pytest.CaptureFixture) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = write_npz(tmp_path / "pneumoniamnist.npz", {"train": 200, "val": 60})
    assert main(["train", "medical_imaging", "--model", "cnn", "--data", str(data), "--epochs", "2", "--json"]) == 0
    payload = _last_json(capsys)
    assert payload["model"] == "cnn" and payload["metrics"]["val_auc"] > 0.8
    meta = json.loads(Path(payload["checkpoint"], "metadata.json").read_text())
    assert "not for diagnostic use" in meta["intended_use"]
    assert meta["options"]["augment"] == "site_shift"  # the recipe the checkpoint was trained with, on record


def test_an_unknown_augmentation_is_refused_before_training(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "medical_imaging", "--model", "cnn", "--augment", "heavy"]) == 2
    err = capsys.readouterr().err
    assert "augment='heavy'" in err and "site_shift" in err and "standard" in err and "Traceback" not in err


def test_evaluate_on_test_only_npz(imaging_cnn_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = write_npz(tmp_path / "held.npz", {"test": 120})
    assert main(["evaluate", "medical_imaging", "--checkpoint", str(imaging_cnn_dir), "--data", str(data),
                 "--split", "test", "--json"]) == 0
    metrics = _last_json(capsys)["metrics"]
    assert {"auc", "acc"} <= set(metrics) and metrics["auc"] > 0.9 and metrics["images"] == 120


def test_cv_is_refused_with_a_reason(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "medical_imaging", "--model", "cnn", "--cv", "5"]) == 2
    assert "does not cross-validate" in capsys.readouterr().err


def test_evaluate_missing_split_is_a_clear_error(imaging_cnn_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    data = write_npz(tmp_path / "trainonly.npz", {"train": 20})
    assert main(["evaluate", "medical_imaging", "--checkpoint", str(imaging_cnn_dir), "--data", str(data)]) == 2
    assert "no 'test' split; choose one of: train, all" in capsys.readouterr().err


def test_predict_folder_npz_and_dicom(imaging_cnn_dir: Path, tmp_path: Path) -> None:
    images, _, _ = synthetic_images(6, seed=3)
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"study{i}.png")
    (folder / "readme.txt").write_text("ignored")
    for source, rows in ((folder, 6), (write_npz(tmp_path / "x.npz", {"test": 9}), 9),
                         (Path(str(get_testdata_file("RG1_UNCR.dcm", download=False))), 1)):
        out = tmp_path / f"{source.stem}.csv"
        assert main(["predict", "medical_imaging", "--checkpoint", str(imaging_cnn_dir), "--input", str(source),
                     "--output", str(out)]) == 0
        scored = pl.read_csv(out)
        assert scored.height == rows and "pixels" not in scored.columns
        assert set(scored["prediction"]) <= {"normal", "pneumonia"}
        assert scored["score"].is_between(0, 1).all()
