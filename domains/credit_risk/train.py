"""Training recipes: out-of-fold calibration, cost-optimal threshold, CV and holdout.

Every model is fitted the same way: inner stratified folds give out-of-fold
margins, a calibrator is fitted on those, the threshold minimising expected cost
is chosen on the calibrated out-of-fold probabilities, and the estimator is
refitted on all the rows it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import torch

from domains.base import DataError, DomainData, ModelSpec, TrainOutcome, TrainSettings
from domains.calibration import Calibrator
from domains.credit_risk import data as credit_data
from domains.credit_risk.decision import Costs, optimal_threshold
from domains.credit_risk.drift import build_profile
from domains.credit_risk.estimators import FitContext, fit_estimator
from domains.credit_risk.features import Schema
from domains.credit_risk.predict import CreditPredictor
from domains.credit_risk.report import build_report
from domains.metrics import binary_metrics, expected_calibration_error
from models.control import CancelToken, Progress, ProgressFn
from models.training import staged

CALIBRATION_FOLDS = 5
REPORTED = ("auc", "gini", "ks", "brier", "log_loss", "ece")


def costs_from(options: dict[str, Any]) -> Costs:
    return Costs(
        accept_bad=float(options.get("cost_accept_bad", Costs.accept_bad)),
        reject_good=float(options.get("cost_reject_good", Costs.reject_good)),
    )


def fit_calibrated(
    kind: str,
    frame: pl.DataFrame,
    data: DomainData,
    *,
    costs: Costs,
    ctx: FitContext,
    inner_folds: int,
    report: Callable[[int, str], ProgressFn],
    stage0: int,
) -> CreditPredictor:
    """Fit ``kind`` on ``frame`` with out-of-fold calibration; see module docstring."""
    assert data.target is not None
    schema = Schema.infer(frame, data.target, data.info["bad_value"])
    y = schema.labels(frame)
    conformed = schema.conform(frame)
    margin = np.zeros(len(y))
    for i, (tr, va) in enumerate(credit_data.folds(y, inner_folds, seed=ctx.seed)):
        stage = report(stage0 + i, f"out-of-fold calibration, part {i + 1} of {inner_folds}")
        fold_ctx = FitContext(ctx.seed + i, ctx.epochs, ctx.device, stage, ctx.cancel)
        fold_schema = Schema.infer(frame[tr], data.target, data.info["bad_value"])
        est = fit_estimator(kind, fold_schema, fold_schema.conform(frame[tr]), y[tr], fold_ctx)
        margin[va] = est.margin(fold_schema.conform(frame[va]))
    calibrator = Calibrator.fit(margin, y)
    p_oof = calibrator(margin)
    final_ctx = FitContext(ctx.seed, ctx.epochs, ctx.device, report(stage0 + inner_folds, "final fit"), ctx.cancel)
    estimator = fit_estimator(kind, schema, conformed, y, final_ctx)
    p_fit = calibrator(estimator.margin(conformed))
    return CreditPredictor(
        model_key=kind,
        schema=schema,
        estimator=estimator,
        calibrator=calibrator,
        threshold=optimal_threshold(y, p_oof, costs),
        costs=costs,
        reference=build_profile(schema, conformed, p_fit),
    )


def train(spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device, progress: ProgressFn,
          cancel: CancelToken) -> TrainOutcome:
    if data.target is None:
        raise DataError("Credit training needs a target column.")
    options = dict(settings.options)
    costs = costs_from(options)
    inner = int(options.get("calibration_folds", CALIBRATION_FOLDS))
    frame = data.frame
    schema = Schema.infer(frame, data.target, data.info["bad_value"])
    y = schema.labels(frame)
    if min(np.bincount(y, minlength=2)) < max(inner, 2):
        raise DataError(
            f"Too few rows of one class to train: need at least {max(inner, 2)} good and bad rows each, "
            f"got {int((y == 0).sum())} good and {int((y == 1).sum())} bad."
        )
    ctx = FitContext(seed=settings.seed, epochs=settings.epochs, device=device, cancel=cancel)
    per_fit = inner + 1
    labels = (schema.good_label, schema.bad_label)
    if settings.cv:
        splits = credit_data.folds(y, settings.cv, seed=settings.seed)
        stages = staged(progress, per_fit * (len(splits) + 1))
        oof = np.zeros(len(y))
        history: list[dict[str, float]] = []
        for k, (tr, te) in enumerate(splits):
            fold_model = fit_calibrated(spec.key, frame[tr], data, costs=costs, ctx=ctx, inner_folds=inner,
                                        report=stages, stage0=k * per_fit)
            oof[te] = fold_model.proba(frame[te])
            fold_metrics = binary_metrics(y[te], oof[te])
            history.append({"fold": float(k + 1), **{f"fold_{m}": fold_metrics[m] for m in REPORTED}})
            progress(Progress((k + 1) * per_fit, per_fit * (len(splits) + 1), history[-1], stage=f"fold {k + 1} done"))
        metrics = {m: float(np.mean([h[f"fold_{m}"] for h in history])) for m in REPORTED}
        metrics["auc_std"] = float(np.std([h["fold_auc"] for h in history]))
        # ECE on a 200-row fold is mostly sampling noise (perfectly calibrated scores
        # average ~0.066 there), so the headline ECE pools every out-of-fold prediction;
        # the fold mean is kept beside it.
        metrics["ece_fold_mean"] = metrics["ece"]
        metrics["ece"] = expected_calibration_error(y, oof)
        final = fit_calibrated(spec.key, frame, data, costs=costs, ctx=ctx, inner_folds=inner,
                               report=stages, stage0=len(splits) * per_fit)
        report = build_report(y, oof, threshold=final.threshold, costs=costs, frame=frame, labels=labels)
        info: dict[str, Any] = {
            "evaluation": f"{settings.cv}-fold cross-validation (out-of-fold)",
            "trained_on": "all rows",
        }
    else:
        tr, te = credit_data.holdout_split(y, seed=settings.seed)
        final = fit_calibrated(spec.key, frame[tr], data, costs=costs, ctx=ctx, inner_folds=inner,
                               report=staged(progress, per_fit), stage0=0)
        p_test = final.proba(frame[te])
        report = build_report(y[te], p_test, threshold=final.threshold, costs=costs, frame=frame[te], labels=labels)
        metrics = {m: report.metrics[m] for m in REPORTED}
        history = []
        info = {"evaluation": "20% stratified holdout", "trained_on": "80% train split"}
    for extra in ("acc", "approval_rate", "expected_cost", "threshold"):
        metrics[extra] = report.metrics[extra]
    info.update(data_source=data.name, rows=len(y), target=data.target, bad_value=data.info["bad_value"])
    return TrainOutcome(predictor=final, metrics=metrics, history=history, report=report, info=info)
