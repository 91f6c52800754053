"""Probability calibration fitted on out-of-fold scores, stored as plain tensors.

Platt scaling (a logistic fit on the raw margin) is the default: with a few hundred
out-of-fold points it is far more stable than isotonic regression, which is kept
for large data sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Method = Literal["platt", "isotonic", "none"]


@dataclass(frozen=True)
class Calibrator:
    method: Method
    params: np.ndarray  # platt: [a, b]; isotonic: 2 x n knots (x, y); none: empty

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray, method: Method = "platt") -> Calibrator:
        margin = np.asarray(margin, dtype=np.float64)
        if method == "none":
            return cls("none", np.zeros(0))
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(margin, y)
            return cls("isotonic", np.vstack([iso.X_thresholds_, iso.y_thresholds_]))
        # Large C: Platt scaling is a 2-parameter fit, no regularisation wanted.
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
        return cls("platt", np.array([float(lr.coef_[0, 0]), float(lr.intercept_[0])]))

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        margin = np.asarray(margin, dtype=np.float64)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.params[0] * margin + self.params[1])))
        if self.method == "isotonic":
            return np.interp(margin, self.params[0], self.params[1])
        return 1.0 / (1.0 + np.exp(-margin))

    def to_tensors(self, prefix: str = "calibrator") -> dict[str, torch.Tensor]:
        return {f"{prefix}.params": torch.from_numpy(np.atleast_1d(self.params).astype(np.float64))}

    @classmethod
    def from_tensors(cls, method: Method, tensors: dict[str, torch.Tensor], prefix: str = "calibrator") -> Calibrator:
        params = tensors[f"{prefix}.params"].numpy()
        if method == "isotonic":
            params = params.reshape(2, -1)
        return cls(method, params)
