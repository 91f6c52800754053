"""Training recipes for the text models.

- ``tfidf_lr``: word 1-2-gram TF-IDF (sublinear tf) + logistic regression, its
  regularisation picked on the validation split.
- ``zero_shot``: no training; the head holds the embeddings of the class descriptions.
- ``minilm_linear``: frozen MiniLM sentence embeddings + a linear head trained with
  ``models.training.fit``.
- ``minilm_finetune`` / hub models: the whole ``AutoModelForSequenceClassification``
  trained with ``models.training.fit`` (length-bucketed batches with dynamic padding,
  warm-up then cosine decay, early stopping on validation accuracy, best epoch kept).
- ``minilm_distilled``: MiniLM fine-tuned to imitate a trained ``mpnet_finetune`` (knowledge
  distillation, Hinton et al., 2015): the teacher's temperature-softened class probabilities on
  the training reviews, on unlabelled in-domain text (the dataset's unlabelled rows; for the
  reviews, the sentences of the movie plot summaries the corpus ships) and on an altered copy
  of each training review, mixed with the labels where there are labels, through the same
  loop and batches as ``minilm_finetune``. The student keeps MiniLM's speed (the CTranslate2
  int8 path and its accuracy guard) and learns from the teacher where the labels say nothing:
  how sure to be, and about text that is not a review.
- ``mpnet_finetune``: linear probe, then fine-tune (LP-FT): the ``mpnet_linear`` head is
  trained first on frozen embeddings, then the encoder and that head train together
  through the same loop and batches as ``minilm_finetune``, keeping the mean-pooled
  sentence embedding the encoder was trained for. Starting from a fitted head keeps
  the early steps from tearing up the pretrained features with a random head's
  gradients (Kumar et al., 2022: better accuracy on shifted data than a plain fine-tune).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from scipy.special import softmax

from domains.base import DataError, DomainData, ModelSpec, TrainOutcome, TrainSettings
from domains.text_classification import data as text_data
from domains.text_classification.encoders import EncoderHeadPredictor, SequenceClassifierPredictor, TransformerPredictor
from domains.text_classification.evaluate import evaluate_probs
from domains.text_classification.predictor import TextPredictor, resolve_source
from domains.text_classification.tfidf import TfidfPredictor
from models.control import CancelToken, Progress, ProgressFn
from models.fastpath import EXACT, probe_subset
from models.text import (
    bucketed_batches,
    choose_max_length,
    load_pretrained,
    load_tokenizer,
    plan_batches,
    train_top_layers,
)
from models.training import LoopConfig, Recipe, fit, one_cycle, staged, tensor_batches

LossFn = Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor]

ZERO_SHOT_SCALE = 20.0  # 1 / temperature for cosine similarities in [-1, 1]
SCORING_RATE = "texts_per_second"  # metric: validation texts scored per second at the end of training
INT8_TOLERANCE_POINTS = 0.5  # validation accuracy int8 scoring may give up against float32


@dataclass(frozen=True)
class TextRecipe(Recipe):
    max_length_cap: int = 256
    max_tokens: int | None = None  # rows x padded length per training batch (bounds activation memory)
    top_layers: int | None = None  # encoder layers that train (the top ones); None: all of them


RECIPES = {
    "minilm_linear": TextRecipe(epochs=100, lr=5e-3, batch=256, weight_decay=1e-4, patience=10),
    # 2,048 tokens: 32 short reviews, or 8 news articles at the 256-token cap, per step (BBC peak: 5.5 GB
    # unbudgeted, 3.6 GB at 4,096 tokens).
    "finetune": TextRecipe(epochs=3, lr=1e-4, batch=32, patience=2, max_tokens=2048),
    # A 110M-parameter encoder wants a lower rate than MiniLM's; two epochs (measured:
    # about 15 minutes each for the reviews on 2 CPU cores).
    "mpnet_finetune": TextRecipe(epochs=2, lr=3e-5, batch=32, patience=1, max_tokens=2048),
    # The student: MiniLM's recipe over a transfer set about 2.5 times the training reviews.
    "minilm_distilled": TextRecipe(epochs=3, lr=1e-4, batch=32, patience=2, max_tokens=2048),
}
DISTIL_TEMPERATURE = 2.0  # softens the teacher's probabilities so the student sees its second choices
DISTIL_SOFT_WEIGHT = 0.7  # on labelled rows: this much imitation, the rest the label (unlabelled: all imitation)
TEACHER_MODEL = "mpnet_finetune"


LINEAR_HEADS = ("minilm_linear", "mpnet_linear")  # frozen encoder + a trained head, one recipe
ENCODER_FINETUNES = ("mpnet_finetune",)  # the linear-head model, then its encoder fine-tuned (LP-FT)


def train(spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
          progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
    text_data.check_trainable(data)
    if settings.options.get("source"):  # other weights to start from (hub id or folder), same recipe
        spec = replace(spec, source=str(settings.options["source"]))
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    labels = tuple(data.info["labels"])
    train_rows = text_data.labelled(data.split("train"))
    val_rows = _validation_rows(data, settings.seed)
    if spec.key == "tfidf_lr":
        predictor, history = _tfidf(train_rows, val_rows, labels, progress, cancel)
    elif spec.key == "zero_shot":
        predictor, history = _zero_shot(spec, data, labels, device), []
    elif spec.key in LINEAR_HEADS:
        predictor, history = _linear_head(spec, train_rows, val_rows, labels, settings, device, progress, cancel)
    elif spec.key == "minilm_distilled":
        predictor, history = _distil(spec, data, train_rows, val_rows, labels, settings, device, progress, cancel)
    elif spec.key in ENCODER_FINETUNES:
        predictor, history = _encoder_finetune(spec, train_rows, val_rows, labels, settings, device, progress,
                                               cancel)
    else:
        predictor, history = _finetune(spec, train_rows, val_rows, labels, settings, device, progress, cancel)
    cancel.raise_if_cancelled()
    if isinstance(predictor, TransformerPredictor):  # saved with the checkpoint: each machine checks int8 on it
        predictor.probe = probe_subset(val_rows["text"].to_list())
    int8_change = keep_int8_if_accurate(predictor, val_rows, labels)
    scoring_started = time.perf_counter()
    probs, _ = predictor.proba(val_rows["text"].to_list())
    scoring_seconds = time.perf_counter() - scoring_started
    report = evaluate_probs(labels, val_rows, probs)
    metrics = {f"val_{k}": v for k, v in report.metrics.items() if not k.startswith(("precision_", "recall_"))}
    # The scoring path this machine serves with (int8 where it held), timed on the validation texts:
    # what the page's default rule reads (``TextClassificationDomain.default_speed``).
    metrics[SCORING_RATE] = val_rows.height / max(scoring_seconds, 1e-9)
    if int8_change is not None:
        metrics["val_int8_change_points"] = int8_change
    metrics["train_seconds"] = time.perf_counter() - started
    info: dict[str, Any] = {"dataset": data.name, "labels": list(labels), "train_rows": train_rows.height}
    return TrainOutcome(predictor, metrics, history=history, report=report, info=info)


def keep_int8_if_accurate(predictor: TextPredictor, val_rows: pl.DataFrame, labels: tuple[str, ...]) -> float | None:
    """Score with int8 only if it holds validation accuracy within
    ``INT8_TOLERANCE_POINTS`` of float32; returns the change in points (None where int8
    does not apply: TF-IDF, a GPU, or no fast path agreeing with float32 on this machine).

    Why: how many predictions int8 flips depends on the trained weights. PyTorch's dynamic
    int8 (one activation scale per batch) cost 0.0 points for one fine-tuned MiniLM and
    -0.9 for another with smaller logit margins; CTranslate2's per-token scales flip fewer
    but are not exempt. The check costs two passes over the validation split; the choice
    is saved with the checkpoint. Which int8 engine serves, and whether it may, is decided
    again on every machine that loads the checkpoint (``TransformerPredictor.scoring``)."""
    if not isinstance(predictor, TransformerPredictor) or predictor.device.type != "cpu" or val_rows.height == 0:
        return None
    texts, y = val_rows["text"].to_list(), _targets(val_rows, labels)
    predictor.int8 = True
    path = predictor.path_in_use()
    if path == EXACT:
        return None
    float_logits, _ = predictor.logits_on(texts, EXACT)
    int8_logits, _ = predictor.logits_on(texts, path)
    lost = int((float_logits.argmax(1) == y).sum()) - int((int8_logits.argmax(1) == y).sum())
    # A single flip is noise on a small validation split, not a verdict on int8.
    predictor.int8 = lost <= max(1.0, INT8_TOLERANCE_POINTS / 100 * len(y))
    return -100.0 * lost / len(y)


def _validation_rows(data: DomainData, seed: int) -> pl.DataFrame:
    if "val" in data.info.get("splits", []):
        return text_data.labelled(data.split("val"))
    rows = text_data.labelled(data.split("train"))
    return rows.sample(fraction=0.1, seed=seed) if rows.height >= 20 else rows


def _targets(rows: pl.DataFrame, labels: tuple[str, ...]) -> np.ndarray:
    index = {name: i for i, name in enumerate(labels)}
    return np.array([index[v] for v in rows["label"].to_list()], dtype=np.int64)


# ---- TF-IDF ----------------------------------------------------------------------------------


def _tfidf(train_rows: pl.DataFrame, val_rows: pl.DataFrame, labels: tuple[str, ...], progress: ProgressFn,
           cancel: CancelToken) -> tuple[TextPredictor, list[dict[str, float]]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from domains.text_classification.tfidf import TOKEN_PATTERN

    min_df = 2 if train_rows.height >= 200 else 1
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, token_pattern=TOKEN_PATTERN,
                                 dtype=np.float64)
    x = vectorizer.fit_transform(train_rows["text"].to_list())
    y = _targets(train_rows, labels)
    xv, yv = vectorizer.transform(val_rows["text"].to_list()), _targets(val_rows, labels)
    grid = (1.0, 4.0, 16.0, 64.0)
    best: tuple[float, Any] | None = None
    history = []
    for step, c in enumerate(grid):
        cancel.raise_if_cancelled()
        clf = LogisticRegression(C=c, max_iter=2000).fit(x, y)
        acc = float((clf.predict(xv) == yv).mean())
        history.append({"C": c, "val_accuracy": acc})
        progress(Progress(step + 1, len(grid), {"val_accuracy": acc}, stage=f"C={c:g}"))
        if best is None or acc > best[0]:
            best = (acc, clf)
    assert best is not None
    return TfidfPredictor.from_logistic(vectorizer, best[1], labels), history


# ---- MiniLM encoder + head -------------------------------------------------------------------


def _encoder(spec: ModelSpec, labels: tuple[str, ...], device: torch.device, max_length: int,
             descriptions: dict[str, str]) -> EncoderHeadPredictor:
    from transformers import AutoModel

    path = resolve_source(spec.source)
    encoder = load_pretrained(AutoModel, path)
    dim = int(encoder.config.hidden_size)
    return EncoderHeadPredictor(encoder, load_tokenizer(path), torch.zeros(len(labels), dim), torch.zeros(len(labels)),
                                1.0, labels, source=spec.source, max_length=max_length, device=device,
                                model_key=spec.key, descriptions=descriptions)


def describe(data: DomainData, labels: tuple[str, ...]) -> dict[str, str]:
    """Class descriptions for zero-shot: the dataset's own, else the label name itself."""
    known = data.info.get("descriptions") or {}
    return {name: known.get(name) or f"this text is about {name.replace('_', ' ')}" for name in labels}


