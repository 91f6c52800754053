"""Each bad input gets a clear message and the recommender keeps working."""

import polars as pl
import pytest

from domains import registry
from domains.base import DataError
from domains.recommendations.predict import NO_HISTORY, UNKNOWN_USER


def _upload(csv: str):
    return registry.get("recommendations").read_upload("mine.csv", csv.encode())


def test_unknown_user_and_item_ids(ease) -> None:
    with pytest.raises(DataError, match="Unknown user 'nobody'"):
        ease.recommend("nobody")
    with pytest.raises(DataError, match="Unknown item ids: 99999"):
        ease.recommend_for_items(["50", "99999"])
    out = ease.predict(pl.DataFrame({"user": ["nobody"]}))
    assert out["note"][0] == UNKNOWN_USER and out["items"].list.len()[0] == 10
    mixed = ease.predict(pl.DataFrame({"user": ["1"], "history": ["50 99999 181"]}))
    assert "1 unknown item ids ignored" in mixed["note"][0]
    assert ease.recommend("1").height == 10  # still works afterwards


def test_user_with_no_history_gets_popular_items(ease) -> None:
    out = ease.predict(pl.DataFrame({"user": ["new"], "history": [""]}))
    assert out["note"][0] == NO_HISTORY
    popular = ease.catalog.ids[int(ease.popularity.argmax())]
    assert out["items"][0][0] == popular
    assert ease.recommend_for_items([], 5)["why"].to_list() == ["popular with everyone"] * 5


def test_duplicate_interactions_are_merged_with_a_note() -> None:
    data = _upload("user,item,rating,timestamp\n1,a,3,10\n1,a,5,20\n2,a,4,5\n2,b,2,6\n1,b,1,7\n")
    inter = data.info["interactions"]
    assert inter.frame.height == 4
    assert inter.frame.filter((pl.col("user") == "1") & (pl.col("item") == "a"))["rating"][0] == 5
    assert any("1 duplicate" in n for n in data.info["notes"])


def test_ratings_outside_the_scale() -> None:
    with pytest.raises(DataError, match=r"2 ratings are outside the 1-5 scale \(e.g. -1, 7\)"):
        _upload("user,item,rating\n1,a,7\n1,b,-1\n2,a,3\n")
    with pytest.raises(DataError, match="ratings must be numbers"):
        _upload("user,item,rating\n1,a,great\n2,a,3\n")


def test_missing_user_or_item_column() -> None:
    with pytest.raises(DataError, match=r"needs an item column.*found columns: user, rating"):
        _upload("user,rating\n1,3\n2,4\n")
    with pytest.raises(DataError, match="needs a user and an item column"):
        _upload("name,score\nx,3\n")
    ok = _upload("userId,movieId\n1,10\n2,10\n2,11\n")  # common aliases are understood
    assert ok.frame.columns[:2] == ["user", "item"]


def test_single_user_file() -> None:
    with pytest.raises(DataError, match="single user"):
        _upload("user,item\n1,a\n1,b\n1,c\n")


def test_uploaded_interactions_train_and_recommend(tmp_path) -> None:
    import torch

    from domains.base import TrainSettings
    from models.control import CancelToken

    rows = [(u, i) for u in range(40) for i in range(30) if (u * 7 + i * 3) % 5 < 2]
    csv = "user,item\n" + "\n".join(f"u{u},m{i}" for u, i in rows)
    domain = registry.get("recommendations")
    data = _upload(csv)
    spec = next(s for s in domain.models() if s.key == "ease")
    outcome = domain.train(spec, data, TrainSettings(), device=torch.device("cpu"), progress=lambda p: None,
                           cancel=CancelToken())
    recs = outcome.predictor.recommend("u1", 5)
    assert recs.height == 5 and recs["item"].str.starts_with("m").all()


def test_item_metadata_in_the_upload_names_the_items() -> None:
    data = _upload("user,item,title,genres\n1,a,Alpha,Drama|Comedy\n2,a,Alpha,Drama|Comedy\n2,b,Beta,Horror\n")
    catalog = data.info["interactions"].catalog
    assert catalog.titles == ["Alpha", "Beta"] and catalog.genres == [["Drama", "Comedy"], ["Horror"]]
