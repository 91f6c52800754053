"""Turning P(bad) into approve/reject with a cost matrix.

Rejecting at ``p >= t``: the expected cost per applicant is
``accept_bad * P(bad & approved) + reject_good * P(good & rejected)``; we scan
thresholds on out-of-fold (or evaluation) predictions and mark the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import polars as pl

GRID = np.round(np.linspace(0.0, 1.0, 201), 4)


@dataclass(frozen=True)
class Costs:
    accept_bad: float = 5.0  # German Credit's published cost of lending to a bad applicant
    reject_good: float = 1.0

    def __post_init__(self) -> None:
        if self.accept_bad < 0 or self.reject_good < 0 or self.accept_bad + self.reject_good == 0:
            raise ValueError("costs must be non-negative and not both zero")

    @property
    def bayes_threshold(self) -> float:
        """The optimum for perfectly calibrated probabilities."""
        return self.reject_good / (self.accept_bad + self.reject_good)


def cost_curve(y: np.ndarray, p: np.ndarray, costs: Costs) -> pl.DataFrame:
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    reject = p[None, :] >= GRID[:, None]  # thresholds x applicants
    accepted_bad = (~reject & y[None, :]).mean(axis=1)
    rejected_good = (reject & ~y[None, :]).mean(axis=1)
    return pl.DataFrame(
        {
            "threshold": GRID,
            "expected_cost": costs.accept_bad * accepted_bad + costs.reject_good * rejected_good,
            "approval_rate": 1.0 - reject.mean(axis=1),
        }
    )


def optimal_threshold(y: np.ndarray, p: np.ndarray, costs: Costs) -> float:
    """Lowest-cost threshold; ties go to the one nearest the Bayes threshold."""
    curve = cost_curve(y, p, costs)
    best = cast(float, curve["expected_cost"].min())
    ties = curve.filter(pl.col("expected_cost") <= best + 1e-12)["threshold"].to_numpy()
    return float(ties[np.argmin(np.abs(ties - costs.bayes_threshold))])


def expected_cost(y: np.ndarray, p: np.ndarray, threshold: float, costs: Costs) -> float:
    y = np.asarray(y, dtype=bool)
    reject = np.asarray(p) >= threshold
    return float(costs.accept_bad * np.mean(~reject & y) + costs.reject_good * np.mean(reject & ~y))