def _zero_shot(spec: ModelSpec, data: DomainData, labels: tuple[str, ...], device: torch.device) -> TextPredictor:
    descriptions = describe(data, labels)
    predictor = _encoder(spec, labels, device, 256, descriptions)
    fit_max_length(predictor, data.frame["text"].head(2000).to_list())
    predictor.weight = torch.from_numpy(predictor.embed_texts([descriptions[n] for n in labels])).to(device)
    predictor.scale = ZERO_SHOT_SCALE
    return predictor


def fit_max_length(predictor: TransformerPredictor, texts: list[str], cap: int = 256) -> None:
    """Set the predictor's truncation length from a sample of the corpus (no wasted padding
    on short reviews; long articles capped at ``cap``)."""
    predictor.max_length = cap
    ids, _ = predictor.token_ids(texts)
    predictor.max_length = choose_max_length(np.array([len(i) for i in ids]), cap=cap)


def _linear_head(spec: ModelSpec, train_rows: pl.DataFrame, val_rows: pl.DataFrame, labels: tuple[str, ...],
                 settings: TrainSettings, device: torch.device, progress: ProgressFn,
                 cancel: CancelToken, stages: int = 3) -> tuple[EncoderHeadPredictor, list[dict[str, float]]]:
    """The frozen encoder's embeddings of both splits, then a linear head on them; the
    first three of ``stages`` equal parts of the progress bar."""
    recipe = RECIPES["minilm_linear"]
    stage = staged(progress, stages)
    predictor = _encoder(spec, labels, device, 256, {})
    fit_max_length(predictor, train_rows["text"].head(2000).to_list())
    features = []
    for index, rows in enumerate((train_rows, val_rows)):
        stage(index, "embedding train texts" if index == 0 else "embedding validation texts")(Progress(0, 1))
        chunks = []
        texts = rows["text"].to_list()
        for start in range(0, len(texts), 512):
            cancel.raise_if_cancelled()
            chunks.append(predictor.embed_texts(texts[start:start + 512]))
            stage(index, "embedding")(Progress(start + 512, len(texts)))
        features.append(torch.from_numpy(np.concatenate(chunks)))
    x, xv = features
    y, yv = torch.from_numpy(_targets(train_rows, labels)), torch.from_numpy(_targets(val_rows, labels))
    head = torch.nn.Linear(x.shape[1], len(labels))
    weight = _balanced_weights(y, len(labels)).to(device)

    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return F.cross_entropy(model(batch[0]), batch[1], weight=weight)

    def validate(model: torch.nn.Module) -> dict[str, float]:
        logits = model(xv.to(device))
        return {"val_loss": float(F.cross_entropy(logits, yv.to(device))),
                "val_accuracy": float((logits.argmax(1).cpu() == yv).float().mean())}

    epochs = settings.epochs or recipe.epochs
    result = fit(head, tensor_batches((x, y), recipe.batch, device=device, seed=settings.seed),
                 max(1, -(-len(y) // recipe.batch)), loss_fn=loss_fn, validate=validate,
                 # fp32 on purpose: one linear layer on cached embeddings, where half precision
                 # saves nothing and rounds the probe's logits (the encoder's stage uses bf16)
                 config=recipe.loop(epochs, monitor="val_loss", mode="min", amp=False),
                 device=device, progress=stage(2, "training the head"), cancel=cancel)
    predictor.weight = head.weight.detach().to(device)
    predictor.bias = head.bias.detach().to(device)
    return predictor, result.history


def _balanced_weights(y: torch.Tensor, classes: int) -> torch.Tensor:
    """Per-class loss weights that count every class equally, however many rows it has."""
    counts = torch.bincount(y, minlength=classes).float()
    return counts.sum() / (classes * counts.clamp(min=1))


# ---- encoder fine-tuning from a fitted head (LP-FT) ---------------------------------------------


class _PooledClassifier(torch.nn.Module):
    """An ``EncoderHeadPredictor``'s network as one trainable module: encoder, mean pool,
    normalise, scaled linear head (the head's weights start as the fitted ones)."""

    def __init__(self, predictor: EncoderHeadPredictor) -> None:
        super().__init__()
        self.encoder = predictor.encoder
        self.pooled = predictor.pooled  # the predictor's own pooling: training sees what scoring sees
        self.head = torch.nn.Linear(predictor.weight.shape[1], predictor.weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(predictor.weight * predictor.scale)
            self.head.bias.copy_(predictor.bias)

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(self.encoder.get_input_embeddings()(input_ids), mask))


def _encoder_finetune(spec: ModelSpec, train_rows: pl.DataFrame, val_rows: pl.DataFrame, labels: tuple[str, ...],
                      settings: TrainSettings, device: torch.device, progress: ProgressFn,
                      cancel: CancelToken) -> tuple[TextPredictor, list[dict[str, float]]]:
    recipe = RECIPES[spec.key]
    predictor, probe_history = _linear_head(spec, train_rows, val_rows, labels, replace(settings, epochs=None),
                                            device, progress, cancel, stages=4)
    # The probe kept is its epoch of least validation loss; its accuracy there, not the last epoch's.
    probe_accuracy = min(probe_history, key=lambda h: h["val_loss"])["val_accuracy"] if probe_history else float("nan")
    net = _PooledClassifier(predictor)
    tuned = train_top_layers(predictor.encoder, recipe.top_layers)
    fit_max_length(predictor, train_rows["text"].to_list(), cap=recipe.max_length_cap)
    ids, _ = predictor.token_ids(train_rows["text"].to_list())
    y, yv = _targets(train_rows, labels), _targets(val_rows, labels)
    val_texts = val_rows["text"].to_list()
    pad = predictor.tokenizer.pad_token_id or 0
    batches, steps = _length_batches(ids, y, recipe, pad, device, settings.seed)

    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        input_ids, mask, target = batch
        return F.cross_entropy(model(input_ids, mask), target)

    def validate(model: torch.nn.Module) -> dict[str, float]:
        _adopt_head(predictor, net)
        return _score_validation(predictor, val_texts, yv)

    result = fit(net, batches, steps, loss_fn=loss_fn, validate=validate,
                 config=_finetune_loop(recipe, settings.epochs), device=device,
                 progress=staged(progress, 4)(3, "fine-tuning the encoder"), cancel=cancel,
                 lr_schedule=one_cycle(warmup=0.06, floor=0.0))
    _adopt_head(predictor, net)
    predictor.encoder.eval().requires_grad_(False)
    predictor.tuned = tuned
    predictor.forget_fast_copies()
    history = [dict(h, best_epoch=float(result.best_epoch), probe_val_accuracy=probe_accuracy)
               for h in result.history]
    return predictor, history


def _adopt_head(predictor: EncoderHeadPredictor, net: _PooledClassifier) -> None:
    """The predictor scores with the head being trained (scale folded into the weights)."""
    predictor.weight, predictor.bias, predictor.scale = net.head.weight.detach(), net.head.bias.detach(), 1.0


# ---- full fine-tuning ------------------------------------------------------------------------


def _finetune(spec: ModelSpec, train_rows: pl.DataFrame, val_rows: pl.DataFrame, labels: tuple[str, ...],
              settings: TrainSettings, device: torch.device, progress: ProgressFn,
              cancel: CancelToken) -> tuple[TextPredictor, list[dict[str, float]]]:
    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        input_ids, mask, target = batch
        return F.cross_entropy(net(input_ids=input_ids, attention_mask=mask).logits, target)

    return _train_classifier(spec, train_rows["text"].to_list(), _targets(train_rows, labels), loss_fn, val_rows,
                             labels, settings, device, progress, cancel)


def _train_classifier(spec: ModelSpec, texts: list[str], targets: np.ndarray, loss_fn: LossFn,
                      val_rows: pl.DataFrame, labels: tuple[str, ...], settings: TrainSettings,
                      device: torch.device, progress: ProgressFn,
                      cancel: CancelToken) -> tuple[TextPredictor, list[dict[str, float]]]:
    """A whole ``AutoModelForSequenceClassification`` trained on ``texts`` with ``loss_fn``
    (each batch: ids, mask and the rows' ``targets``), early stopping on validation accuracy."""
    from transformers import AutoModelForSequenceClassification

    recipe = RECIPES.get(spec.key, RECIPES["finetune"])
    source = spec.source
    path = resolve_source(source)
    tokenizer = load_tokenizer(path)
    model = load_pretrained(AutoModelForSequenceClassification, path, num_labels=len(labels),
                            id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
                            ignore_mismatched_sizes=True)
    predictor = SequenceClassifierPredictor(model, tokenizer, labels, max_length=recipe.max_length_cap,
                                            device=device, model_key=spec.key, source=source)
    fit_max_length(predictor, texts, cap=recipe.max_length_cap)
    ids, _ = predictor.token_ids(texts)
    yv = _targets(val_rows, labels)
    val_texts = val_rows["text"].to_list()
    batches, steps = _length_batches(ids, targets, recipe, tokenizer.pad_token_id or 0, device, settings.seed)

    def validate(net: torch.nn.Module) -> dict[str, float]:
        return _score_validation(predictor, val_texts, yv)

    result = fit(model, batches, steps, loss_fn=loss_fn, validate=validate,
                 config=_finetune_loop(recipe, settings.epochs), device=device, progress=progress, cancel=cancel,
                 lr_schedule=one_cycle(warmup=0.06, floor=0.0))
    model.eval()
    predictor.forget_fast_copies()  # int8 copies are rebuilt from the trained weights on first use
    history = [dict(h, best_epoch=float(result.best_epoch)) for h in result.history]
    return predictor, history


# ---- distillation ----------------------------------------------------------------------------


def _distil(spec: ModelSpec, data: DomainData, train_rows: pl.DataFrame, val_rows: pl.DataFrame,
            labels: tuple[str, ...], settings: TrainSettings, device: torch.device, progress: ProgressFn,
            cancel: CancelToken) -> tuple[TextPredictor, list[dict[str, float]]]:
    """The student trained on the teacher's softened probabilities (and the labels where
    there are labels); the first of two equal parts of the progress bar is the teacher
    scoring the transfer set (measured: about 12 of the 36 minutes for the reviews with MPNet on
    2 CPU cores)."""
    teacher = find_teacher(data, settings, device)
    if tuple(teacher.labels) != labels:
        raise DataError(f"The teacher ({teacher.model_key}) knows the classes {', '.join(teacher.labels)}, "
                        f"this data has {', '.join(labels)}: distil from a teacher trained on this data.")
    reviews = train_rows["text"].to_list()
    unlabelled = text_data.transfer_texts(data) + augmented(reviews, settings.seed)
    texts = reviews + unlabelled
    hard = np.concatenate([_targets(train_rows, labels), np.full(len(unlabelled), -1, dtype=np.int64)])
    stage = staged(progress, 2)
    teacher_logits = torch.from_numpy(_teacher_logits(teacher, texts, stage(0, "the teacher scores the texts"),
                                                      cancel)).to(device)
    hard_targets = torch.from_numpy(hard).to(device)
    del teacher  # its 110M parameters are not needed while the student trains

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        input_ids, mask, rows = batch  # the batch carries row numbers; targets are looked up by them
        student = net(input_ids=input_ids, attention_mask=mask).logits
        return distillation_loss(student, teacher_logits[rows], hard_targets[rows])

    return _train_classifier(spec, texts, np.arange(len(texts), dtype=np.int64), loss_fn, val_rows, labels,
                             settings, device, stage(1, "training the student"), cancel)


def augmented(texts: list[str], seed: int, drop: float = 0.1, keep_span: float = 0.6) -> list[str]:
    """One altered copy of each text for the teacher to label (Tang et al., 2019): a random
    span of at least ``keep_span`` of its words, with each word dropped with probability
    ``drop``. Alone the label may no longer hold; the teacher's answer on the copy does."""
    rng = np.random.default_rng(seed)
    out = []
    for text in texts:
        words = text.split()
        if len(words) < 4:
            continue
        size = int(rng.integers(max(2, int(len(words) * keep_span)), len(words) + 1))
        start = int(rng.integers(0, len(words) - size + 1))
        kept = [w for w in words[start:start + size] if rng.random() >= drop]
        if len(kept) >= 2:
            out.append(" ".join(kept))
    return out


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, hard: torch.Tensor,
                      temperature: float = DISTIL_TEMPERATURE, soft_weight: float = DISTIL_SOFT_WEIGHT) -> torch.Tensor:
    """Per row: KL(teacher || student) at ``temperature`` (times its square, so its gradients
    keep their size as the temperature changes), mixed with cross-entropy on the label where
    ``hard`` has one (>= 0); rows without a label learn from the teacher alone."""
    t = temperature
    soft = F.kl_div(F.log_softmax(student.float() / t, dim=1), F.log_softmax(teacher.float() / t, dim=1),
                    reduction="none", log_target=True).sum(1) * t * t
    labelled = hard >= 0
    ce = F.cross_entropy(student.float(), hard.clamp(min=0), reduction="none")
    return torch.where(labelled, soft_weight * soft + (1 - soft_weight) * ce, soft).mean()


def find_teacher(data: DomainData, settings: TrainSettings, device: torch.device) -> TextPredictor:
    """The checkpoint given as the ``teacher`` option, else the most accurate saved
    ``mpnet_finetune`` trained on data like this one."""
    from domains.lineage import data_signature, fits, page_default
    from domains.text_classification.predict import from_bundle
    from models.checkpoints import list_bundles, load_bundle

    if settings.options.get("teacher"):
        bundle = load_bundle(Path(str(settings.options["teacher"])))
    else:
        signature = data_signature(data)
        candidates = [b for b in list_bundles("text_classification") if b.model == TEACHER_MODEL
                      and fits(b.metadata, signature)]
        found = page_default(candidates, "val_accuracy")
        if found is None:
            raise DataError(f"Distillation learns from a trained MPNet fine-tuned model, and none is saved for "
                            f"{data.name}: train `{TEACHER_MODEL}` first (about 45 minutes for the reviews on 2 "
                            "CPU cores; `domainlens train text_classification --model mpnet_finetune`), or name "
                            "a text checkpoint with --teacher.")
        bundle = found
    return from_bundle(bundle, device)


def _teacher_logits(teacher: TextPredictor, texts: list[str], progress: ProgressFn, cancel: CancelToken,
                    chunk: int = 512) -> np.ndarray:
    """The teacher's log-probabilities (logits up to a constant) for every text, scored the
    way it serves, in chunks (a progress step and a cancel check each)."""
    parts = []
    for start in range(0, len(texts), chunk):
        cancel.raise_if_cancelled()
        probs, _ = teacher.proba(texts[start:start + chunk])
        parts.append(np.log(np.clip(probs, 1e-9, 1.0)))
        progress(Progress(min(start + chunk, len(texts)), len(texts), stage="the teacher scores the texts"))
    return np.concatenate(parts).astype(np.float32)


# ---- what the fine-tunes share -----------------------------------------------------------------


def _length_batches(ids: list[list[int]], y: np.ndarray, recipe: TextRecipe, pad: int, device: torch.device,
                    seed: int) -> tuple[Callable[[int], Iterator[tuple[torch.Tensor, ...]]], int]:
    """Length-bucketed training batches with dynamic padding, and how many an epoch has."""
    batches = bucketed_batches(ids, y, recipe.batch, pad_id=pad, device=device, seed=seed,
                               max_tokens=recipe.max_tokens)
    return batches, len(plan_batches(ids, recipe.batch, seed=seed, max_tokens=recipe.max_tokens))


def _finetune_loop(recipe: TextRecipe, epochs: int | None) -> LoopConfig:
    """Early stopping on validation accuracy, the best epoch kept."""
    return recipe.loop(epochs, monitor="val_accuracy", mode="max")


def _score_validation(predictor: TransformerPredictor, texts: list[str], y: np.ndarray) -> dict[str, float]:
    """Validation loss and accuracy of the float network being trained (never a fast path)."""
    logits, _ = predictor.logits(texts, fast=False)
    probs = softmax(logits.astype(np.float64), axis=1)
    return {"val_loss": float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-9, 1)).mean()),
            "val_accuracy": float((probs.argmax(1) == y).mean())}
