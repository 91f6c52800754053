"""Group fairness of credit decisions by age band and by sex, with fairlearn.

"Positive" is a rejection (predicted bad): TPR is the share of bad applicants
rejected, FPR the share of good applicants wrongly rejected. Disparity ratios are
min/max across groups (1.0 = parity; the four-fifths rule flags < 0.8).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from fairlearn.metrics import MetricFrame, false_positive_rate, true_positive_rate
from sklearn.metrics import roc_auc_score

AGE_BANDS = (25, 35, 50)  # <25, 25-34, 35-49, 50+
_SEX_COLUMNS = ("sex", "gender")


def sensitive_attributes(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """Derive age band and sex where the data allows; unknown schemas give what they can."""
    out: dict[str, np.ndarray] = {}
    age_col = next((c for c in frame.columns if c.lower().startswith("age")), None)
    if age_col is not None and frame.schema[age_col].is_numeric():
        age = frame[age_col].cast(pl.Float64).to_numpy()
        bands = np.array(["<25", "25-34", "35-49", "50+"], dtype=object)
        out["age_band"] = np.where(np.isnan(age), "unknown", bands[np.searchsorted(AGE_BANDS, age, side="right")])
    if "personal_status_and_sex" in frame.columns:
        text = frame["personal_status_and_sex"].cast(pl.String).fill_null("").str.to_lowercase()
        out["sex"] = np.where(text.str.starts_with("female").to_numpy(), "female",
                              np.where(text.str.starts_with("male").to_numpy(), "male", "unknown"))
    else:
        sex_col = next((c for c in frame.columns if c.lower() in _SEX_COLUMNS), None)
        if sex_col is not None:
            out["sex"] = frame[sex_col].cast(pl.String).fill_null("unknown").to_numpy().astype(object)
    return out


def _approval_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(1.0 - np.mean(y_pred)) if len(y_pred) else float("nan")


def fairness_frames(
    y: np.ndarray, p: np.ndarray, threshold: float, attributes: dict[str, np.ndarray]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-group metrics, disparity ratio per attribute and metric)."""
    reject = (np.asarray(p) >= threshold).astype(int)
    groups: list[dict[str, object]] = []
    ratios: list[dict[str, object]] = []
    metrics = {"approval_rate": _approval_rate, "tpr": true_positive_rate, "fpr": false_positive_rate}
    for attribute, values in attributes.items():
        frame = MetricFrame(metrics=metrics, y_true=y, y_pred=reject, sensitive_features=values)
        by_group = frame.by_group
        for group, row in by_group.iterrows():
            mask = values == group
            auc = roc_auc_score(y[mask], p[mask]) if len(np.unique(y[mask])) == 2 else float("nan")
            groups.append({"attribute": attribute, "group": str(group), "n": int(mask.sum()),
                           **{k: float(row[k]) for k in metrics}, "auc": float(auc)})
        ratio = frame.ratio(method="between_groups")
        ratios.extend({"attribute": attribute, "metric": k, "ratio": float(ratio[k])} for k in metrics)
    group_schema = {"attribute": pl.String, "group": pl.String, "n": pl.Int64, "approval_rate": pl.Float64,
                    "tpr": pl.Float64, "fpr": pl.Float64, "auc": pl.Float64}
    ratio_schema = {"attribute": pl.String, "metric": pl.String, "ratio": pl.Float64}
    return pl.DataFrame(groups, schema=group_schema), pl.DataFrame(ratios, schema=ratio_schema)
