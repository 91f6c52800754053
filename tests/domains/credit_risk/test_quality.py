"""Quality on real data (German Credit), asserted with thresholds."""

import polars as pl
import pytest
import torch

from domains import registry
from domains.base import TrainSettings
from domains.capabilities import Explainer
from domains.credit_risk.decision import Costs, optimal_threshold
from domains.credit_risk.drift import ALERT_PSI
from models.control import CancelToken

CPU = torch.device("cpu")


def _train(key: str, **settings):
    domain = registry.get("credit_risk")
    spec = next(s for s in domain.models() if s.key == key)
    return domain.train(spec, domain.load_data(), TrainSettings(**settings), device=CPU,
                        progress=lambda p: None, cancel=CancelToken())


def test_gbm_cross_validated_auc_and_calibration() -> None:
    outcome = _train("gbm", cv=5)
    assert outcome.metrics["auc"] >= 0.79
    assert outcome.metrics["ece"] <= 0.05
    assert len(outcome.history) == 5 and all(h["fold_auc"] > 0.7 for h in outcome.history)


def test_scorecard_is_a_reasonable_baseline() -> None:
    outcome = _train("scorecard", cv=5)
    assert 0.76 <= outcome.metrics["auc"] <= 0.80
    assert outcome.metrics["ece"] <= 0.05


@pytest.mark.slow
def test_neural_cross_validated() -> None:
    outcome = _train("neural", cv=5)
    assert outcome.metrics["auc"] >= 0.75 and outcome.metrics["ece"] <= 0.06


def test_holdout_threshold_is_cost_optimal() -> None:
    outcome = _train("gbm")
    report = outcome.report
    assert report is not None
    # The cost-optimal cut-off for 5:1 costs sits well below 0.5, near 1/6 for calibrated scores.
    assert 0.08 <= outcome.predictor.threshold <= 0.35
    scores = report.frames["scores"]
    y, p = scores["y"].to_numpy(), scores["p_bad"].to_numpy()
    curve = report.frames["cost_curve"]
    assert report.metrics["optimal_threshold"] == optimal_threshold(y, p, Costs())
    assert curve["expected_cost"].min() <= report.metrics["expected_cost"] + 1e-12


def test_explanations_are_additive_for_every_model() -> None:
    domain = registry.get("credit_risk")
    row = domain.load_data().frame.head(1)
    for key in ("scorecard", "gbm", "neural"):
        predictor = _train(key, epochs=5 if key == "neural" else None).predictor
        assert isinstance(predictor, Explainer)
        exp = predictor.explain(row)
        margin = predictor.estimator.margin(predictor.schema.conform(row))[0]
        assert exp.base_value + exp.frame["contribution"].sum() == pytest.approx(margin, abs=2e-3)
        assert exp.frame.height == len(predictor.schema.names)


def test_fairness_and_drift_alert() -> None:
    domain = registry.get("credit_risk")
    data = domain.load_data()
    predictor = _train("gbm").predictor
    report = domain.evaluate(predictor, data, split="all")
    groups = report.frames["fairness"]
    assert set(groups["attribute"]) == {"age_band", "sex"}
    assert set(groups.filter(pl.col("attribute") == "sex")["group"]) == {"female", "male"}
    assert report.frames["fairness_ratios"]["ratio"].is_between(0, 1).all()

    def psi_after(drift: bool) -> float:
        monitor = domain.monitor(predictor, data)
        events = domain.stream(data, options={"simulate_drift": drift}).tail(400)
        monitor.update(events, predictor.predict(events))
        return max(float(monitor._psi["psi"].max()), 0.0), monitor.alerts()

    calm, calm_alerts = psi_after(False)
    drifted, alerts = psi_after(True)
    assert calm < ALERT_PSI and not calm_alerts
    assert drifted > ALERT_PSI and any("Credit amount" in a or "Duration" in a for a in alerts)
