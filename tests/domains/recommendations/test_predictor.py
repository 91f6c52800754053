"""The loaded recommender: checkpoints, fold-in, explanations, similar items, live events, CLI."""

import polars as pl
import torch

from dashboard.cli import main
from domains import registry
from domains.recommendations.predict import RecPredictor
from models.checkpoints import load_bundle


def test_checkpoint_round_trip_gives_identical_recommendations(ease_dir, ease, movielens) -> None:
    again = registry.get("recommendations").load(load_bundle(ease_dir), torch.device("cpu"))
    assert isinstance(again, RecPredictor)
    assert again.recommend("1", 10)["item"].to_list() == ease.recommend("1", 10)["item"].to_list()
    meta = load_bundle(ease_dir).metadata
    assert meta["metrics"]["ndcg@10"] > 0.47 and "lambda" in meta["tuned"]


def test_recommendations_never_repeat_rated_items(ease) -> None:
    recs = ease.recommend("1", 20)
    rated = {ease.catalog.ids[i] for i in ease.history_of("1")}
    assert recs.height == 20 and not rated & set(recs["item"].to_list())
    assert recs["score"].is_sorted(descending=True)
    assert all(r.startswith("because you liked") for r in recs["why"].to_list())


def test_cold_start_follows_the_picked_movies(ease) -> None:
    star_wars = [i for i, t in zip(ease.catalog.ids, ease.catalog.titles, strict=True)
                 if t in {"Star Wars", "Empire Strikes Back, The", "Return of the Jedi"}]
    assert len(star_wars) == 3
    recs = ease.recommend_for_items(star_wars, 10)
    action = sum(any(g in gs for g in ("Action", "Sci-Fi", "Adventure")) for gs in recs["genres"].to_list())
    assert action >= 7, recs
    assert not set(star_wars) & set(recs["item"].to_list())
    assert "Star Wars" in " ".join(recs["why"].to_list()) or "Jedi" in " ".join(recs["why"].to_list())


def test_similar_items_and_map(ease) -> None:
    toy_story = ease.catalog.ids[ease.catalog.titles.index("Toy Story")]
    similar = ease.similar_items(toy_story, 10)
    assert similar.height == 10 and toy_story not in similar["item"].to_list()
    assert any("Children's" in g or "Animation" in g for g in similar["genres"].to_list())
    item_map = ease.item_map()
    assert item_map.height == 1682 and item_map["x"].std() > 0


def test_live_events_carry_past_history_only(movielens, ease) -> None:
    domain = registry.get("recommendations")
    events = domain.stream(movielens)
    assert events.height == 25_008 and events["timestamp"].is_sorted()
    sample = events.head(300)
    assert all(item not in history for item, history in zip(sample["item"], sample["history"], strict=True))
    out = ease.predict(sample)
    assert out.height == 300 and out["items"].list.len().min() == 10
    monitor = domain.monitor(ease, movielens)
    monitor.update(sample, out)
    assert monitor.table().height == 50 and set(monitor.charts()) == {"hit_rate", "recommended"}


def test_cli_predict_writes_top_k_per_user(ease_dir, tmp_path) -> None:
    users = tmp_path / "users.csv"
    pl.DataFrame({"user": [1, 2, 999999]}).write_csv(users)
    out = tmp_path / "recs.csv"
    assert main(["predict", "recommendations", "--checkpoint", str(ease_dir), "--input", str(users),
                 "--output", str(out)]) == 0
    recs = pl.read_csv(out)
    assert recs.height == 3 and recs["items"].str.split("; ").list.len().to_list() == [10, 10, 10]
    assert "unknown user" in recs["note"][2]
