"""The compiled forest gives LightGBM's margins bit for bit, or declines the model."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import torch

from models import trees
from models.trees import CompiledForest

CATEGORICAL = [4, 5, 6]


def _data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 4))
    codes = rng.integers(0, 8, size=(rows, 3)).astype(np.float64)
    x = np.hstack([numbers, codes]).astype(np.float32).astype(np.float64)  # float32 values, as the credit features
    x[: rows // 20, 1] = 0.0  # exact zeros, for the zero-as-missing rule
    y = (numbers[:, 0] + (codes[:, 0] == 3) + 0.5 * rng.normal(size=rows) > 0.5).astype(int)
    return x, y


def _booster(params: dict[str, object], rounds: int = 40) -> lgb.Booster:
    x, y = _data(4000)
    x[np.random.default_rng(1).random(x.shape) < 0.05] = np.nan  # trained with NaNs: missing-value rules
    return lgb.train({"objective": "binary", "verbose": -1, "max_cat_to_onehot": 64, "seed": 0, **params},
                     lgb.Dataset(x, y, categorical_feature=CATEGORICAL), rounds)


def _hard_inputs(rows: int) -> np.ndarray:
    """NaNs anywhere, unseen, negative and fractional codes, zeros and huge values."""
    x, _ = _data(rows, seed=2)
    rng = np.random.default_rng(3)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:50, 4] = -1.0
    x[50:100, 5] = 20.0
    x[100:150, 6] = -0.5  # truncates to code 0, as LightGBM's int cast does
    x[150:200, 4] = 2.7
    x[200:250, 0] = 1e30
    return x


@pytest.mark.parametrize("params", [
    {"num_leaves": 5},  # the credit recipe's shape
    {"num_leaves": 8, "min_data_in_leaf": 5},
    {"num_leaves": 5, "zero_as_missing": True},
    {"num_leaves": 4, "use_missing": False},
], ids=["credit-shape", "deeper", "zero-as-missing", "no-missing"])
def test_margins_equal_lightgbm_bit_for_bit(params: dict[str, object]) -> None:
    booster = _booster(params)
    forest = CompiledForest.from_booster(booster)
    assert forest is not None
    for x in (_data(3000, seed=4)[0], _hard_inputs(3000)):
        assert np.array_equal(forest.raw_score(x.astype(np.float32)), booster.predict(x, raw_score=True))


def test_threads_split_the_rows_and_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    booster = _booster({"num_leaves": 5})
    forest = CompiledForest.from_booster(booster)
    assert forest is not None
    x = _hard_inputs(5000)
    monkeypatch.setattr(trees, "ROWS_PER_THREAD", 1000)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    calls: list[tuple[int, int]] = []
    original = trees._in_parallel

    def spy(score, rows):  # type: ignore[no-untyped-def]
        original(lambda a, b: (calls.append((a, b)), score(a, b)), rows)

    monkeypatch.setattr(trees, "_in_parallel", spy)
    assert np.array_equal(forest.raw_score(x.astype(np.float32)), booster.predict(x, raw_score=True))
    assert len(calls) == 3 and calls[0][0] == 0 and calls[-1][1] == 5000


def test_models_it_does_not_cover_are_declined() -> None:
    many_vs_many = _booster({"num_leaves": 5, "max_cat_to_onehot": 2})  # category sets that are not one run
    big_trees = _booster({"num_leaves": 31, "min_data_in_leaf": 2})
    multiclass = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1},
                           lgb.Dataset(_data(600)[0], np.arange(600) % 3), 5)
    assert CompiledForest.from_booster(big_trees) is None
    assert CompiledForest.from_booster(multiclass) is None
    # Many-vs-many splits are declined only when a set is not one run of codes: check that
    # the answer, either way, is right.
    forest = CompiledForest.from_booster(many_vs_many)
    if forest is not None:
        x = _hard_inputs(500)
        assert np.array_equal(forest.raw_score(x.astype(np.float32)), many_vs_many.predict(x, raw_score=True))


def test_a_wrong_width_is_refused() -> None:
    forest = CompiledForest.from_booster(_booster({"num_leaves": 5}, rounds=3))
    assert forest is not None
    with pytest.raises(ValueError, match="expected 7 columns"):
        forest.raw_score(np.zeros((3, 6), dtype=np.float32))
