"""Text predictors behind one contract (``predictor.TextPredictor``): ``proba(texts)``
for the class probabilities, ``predict(frame)`` for output rows, ``explain_text(text)``
for word attributions and ``to_bundle()`` for the checkpoint. One module per model
family; a checkpoint's ``kind`` picks the loader here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from domains.base import DataError
from domains.text_classification.encoders import EncoderHeadPredictor, SequenceClassifierPredictor
from domains.text_classification.predictor import TextPredictor
from domains.text_classification.tfidf import TfidfPredictor
from models.checkpoints import Bundle

LOADERS: dict[str, Callable[[Bundle, torch.device], TextPredictor]] = {
    "tfidf": lambda bundle, device: TfidfPredictor.from_bundle(bundle),
    "encoder_head": EncoderHeadPredictor.from_bundle,
    "sequence_classifier": SequenceClassifierPredictor.from_bundle,
}


def from_bundle(bundle: Bundle, device: torch.device) -> TextPredictor:
    kind = str(bundle.metadata.get("kind"))
    if kind not in LOADERS:
        raise DataError(f"{bundle.path} is not a text classification checkpoint (kind {kind!r}).")
    return LOADERS[kind](bundle, device)
