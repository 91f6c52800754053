"""Do derived instalment features help German Credit's trees? Answered by nested
cross-validation, so the answer is not chosen on the rows it is scored on.

For each seed: 5 outer folds; on each outer training fold, inner 5-fold CV picks one of
three feature sets (the inputs as they are; plus amount per month and log amount; plus
amount per month and the monthly burden); the pick is fitted on the outer training fold
and scores its held-out fold. Printed per seed: the pooled out-of-fold AUC of each fixed
feature set and of the nested choice. AUC is read from the trees' raw margins (the
recipe's Platt calibration is monotone, so it does not change AUC).

Run: .venv/bin/python -m benchmarks.credit_features_study [--seeds 0 1 2 42]
"""

from __future__ import annotations

import argparse

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

from domains.credit_risk import data as credit_data
from domains.credit_risk.estimators import GBM_PARAMS, GBM_ROUNDS, TreeEstimator
from domains.credit_risk.features import Schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 42])
    args = parser.parse_args()
    data = credit_data.load()
    frame = data.frame
    assert data.target is not None
    schema = Schema.infer(frame, data.target, data.info["bad_value"])
    y = schema.labels(frame)
    x = TreeEstimator.matrix(schema, schema.conform(frame))
    amount = frame["credit_amount"].to_numpy().astype(float)
    months = frame["duration_in_month"].to_numpy().astype(float)
    rate = frame["installment_rate_in_percentage_of_disposable_income"].to_numpy().astype(float)
    sets: dict[str, np.ndarray | None] = {
        "inputs": None,
        "+ per month, log amount": np.column_stack([amount / months, np.log(amount)]),
        "+ per month, burden": np.column_stack([amount / months, amount / months * rate]),
    }
    categorical = list(range(len(schema.numeric), len(schema.numeric) + len(schema.categorical)))

    def design(rows: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
        return x[rows] if extra is None else np.hstack([x[rows], extra[rows]])

    def margins(train: np.ndarray, test: np.ndarray, extra: np.ndarray | None, seed: int) -> np.ndarray:
        booster = lgb.train({**GBM_PARAMS, "seed": seed},
                            lgb.Dataset(design(train, extra), y[train], categorical_feature=categorical), GBM_ROUNDS)
        return np.asarray(booster.predict(design(test, extra), raw_score=True))

    def cv_auc(rows: np.ndarray, extra: np.ndarray | None, seed: int) -> float:
        out = np.zeros(len(rows))
        for tr, va in credit_data.folds(y[rows], 5, seed=seed):
            out[va] = margins(rows[tr], rows[va], extra, seed)
        return float(roc_auc_score(y[rows], out))

    every = np.arange(len(y))
    totals: dict[str, list[float]] = {}
    for seed in args.seeds:
        row = {name: cv_auc(every, extra, seed) for name, extra in sets.items()}
        nested, picks = np.zeros(len(y)), []
        for tr, te in credit_data.folds(y, 5, seed=seed):
            pick = max(sets, key=lambda name: cv_auc(tr, sets[name], seed))
            picks.append(pick)
            nested[te] = margins(tr, te, sets[pick], seed)
        row["nested choice"] = float(roc_auc_score(y, nested))
        for name, value in row.items():
            totals.setdefault(name, []).append(value)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()) + f"; picked {picks}")
    print("mean over seeds: " + ", ".join(f"{k} {np.mean(v):.4f} (sd {np.std(v):.4f})" for k, v in totals.items()))


if __name__ == "__main__":
    main()
