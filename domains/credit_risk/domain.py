"""Credit Risk: probability of default for loan applicants, with calibrated
scores, cost-based decisions, explanations, fairness and drift monitoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
import torch

from domains.base import DataError, DomainData, FieldSpec, ModelSpec, Report, TrainOutcome, TrainSettings
from domains.base_domain import BaseDomain
from domains.columns import Column
from domains.credit_risk import data as credit_data
from domains.credit_risk.charts import credit_charts
from domains.credit_risk.live import CreditMonitor
from domains.credit_risk.predict import CreditPredictor
from domains.credit_risk.report import build_report
from domains.credit_risk.train import costs_from
from domains.credit_risk.train import train as run_training
from domains.explore import distributions
from domains.io import MAX_UPLOAD_BYTES, read_table_bytes
from domains.labels import Label
from models.control import CancelToken, ProgressFn

MODELS = (
    ModelSpec("gbm", "Gradient-boosted trees (LightGBM)", "sklearn", notes="Best CV AUC on German Credit."),
    ModelSpec("scorecard", "Logistic-regression scorecard", "sklearn", notes="Transparent baseline; points per input."),
    ModelSpec("neural", "Embeddings + MLP (PyTorch)", "torch", notes="Categorical embeddings, shared training loop."),
)
DRIFT_SHIFT = {"credit_amount": 2.5, "duration_in_month": 1.8}  # demo drift: bigger, longer loans
LABELS = {
    "p_bad": Label("Probability of default", "percent"), "score": Label("Credit score (points)", "integer"),
    "decision": Label("Decision", "text"), "credit_amount": Label("Credit amount (DM)", "money"),
    "duration_in_month": Label("Duration (months)", "integer"), "age_in_years": Label("Age (years)", "integer"),
    "installment_rate_in_percentage_of_disposable_income": Label("Instalment rate (% of disposable income)", "integer"),
    "present_residence_since": Label("Years at present residence", "integer"),
    "number_of_existing_credits_at_this_bank": Label("Existing credits at this bank", "integer"),
    "number_of_people_being_liable_to_provide_maintenance_for": Label("People maintained", "integer"),
    "status_of_existing_checking_account": Label("Checking account status", "text"),
    "savings_account_and_bonds": Label("Savings and bonds", "text"),
    "present_employment_since": Label("Employed since", "text"),
    "personal_status_and_sex": Label("Personal status and sex", "text"),
    "other_debtors_or_guarantors": Label("Other debtors or guarantors", "text"),
    "cost_accept_bad": Label("Cost of approving a bad applicant", "decimal"),
    "cost_reject_good": Label("Cost of rejecting a good applicant", "decimal"),
    "optimal_threshold": Label("Cost-optimal threshold", "decimal"),
    "approval_rate": Label("Approval rate", "percent"), "expected_cost": Label("Expected cost per applicant"),
}


DESCRIPTION = "Score loan applicants: calibrated default probability, cost-based decisions, reasons, fairness."


class CreditRiskDomain(BaseDomain[CreditPredictor], key="credit_risk", title="Credit Risk",
                       icon=":material/account_balance:", input_kind="tabular", description=DESCRIPTION):
    sources, menu = credit_data.SOURCES, MODELS
    data_fields = (FieldSpec("target", "text", help="target column of --data"),
                   FieldSpec("bad", "text", help="target value that marks the positive/bad class"))
    predictor_type = CreditPredictor
    labels = LABELS
    supports_cv = True
    summary_metrics = ("auc", "val_auc")

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        return credit_data.load(source, target=options.get("target"), bad=options.get("bad"))

    def upload_fields(self, name: str, payload: bytes, chosen: Mapping[str, Any]) -> list[FieldSpec]:
        """The target column (last by default), then the value in it that marks a bad outcome."""
        table = read_table_bytes(name, payload, max_bytes=MAX_UPLOAD_BYTES)
        fields = [FieldSpec("target", "category", default=table.columns[-1], choices=tuple(table.columns),
                            title="Target column")]
        target = chosen.get("target")
        if target in table.columns:
            values = tuple(sorted({str(v) for v in table[target].drop_nulls().unique().to_list()})[:50])
            fields.append(FieldSpec("bad", "category", default=values[0] if values else None, choices=values,
                                    title="Value that marks a bad outcome"))
        return fields

    def read_upload(self, name: str, payload: bytes, **options: Any) -> DomainData:
        return credit_data.from_upload(
            name, payload, target=options.get("target"), bad=options.get("bad"), max_bytes=MAX_UPLOAD_BYTES
        )

    def train(self, spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
              progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
        return run_training(self.spec(spec.key), data, settings, device=device, progress=progress, cancel=cancel)

    def outputs(self, predictor: CreditPredictor) -> list[Column]:
        return [Column("p_bad", "number", "calibrated probability that the applicant defaults", minimum=0.0,
                       maximum=1.0),
                Column("score", "number", "credit score in points (600 at 50:1 good:bad odds, 20 points to double)"),
                Column("decision", "text", f"reject when p_bad reaches the threshold ({predictor.threshold:.2f})",
                       choices=("approve", "reject"))]

    def evaluation_splits(self, data: DomainData) -> Sequence[str]:
        return ("test", "all")

    def evaluate(self, predictor: CreditPredictor, data: DomainData, *, split: str = "test",
                 options: Mapping[str, Any] | None = None) -> Report:
        frame = self._split(data, split)
        return self._report(predictor, data, frame, predictor.proba(frame), split, options)

    def evaluation_rows(self, predictor: CreditPredictor, data: DomainData, split: str) -> pl.DataFrame:
        return self._split(data, split)

    def evaluate_scored(self, predictor: CreditPredictor, data: DomainData, rows: pl.DataFrame,
                        predictions: pl.DataFrame, *, split: str, seconds: float) -> Report:
        return self._report(predictor, data, rows, predictions["p_bad"].to_numpy(), split, None)

    def _report(self, predictor: CreditPredictor, data: DomainData, frame: pl.DataFrame, p: np.ndarray,
                split: str, options: Mapping[str, Any] | None) -> Report:
        costs = costs_from(dict(options)) if options else predictor.costs
        report = build_report(self._labels(data, frame), p, threshold=predictor.threshold, costs=costs, frame=frame,
                              labels=(predictor.schema.good_label, predictor.schema.bad_label))
        report.info["split"] = split
        return report

    def charts(self, report: Report) -> dict[str, go.Figure]:
        return credit_charts(report)

    def explore(self, data: DomainData) -> dict[str, go.Figure]:
        return distributions(data.frame, data.target, self.key)

    def input_fields(self, predictor: CreditPredictor, data: DomainData) -> list[FieldSpec]:
        fields = []
        for col in predictor.schema.columns:
            if col.kind == "numeric":
                whole = col.minimum.is_integer() and col.maximum.is_integer()
                fields.append(FieldSpec(col.name, "integer" if whole else "number",
                                        default=round(col.median) if whole else col.median,
                                        minimum=col.minimum, maximum=col.maximum))
            else:
                fields.append(FieldSpec(col.name, "category", default=col.categories[0] if col.categories else "",
                                        choices=col.categories))
        return fields

    def stream_fields(self) -> list[FieldSpec]:
        return [FieldSpec("simulate_drift", "bool", default=False,
                          help="From the middle of the stream, loans get larger and longer (watch PSI).")]

    def evaluation_fields(self) -> list[FieldSpec]:
        return [
            FieldSpec("cost_accept_bad", "number", 5.0, minimum=0.0, help="Cost of approving a bad applicant."),
            FieldSpec("cost_reject_good", "number", 1.0, minimum=0.0, help="Cost of rejecting a good applicant."),
        ]

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Applications in a shuffled order (no target), optionally drifting halfway."""
        frame = data.frame.drop(data.target) if data.target else data.frame
        frame = frame.sample(fraction=1.0, shuffle=True, seed=7)
        if options and options.get("simulate_drift"):
            half = np.arange(frame.height) >= frame.height // 2
            exprs = [
                pl.when(pl.lit(half)).then(pl.col(c) * factor).otherwise(pl.col(c)).cast(frame.schema[c]).alias(c)
                for c, factor in DRIFT_SHIFT.items() if c in frame.columns and frame.schema[c].is_numeric()
            ]
            frame = frame.with_columns(exprs) if exprs else frame
        return frame

    def monitor(self, predictor: CreditPredictor, data: DomainData) -> CreditMonitor:
        return CreditMonitor(predictor)

    # ---- helpers --------------------------------------------------------------------------

    @staticmethod
    def _split(data: DomainData, split: str) -> pl.DataFrame:
        if split == "all":
            return data.frame
        if split not in {"test", "train"}:
            raise DataError(f"Unknown split '{split}' for credit data: use test, train or all.")
        train_idx, test_idx = credit_data.holdout_split(CreditRiskDomain._labels(data, data.frame))
        return data.frame[test_idx if split == "test" else train_idx]

    @staticmethod
    def _labels(data: DomainData, frame: pl.DataFrame) -> np.ndarray:
        assert data.target is not None
        return (frame[data.target].cast(pl.String) == data.info["bad_value"]).to_numpy().astype(np.int64)
