"""The credit predictor: conform -> margin -> calibrate -> decide, vectorised.

It is immutable and shared between browser sessions; ``with_threshold`` returns a
cheap copy for a user's own cut-off.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import torch

from domains.calibration import Calibrator
from domains.capabilities import Explanation
from domains.credit_risk.decision import Costs
from domains.credit_risk.estimators import Estimator, load_estimator
from domains.credit_risk.features import Schema
from models.checkpoints import Bundle, BundleWriter

# Scorecard points: 600 at 50:1 good:bad odds, 20 points to double the odds.
PDO, BASE_POINTS, BASE_ODDS = 20.0, 600.0, 50.0
_FACTOR = PDO / math.log(2)
_OFFSET = BASE_POINTS - _FACTOR * math.log(BASE_ODDS)
OUTPUT_COLUMNS = ("p_bad", "score", "decision")


def points(p_bad: np.ndarray) -> np.ndarray:
    p = np.clip(p_bad, 1e-6, 1 - 1e-6)
    return np.round(_OFFSET + _FACTOR * np.log((1 - p) / p), 1)


@dataclass(frozen=True)
class CreditPredictor:
    model_key: str
    schema: Schema
    estimator: Estimator
    calibrator: Calibrator
    threshold: float
    costs: Costs = field(default_factory=Costs)
    reference: dict[str, Any] = field(default_factory=dict)

    def proba(self, frame: pl.DataFrame) -> np.ndarray:
        return self.calibrator(self.estimator.margin(self.schema.conform(frame)))

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        p = self.proba(batch)
        # The decision as a polars expression: a numpy array of strings costs 8x more to build.
        return pl.DataFrame({"p_bad": p, "score": points(p)}).with_columns(
            pl.when(pl.col("p_bad") >= self.threshold).then(pl.lit("reject")).otherwise(pl.lit("approve"))
            .alias("decision")
        )

    def with_threshold(self, threshold: float) -> CreditPredictor:
        return dataclasses.replace(self, threshold=float(threshold))

    # ---- explanations ---------------------------------------------------------------------

    def explain(self, row: pl.DataFrame) -> Explanation:
        conformed = self.schema.conform(row.head(1))
        contributions, base = self.estimator.attributions(conformed)
        values = [_display(v) for v in conformed.row(0)]
        frame = pl.DataFrame(
            {"feature": self.schema.names, "value": values, "contribution": contributions[0]}
        ).sort(pl.col("contribution").abs(), descending=True)
        return Explanation(frame, base_value=base, output_value=base + float(contributions[0].sum()),
                           outcome="default")

    def global_importance(self, data: pl.DataFrame, *, sample: int = 300) -> pl.DataFrame:
        conformed = self.schema.conform(data)
        if conformed.height > sample:
            conformed = conformed.sample(sample, seed=0)
        contributions, _ = self.estimator.attributions(conformed)
        return pl.DataFrame(
            {"feature": self.schema.names, "importance": np.abs(contributions).mean(axis=0)}
        ).sort("importance", descending=True)

    # ---- persistence ----------------------------------------------------------------------

    def to_bundle(self) -> BundleWriter:
        return BundleWriter(
            tensors={**self.estimator.tensors(), **self.calibrator.to_tensors()},
            metadata={
                "kind": self.estimator.kind,
                "schema": self.schema.to_json(),
                "calibration": self.calibrator.method,
                "threshold": self.threshold,
                "costs": dataclasses.asdict(self.costs),
                "reference_profile": self.reference,
                "outputs": list(OUTPUT_COLUMNS),
            },
            extra=self.estimator.extra_files(),
        )

    @classmethod
    def from_bundle(cls, bundle: Bundle, device: torch.device) -> CreditPredictor:
        meta = bundle.metadata
        schema = Schema.from_json(meta["schema"])
        kind = str(meta["kind"])
        tensors = bundle.tensors()
        return cls(
            model_key=kind,
            schema=schema,
            estimator=load_estimator(kind, schema, bundle, device),
            calibrator=Calibrator.from_tensors(meta["calibration"], tensors),
            threshold=float(meta["threshold"]),
            costs=Costs(**meta.get("costs", {})),
            reference=meta.get("reference_profile", {}),
        )


def _display(value: object) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
