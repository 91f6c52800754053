"""Translation fixtures: the Bible demo corpus, a small parallel TSV, and a tiny Marian
model whose SentencePiece vocabulary is trained here, so the Hugging Face generate,
streaming, CTranslate2 and fine-tuning paths all run offline in seconds."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from domains.base import DomainData


@pytest.fixture(scope="session")
def bible_en_pt() -> DomainData:
    from domains.translation import data as mt_data

    return mt_data.bible("en", "pt")


def write_tsv(path: Path, frame: pl.DataFrame) -> Path:
    path.write_text("\n".join(f"{s}\t{r}" for s, r in zip(frame["source"], frame["reference"], strict=True)) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pairs_tsv(tmp_path_factory: pytest.TempPathFactory, bible_en_pt: DomainData) -> Path:
    """60 held-out verse pairs, English<TAB>Portuguese, no header."""
    test = bible_en_pt.frame.filter(pl.col("split") == "test").head(60)
    return write_tsv(tmp_path_factory.mktemp("pairs") / "pairs.tsv", test)


@pytest.fixture(scope="session")
def tiny_marian_dir(tmp_path_factory: pytest.TempPathFactory, bible_en_pt: DomainData) -> Path:
    from models.seq2seq import new_marian

    train = bible_en_pt.frame.filter(pl.col("split") == "train").head(400)
    return new_marian(tmp_path_factory.mktemp("tiny-marian") / "model", train["source"].to_list(),
                      train["reference"].to_list(), size="tiny", vocab_size=600)


@pytest.fixture(scope="session")
def tiny_marian_checkpoint(tmp_path_factory: pytest.TempPathFactory, bible_en_pt: DomainData) -> Path:
    """``marian_scratch`` (tiny size) trained one epoch on 120 pairs, saved as a checkpoint."""
    import torch

    from domains import registry
    from domains.base import TrainSettings
    from domains.training import train_and_save
    from domains.translation import data as mt_data
    from models.control import CancelToken

    small = bible_en_pt.frame.filter(pl.col("split") == "train").head(120)
    payload = "\n".join(f"{s}\t{r}" for s, r in zip(small["source"], small["reference"], strict=True)).encode()
    data = mt_data.read_pairs("small.tsv", payload, src="en", tgt="pt")
    domain = registry.get("translation")
    out = tmp_path_factory.mktemp("artifacts") / "translation" / "marian_scratch" / "v1"
    train_and_save(domain, domain.spec("marian_scratch"), data,
                   TrainSettings(epochs=1, options={"size": "tiny"}), device=torch.device("cpu"),
                   progress=lambda p: None, cancel=CancelToken(), out_dir=out)
    return out
