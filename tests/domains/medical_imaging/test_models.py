"""The three model families through one contract: train, checkpoint, reload, explain."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from domains import registry
from domains.base import DomainData, ModelSpec, TrainSettings
from domains.capabilities import ImageExplainer
from domains.medical_imaging.predict import INTENDED_USE, ImagePredictor
from domains.training import train_and_save
from models.checkpoints import load_bundle
from models.control import CancelledError, CancelToken
from tests.imaging_fixtures import synthetic_images, write_npz

CPU = torch.device("cpu")


def _domain():  # type: ignore[no-untyped-def]
    return registry.get("medical_imaging")


def _train(spec: ModelSpec, data: DomainData, out: Path, **options: object) -> ImagePredictor:
    train_and_save(_domain(), spec, data, TrainSettings(epochs=int(options.pop("epochs", 1)), options=options),
                   device=CPU, progress=lambda p: None, cancel=CancelToken(), out_dir=out)
    predictor = _domain().load(load_bundle(out), CPU)
    assert isinstance(predictor, ImagePredictor)
    return predictor


def test_cnn_checkpoint_roundtrip_and_metadata(imaging_cnn_dir: Path) -> None:
    meta = json.loads((imaging_cnn_dir / "metadata.json").read_text())
    assert meta["intended_use"] == INTENDED_USE and "not for diagnostic use" in meta["intended_use"]
    assert meta["labels"] == ["normal", "pneumonia"] and 0 < meta["threshold"] < 1
    assert meta["metrics"]["val_auc"] > 0.95  # the synthetic opacity is easy to learn
    # The default recipe: one net per fold of train+val, kept as an ensemble; out-of-fold
    # metrics with their spread across folds.
    assert meta["options"]["members"] == 2 and meta["metrics"]["val_auc_std"] >= 0.0
    assert meta["metrics"]["val_auc_min"] > 0.9
    data = _domain().load_data()
    first = _domain().load(load_bundle(imaging_cnn_dir), CPU)
    second = _domain().load(load_bundle(imaging_cnn_dir), CPU)
    batch = data.frame.filter(pl.col("split") == "test").head(64)
    np.testing.assert_allclose(first.predict(batch)["score"].to_numpy(), second.predict(batch)["score"].to_numpy())
    report = _domain().evaluate(first, data, split="test")
    assert report.metrics["auc"] > 0.95 and report.metrics["acc"] > 0.85
    assert {"auc", "acc", "sensitivity", "specificity", "f1", "ece"} <= set(report.metrics)


def test_threshold_moves_decisions(imaging_cnn_dir: Path) -> None:
    predictor = _domain().load(load_bundle(imaging_cnn_dir), CPU)
    assert isinstance(predictor, ImagePredictor)
    batch = _domain().load_data().frame.head(100)
    assert predictor.with_threshold(0.0).predict(batch)["flagged"].all()
    assert not predictor.with_threshold(1.01).predict(batch)["flagged"].any()
    assert predictor.predict(batch.head(0)).height == 0


def test_grad_cam_points_at_the_opacity(imaging_cnn_dir: Path) -> None:
    predictor = _domain().load(load_bundle(imaging_cnn_dir), CPU)
    assert isinstance(predictor, ImageExplainer)
    images, labels, centres = synthetic_images(40, seed=11)
    positives = np.flatnonzero(labels[:, 0] == 1)[:10]
    from domains.images import image_frame, pixels_row

    batch = image_frame([pixels_row(str(i), images[i]) for i in positives])
    hits = 0
    for i, explanation in zip(positives, predictor.explain_image(batch), strict=True):
        heat = explanation.heatmap
        assert heat.shape == explanation.image.shape[:2] and heat.min() >= 0.0 and heat.max() <= 1.0 + 1e-6
        scale = heat.shape[0] / 28
        cy, cx = centres[i] * scale
        yy, xx = np.mgrid[0 : heat.shape[0], 0 : heat.shape[1]]
        near = (yy - cy) ** 2 + (xx - cx) ** 2 < (6 * scale) ** 2
        hits += heat[near].mean() > heat[~near].mean()
    assert hits >= 8  # attention sits on the blob for (almost) every positive


def test_multiclass_rgb(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "cells.npz", {"train": 300, "val": 60, "test": 60}, channels=3, classes=3)
    data = _domain().load_data(path)
    assert data.info["labels"] == ["class 0", "class 1", "class 2"]
    predictor = _train(_domain().spec("cnn"), data, tmp_path / "ckpt", epochs=4, folds=2)
    assert not predictor.binary and predictor.channels == 3
    report = _domain().evaluate(predictor, data, split="test")
    assert {"auc", "acc", "macro_f1", "ece"} <= set(report.metrics) and report.metrics["auc"] > 0.8
    assert report.frames["per_class"].height == 3
    assert set(_domain().charts(report)) >= {"confusion", "calibration", "per_class"}
    out = predictor.predict(data.frame.head(5))
    assert out["probabilities"].list.len().to_list() == [3] * 5


def test_efficientnet_transfer_loads_imagenet_weights(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "pneumoniamnist.npz", {"train": 96, "val": 32})
    data = _domain().load_data(path)
    predictor = _train(_domain().spec("efficientnet_lite0"), data, tmp_path / "eff", epochs=1, input_size=64)
    assert predictor.net.input_size == 64  # type: ignore[attr-defined]
    assert predictor.predict(data.frame.head(4)).height == 4
    assert predictor.explain_image(data.frame.head(1))[0].heatmap.shape == (320, 320)


def _tiny_vit(folder: Path) -> Path:
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(image_size=28, patch_size=7, num_channels=3, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64, num_labels=2)
    ViTForImageClassification(config).save_pretrained(folder)
    return folder


def test_hf_vision_model_from_a_local_folder(tmp_path: Path) -> None:
    source = _tiny_vit(tmp_path / "tiny-vit")
    spec = ModelSpec("vit", "tiny ViT", "hf", source=str(source))
    data = _domain().load_data()
    predictor = _train(spec, data, tmp_path / "vit", epochs=1)
    assert (tmp_path / "vit" / "hf" / "config.json").is_file()
    batch = data.frame.head(8)
    again = _domain().load(load_bundle(tmp_path / "vit"), CPU)
    np.testing.assert_allclose(predictor.predict(batch)["score"].to_numpy(), again.predict(batch)["score"].to_numpy(),
                               rtol=1e-5)
    cam = predictor.explain_image(batch.head(2))
    assert len(cam) == 2 and np.isfinite(cam[0].heatmap).all()


def test_hf_hub_id_offline_is_a_clear_error() -> None:
    from domains.base import DomainLensError

    with pytest.raises(DomainLensError, match="HF_HUB_OFFLINE"):  # ModelSourceError, printed as one line
        _domain().train(_domain().spec("vit"), _domain().load_data(), TrainSettings(epochs=1), device=CPU,
                        progress=lambda p: None, cancel=CancelToken())


def test_cancel_stops_training_and_writes_nothing(tmp_path: Path) -> None:
    cancel = CancelToken()
    seen = []

    def progress(p: object) -> None:
        seen.append(p)
        if len(seen) == 2:
            cancel.cancel()

    with pytest.raises(CancelledError):
        train_and_save(_domain(), _domain().spec("cnn"), _domain().load_data(), TrainSettings(epochs=3), device=CPU,
                       progress=progress, cancel=cancel, out_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_folds_shrink_to_the_rarest_class_and_only_the_cnn_takes_them(tmp_path: Path) -> None:
    """Five folds asked of a file whose rarer class has three images: three nets, not a crash;
    folds for a pretrained net are refused with what to do instead."""
    from domains.base import DataError
    from domains.medical_imaging.train import _fold_count

    path = write_npz(tmp_path / "few.npz", {"train": 60, "val": 20})
    data = _domain().load_data(path)
    rows = data.frame
    labels = rows["label"].to_numpy()
    keep = np.concatenate([np.flatnonzero(labels == 0)[:3], np.flatnonzero(labels == 1)])
    few = rows[keep]
    assert _fold_count(5, "cnn", few) == 3 and _fold_count(1, "cnn", few) == 1
    with pytest.raises(DataError, match="only the CNN"):
        _fold_count(5, "efficientnet_lite0", few)


def test_recipe_options_survive_the_checkpoint(tmp_path: Path) -> None:
    """A net trained with the earlier augmentation and per-image standardised input reloads as the
    same net: the options are on record and the reloaded net standardises its input."""
    path = write_npz(tmp_path / "small.npz", {"train": 120, "val": 40})
    data = _domain().load_data(path)
    predictor = _train(_domain().spec("cnn"), data, tmp_path / "ckpt", folds=1, augment="standard", standardize=True)
    meta = json.loads((tmp_path / "ckpt" / "metadata.json").read_text())
    assert meta["options"]["augment"] == "standard" and meta["options"]["standardize"] is True
    assert getattr(predictor.net, "standardize", None) is True  # _train returns the reloaded predictor
    brighter = data.split("val").with_columns(pl.col("pixels").map_elements(
        lambda b: bytes(min(255, v + 30) for v in b), return_dtype=pl.Binary))
    scores = predictor.predict(data.split("val"))["score"].to_numpy()
    # Brighter by a constant (unclipped pixels): per-image standardisation sees nearly the same image.
    assert np.abs(predictor.predict(brighter)["score"].to_numpy() - scores).max() < 0.05
