"""Transformer text predictors:

- ``EncoderHeadPredictor``: a sentence encoder (mean-pooled, L2-normalised) and a
  linear head. Zero-shot is this with the head set to the embeddings of the class
  descriptions (cosine similarity / temperature); the frozen-encoder model trains it.
- ``SequenceClassifierPredictor``: a fine-tuned ``AutoModelForSequenceClassification``
  saved with ``save_pretrained`` inside the bundle.

They tokenise once, batch texts of similar length together (little padding), run under
``inference_mode`` and, on CPU, through an int8 fast path checked on this machine;
attributions are integrated gradients on the float model.
"""

from __future__ import annotations

import importlib.util
import threading
from abc import abstractmethod
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import softmax

from domains.capabilities import TextAttribution
from domains.text_classification.data import MAX_CHARS
from domains.text_classification.predictor import (
    CPU_BATCH,
    CPU_TOKENS,
    CT2_BATCH,
    FALLBACK_PROBE,
    GPU_BATCH,
    GPU_TOKENS,
    IG_STEPS,
    TORCH_INT8,
    TextPredictor,
    resolve_source,
)
from models.checkpoints import Bundle, BundleWriter, CheckpointError
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
        return softmax(self.logits_on(texts, path)[0].astype(np.float64), axis=1)

    def proba(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        logits, cut = self.logits(texts)
        return softmax(logits.astype(np.float64), axis=1), cut

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
        # Parameter-name prefixes of the encoder that were fine-tuned ("" for all): those
        # weights are saved with the checkpoint, the rest are read from ``source``.
        self.tuned: list[str] = []

    def network(self) -> torch.nn.Module:
        return self.encoder

    def tuned_tensors(self) -> dict[str, torch.Tensor]:
        return {f"encoder.{name}": tensor.detach().contiguous()
                for name, tensor in self.encoder.state_dict().items()
                if any(name.startswith(prefix) for prefix in self.tuned)}

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
            tensors={"head.weight": self.weight, "head.bias": self.bias, **self.tuned_tensors()},
            metadata={"kind": "encoder_head", "labels": list(self.labels), "source": self.source,
                      "scale": self.scale, "max_length": self.max_length, "descriptions": self.descriptions,
                      "int8": self.int8, "tuned": self.tuned},
            extra={PROBE_FILE: partial(write_probe, self.probe)},
        )

    @classmethod
    def from_bundle(cls, bundle: Bundle, device: torch.device) -> EncoderHeadPredictor:
        from transformers import AutoModel

        from models.text import load_pretrained, load_tokenizer

        meta = bundle.metadata
        path = resolve_source(meta["source"])
        tensors = bundle.tensors()
        encoder = load_pretrained(AutoModel, path)
        tuned = {k.removeprefix("encoder."): v for k, v in tensors.items() if k.startswith("encoder.")}
        if tuned:  # the fine-tuned layers over the original weights
            expected = encoder.state_dict()
            unknown = sorted(k for k in tuned if k not in expected or expected[k].shape != tuned[k].shape)
            if unknown:
                raise CheckpointError(f"{bundle.path}: its fine-tuned weights do not fit {meta['source']} "
                                      f"(unknown: {', '.join(unknown[:3])})")
            encoder.load_state_dict(tuned, strict=False)
        predictor = cls(encoder, load_tokenizer(path), tensors["head.weight"],
                        tensors["head.bias"], meta["scale"], tuple(meta["labels"]), source=meta["source"],
                        max_length=int(meta["max_length"]), device=device, model_key=bundle.model,
                        descriptions=meta.get("descriptions"), int8=bool(meta.get("int8", True)),
                        probe=read_probe(bundle.path), identity=bundle.identity)
        predictor.tuned = list(meta.get("tuned", []))
        return predictor


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
