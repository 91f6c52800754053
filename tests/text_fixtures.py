"""Text fixtures: a tiny BERT (random weights, the bundled MiniLM WordPiece vocabulary)
saved as a local model folder, so every transformer code path runs offline in seconds."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from domains.base import DomainData
from domains.text_classification import data as text_data


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from domains.text_classification.predictor import minilm_path

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512,
                        position_embedding_type="absolute")  # as real BERT configs state it
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def small_reviews() -> DomainData:
    """600 Rotten Tomatoes reviews (balanced), re-split: quick to train on."""
    data = text_data.load("rt_sentiment")
    frame = data.frame.group_by("label", maintain_order=True).head(300).drop("id", "split")
    return text_data.from_frame("small_reviews", frame, text_col="text", label_col="label")


def table_bytes(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode()


@pytest.fixture(scope="session")
def text_tfidf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF-IDF sentiment checkpoint on the built-in reviews, shared by tests that only read it."""
    from tests.conftest import train_default_checkpoint

    return train_default_checkpoint("text_classification", tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory: pytest.TempPathFactory, small_reviews: DomainData) -> Path:
    """A tiny BERT sentiment classifier that really separates the classes (trained a few
    seconds at a high learning rate; the recipe's rate leaves so tiny a net at a tie, where
    any rounding flips every prediction), saved as a checkpoint with its probe set."""
    import numpy as np
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from domains.text_classification.encoders import SequenceClassifierPredictor
    from domains.text_classification.predictor import minilm_path
    from models.checkpoints import save_bundle
    from models.fastpath import probe_subset
    from models.text import pad_rows

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, position_embedding_type="absolute",
                        num_labels=2)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    texts = small_reviews.frame["text"].to_list()
    y = torch.tensor([int(label == "positive") for label in small_reviews.frame["label"].to_list()])
    ids = tokenizer(texts, truncation=True, max_length=64)["input_ids"]
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    order = np.random.default_rng(0)
    for _ in range(4):
        perm = order.permutation(len(ids))
        for start in range(0, len(ids), 32):
            idx = perm[start:start + 32].tolist()
            x, mask = pad_rows([ids[i] for i in idx], 0, torch.device("cpu"))
            loss = torch.nn.functional.cross_entropy(model(input_ids=x, attention_mask=mask).logits, y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    predictor = SequenceClassifierPredictor(model.eval(), tokenizer, ("negative", "positive"), max_length=128,
                                            device=torch.device("cpu"), model_key="minilm_finetune",
                                            probe=probe_subset(texts))
    out = tmp_path_factory.mktemp("tiny-classifier") / "v1"
    save_bundle("text_classification", "minilm_finetune", predictor.to_bundle(), out_dir=out)
    return out


def break_fast_paths(monkeypatch: pytest.MonkeyPatch, *, ct2: bool = True, torch_int8: bool = False) -> None:
    """Make CTranslate2 and/or PyTorch int8 disagree with float32, as a broken kernel
    would: the class scores come out swapped."""
    import torch

    from domains.text_classification import encoders
    from models.text import Ct2SequenceClassifier

    if ct2:
        ct2_logits = Ct2SequenceClassifier.logits
        monkeypatch.setattr(Ct2SequenceClassifier, "logits", lambda self, rows: ct2_logits(self, rows)[:, ::-1])
    if torch_int8:
        quantize = encoders.quantize_int8

        def swapped(net: torch.nn.Module) -> torch.nn.Module:
            with torch.no_grad():
                net.classifier.weight.copy_(net.classifier.weight.flip(0))  # type: ignore[operator]
                net.classifier.bias.copy_(net.classifier.bias.flip(0))  # type: ignore[operator]
            return quantize(net)

        monkeypatch.setattr(encoders, "quantize_int8", swapped)


def copy_newer_and_worse(checkpoint: Path, target: Path, metric: str = "val_accuracy") -> Path:
    """A copy of ``checkpoint`` at ``target`` that claims to be newer than anything else and
    0.05 worse on ``metric``: the newest checkpoint a page must not open on."""
    import json
    import shutil

    if not target.exists():
        shutil.copytree(checkpoint, target)
        meta = json.loads((target / "metadata.json").read_text())
        meta["created"] = "9999-12-31T00:00:00+00:00"
        meta["metrics"][metric] -= 0.05
        (target / "metadata.json").write_text(json.dumps(meta))
    return target


@pytest.fixture(scope="session")
def tiny_mpnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MPNet (random weights) with the MiniLM WordPiece vocabulary: the mean-pooled
    encoder path ``mpnet_*`` models take, in seconds."""
    import torch
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    from domains.text_classification.predictor import minilm_path

    folder = tmp_path_factory.mktemp("tiny-mpnet")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    config = MPNetConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=514,
                         pad_token_id=tokenizer.pad_token_id)  # positions count from the tokenizer's padding id
    torch.manual_seed(0)
    MPNetModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
