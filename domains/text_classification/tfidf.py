"""TF-IDF + logistic regression: fast, and its word attributions are exact (tf-idf value
x centred coefficient)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import softmax

from domains.capabilities import TextAttribution
from domains.text_classification.data import MAX_CHARS
from domains.text_classification.predictor import TextPredictor
from models.checkpoints import Bundle, BundleWriter

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
        return softmax(self.logits(texts), axis=1), np.zeros(len(texts), dtype=bool)

    def explain_text(self, text: str) -> TextAttribution:
        """Each feature's share of the predicted class's centred logit, spread over the
        words that make it up (a bigram gives half to each word)."""
        text = text[:MAX_CHARS]
        x = self.vectorizer.transform([text])
        probs = softmax(np.asarray(x @ self.coef.T) + self.intercept, axis=1)[0]
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
