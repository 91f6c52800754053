"""Quality on MovieLens-100K under the MS Recommenders protocol (tuned on validation only)."""

import json

import pytest

from dashboard.cli import main
from domains.recommendations.evaluate import PUBLISHED_BEST


def _evaluate(model: str, capsys: pytest.CaptureFixture) -> dict[str, float]:
    assert main(["evaluate", "recommendations", "--model", model, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])["metrics"]


def test_best_model_beats_every_published_row(capsys: pytest.CaptureFixture) -> None:
    metrics = _evaluate("dlae", capsys)
    assert metrics["ndcg@10"] >= 0.48 and metrics["precision@10"] >= 0.41
    for name, published in PUBLISHED_BEST.items():
        assert metrics[name] > published, name


@pytest.mark.parametrize("model", ["ease", "itemknn", pytest.param("bpr", marks=pytest.mark.slow),
                                   pytest.param("two_tower", marks=pytest.mark.slow)])  # trained nets: minutes
def test_learned_models_beat_popularity(model: str, capsys: pytest.CaptureFixture) -> None:
    popularity = _evaluate("popularity", capsys)
    metrics = _evaluate(model, capsys)
    assert metrics["ndcg@10"] > popularity["ndcg@10"] + 0.03
    assert metrics["coverage"] > popularity["coverage"]  # personalised lists reach more of the catalogue
