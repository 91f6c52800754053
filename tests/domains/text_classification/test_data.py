"""Built-in text datasets, user files and every bad input the issue lists."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from domains.base import DataError
from domains.text_classification import data as text_data


def test_rotten_tomatoes_split_is_seeded_stratified_and_disjoint() -> None:
    data = text_data.load("rt_sentiment")
    frame = data.frame
    assert data.info["labels"] == ["negative", "positive"]
    assert frame["text"].n_unique() == frame.height  # de-duplicated
    sizes = frame.group_by("split").len().to_dict(as_series=False)
    share = dict(zip(sizes["split"], sizes["len"], strict=True))
    assert abs(share["test"] / frame.height - 0.1) < 0.01 and abs(share["val"] / frame.height - 0.1) < 0.01
    for split in ("train", "val", "test"):  # the class mix is the same in every split
        rows = frame.filter(pl.col("split") == split)
        assert abs(float((rows["label"] == "positive").mean()) - 0.578) < 0.01
    again = text_data.load("rt_sentiment").frame
    assert again.filter(pl.col("split") == "test")["text"].to_list() == \
        frame.filter(pl.col("split") == "test")["text"].to_list()


def test_bbc_topics_has_five_classes() -> None:
    data = text_data.load("bbc_topics")
    assert data.info["labels"] == ["business", "entertainment", "politics", "sport", "tech"]
    assert data.frame.height > 2000
    assert set(data.frame.filter(pl.col("split") == "test")["label"].unique()) == set(data.info["labels"])


def test_user_csv_with_named_columns_and_integer_labels(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    rows = [{"body": f"ticket number {i} about {'billing' if i % 2 else 'login'}", "kind": i % 2} for i in range(60)]
    pl.DataFrame(rows).write_csv(path)
    data = text_data.load(str(path), text_col="body", label_col="kind")
    assert data.info["labels"] == ["0", "1"] and data.info["whole_file"]
    assert set(data.frame["split"].unique()) == {"train", "val", "test"}


def test_split_column_is_honoured() -> None:
    frame = pl.DataFrame({"text": ["good", "bad", "fine", "awful"], "label": ["p", "n", "p", "n"],
                          "split": ["train", "train", "validation", "test"]})
    data = text_data.from_frame("f", frame)
    assert data.frame["split"].to_list() == ["train", "train", "val", "test"] and not data.info["whole_file"]


def test_missing_text_column_names_the_columns() -> None:
    payload = b"review,label\ngreat,pos\nbad,neg\n"
    with pytest.raises(DataError, match=r"No column 'comment'.*review, label"):
        text_data.from_upload("r.csv", payload, text_col="comment")


def test_single_class_cannot_train() -> None:
    data = text_data.from_frame("one", pl.DataFrame({"text": [f"text {i}" for i in range(30)], "label": ["a"] * 30}))
    with pytest.raises(DataError, match="single class"):
        text_data.check_trainable(data)


def test_empty_and_whitespace_texts_are_skipped_with_a_note() -> None:
    frame = pl.DataFrame({"text": ["good film", "", "   \t", None, "bad film"], "label": ["p", "n", "p", "n", "n"]})
    data = text_data.from_frame("f", frame)
    assert data.frame.height == 2
    assert any("3 empty or whitespace-only" in n for n in data.info["notes"])


def test_very_long_text_is_cut_and_noted() -> None:
    frame = pl.DataFrame({"text": ["word " * 20_000, "short"], "label": ["a", "b"]})
    data = text_data.from_frame("f", frame)
    assert data.frame["text"].str.len_chars().max() == text_data.MAX_CHARS
    assert any("longer than" in n for n in data.info["notes"])


def test_non_utf8_file_is_read_with_a_note() -> None:
    payload = "text,label\nCafé crème très bon,pos\nmauvais goût,neg\n".encode("cp1252")
    data = text_data.from_upload("fr.csv", payload)
    assert "Café crème très bon" in data.frame["text"].to_list()
    assert any("not UTF-8" in n for n in data.info["notes"])


def test_emoji_rtl_and_mixed_scripts_survive_unchanged(tmp_path: Path) -> None:
    texts = ["Loved it 😍🎬", "فيلم رائع جدا", "שלום עולם", "电影很好看 mixed English", "Ünïcödé — “quotes”"]
    path = tmp_path / "mixed.jsonl"
    pl.DataFrame({"text": texts, "label": ["a", "b", "a", "b", "a"]}).write_ndjson(path)
    data = text_data.load(str(path))
    assert sorted(data.frame["text"].to_list()) == sorted(texts)


def test_unknown_dataset_lists_the_choices() -> None:
    with pytest.raises(DataError, match="rt_sentiment, bbc_topics"):
        text_data.load("imdb_reviews")


def test_hub_dataset_without_the_package_or_network_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="datasets"):
        text_data.load("hf:imdb")
