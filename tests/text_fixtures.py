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

    from domains.text_classification.predict import minilm_path

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
