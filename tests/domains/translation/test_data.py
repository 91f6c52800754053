"""The Bible demo corpus and user parallel files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from domains.base import DataError, DomainData
from domains.translation import data as mt_data


def test_bible_corpus_is_aligned_and_split_reproducibly(bible_en_pt: DomainData) -> None:
    frame = bible_en_pt.frame
    assert frame.height > 30_000 and frame["id"].n_unique() == frame.height
    sizes = dict(frame.group_by("split").len().iter_rows())
    assert sizes["test"] == mt_data.TEST_VERSES and sizes["val"] == mt_data.VAL_VERSES
    john = frame.filter(pl.col("id") == "43:3:16").row(0, named=True)
    assert john["source"].startswith("For God so loved the world") and "Deus amou o mundo" in john["reference"]
    reverse = mt_data.bible("pt", "en").frame
    assert (reverse.filter(pl.col("split") == "test")["id"].to_list()
            == frame.filter(pl.col("split") == "test")["id"].to_list())  # same held-out verses both ways


def test_bible_languages_are_checked() -> None:
    with pytest.raises(DataError, match="no ja"):
        mt_data.bible("en", "ja")
    with pytest.raises(DataError, match="same"):
        mt_data.bible("en", "en")
    assert mt_data.load("bible", src="es", tgt="en").info["src"] == "es"


def test_tsv_without_header_keeps_every_line(tmp_path: Path) -> None:
    payload = "Hello there.\tOlá.\nNo tab on this line\n\nGood night.\tBoa noite.\n".encode()
    data = mt_data.read_pairs("pairs.tsv", payload)
    assert data.frame["source"].to_list() == ["Hello there.", "No tab on this line", "Good night."]
    assert data.frame["reference"].to_list() == ["Olá.", None, "Boa noite."]
    assert any("no tab" in note for note in data.info["notes"])
    assert data.info["whole_file"] and data.info["splits"] == ["all"]


def test_non_utf8_file_is_read_with_a_note() -> None:
    payload = "Café com açúcar.\tCoffee with sugar.\n".encode("cp1252")
    data = mt_data.read_pairs("pairs.tsv", payload, src="pt", tgt="en")
    assert data.frame["source"][0] == "Café com açúcar."
    assert any("Windows-1252" in note for note in data.info["notes"])


def test_empty_and_wrong_files_are_refused() -> None:
    with pytest.raises(DataError, match=r"empty|no sentence pairs"):
        mt_data.read_pairs("pairs.tsv", b"\n\n")
    with pytest.raises(DataError, match="'source' column"):
        mt_data.read_pairs("pairs.csv", b"text,label\nhello,1\n")
    with pytest.raises(DataError, match="unknown dataset"):
        mt_data.load("no_such_corpus")
