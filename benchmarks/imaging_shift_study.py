"""Which imaging recipe holds on another site's images? A proxy of a site shift built
from the data DomainLens has, since no second hospital's images are here.

Two proxies, both on PneumoniaMNIST's train+val (4,406 images; the official test split
is not in the shared data):
1. **Intensity hold-out**: within each class, the 15% darkest and the 15% brightest
   images (mean pixel value) are held out; the nets train on the middle 70% (cut into
   train / validation / in-distribution test, 70/15/15 per class) and are scored on
   the two tails they never saw, a covariate shift in exposure with the class mix kept.
2. **Perturbations** of the in-distribution test images: darker and brighter exposure
   curves (gamma 1.6 and 0.6), low contrast (x0.6), blur (sigma 1 px), a half-size
   acquisition scaled back up, and sensor noise (sd 0.05). The "site_shift"
   augmentation trains on the same kinds of change (at milder strengths), so this proxy
   flatters it; the intensity hold-out does not.

Every recipe is one net through the product's training code (``train`` with folds=1:
early stop, Platt calibration and Youden threshold on the validation part), one per
seed. Printed: per recipe and evaluation set, AUC, balanced accuracy at the fitted
threshold, and ECE, as mean ± sd over seeds; then each recipe's worst case over the
shifted sets. Test-time augmentation is scored too (``+tta``: the net's log-odds
averaged over the image and four one-pixel shifts).

Run: DOMAINLENS_DATA=../shared/data .venv/bin/python -m benchmarks.imaging_shift_study [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from domains.base import DomainData, TrainSettings
from domains.medical_imaging import data as img_data
from domains.medical_imaging.domain import MedicalImagingDomain
from domains.medical_imaging.evaluate import evaluate_probs
from domains.medical_imaging.predict import ImagePredictor
from models.augment import gaussian_blur, round_trip
from models.control import CancelToken, no_progress

RECIPES: dict[str, dict[str, object]] = {
    "standard": {"augment": "standard"},
    "site_shift": {"augment": "site_shift"},
    "acquisition": {"augment": "acquisition"},
    "standardize": {"augment": "standard", "standardize": True},
    "site_shift+standardize": {"augment": "site_shift", "standardize": True},
}

Perturb = Callable[[torch.Tensor], torch.Tensor]


def perturbations() -> dict[str, Perturb]:
    def contrast(x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * 0.6 + mean).clamp(0, 1)

    def noise(x: torch.Tensor) -> torch.Tensor:
        return (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)

    return {
        "darker (gamma 1.6)": lambda x: x.clamp_min(1e-4) ** 1.6,
        "brighter (gamma 0.6)": lambda x: x.clamp_min(1e-4) ** 0.6,
        "low contrast (x0.6)": contrast,
        "blur (sigma 1)": lambda x: gaussian_blur(x, 1.0),
        "half resolution": lambda x: round_trip(x, 0.5),
        "noise (sd 0.05)": noise,
    }


def cut(data: DomainData, seed: int) -> dict[str, pl.DataFrame]:
    """The intensity hold-out: per class, the darkest and brightest 15% as two shifted
    sets; the middle 70% as train / val / in-distribution test (70/15/15)."""
    pooled = pl.concat([data.split("train"), data.split("val")])
    brightness = np.array([np.frombuffer(p, dtype=np.uint8).mean() for p in pooled["pixels"]])
    labels = pooled["label"].to_numpy()
    part = np.empty(len(labels), dtype=object)
    rng = np.random.default_rng(seed)
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        ranked = idx[np.argsort(brightness[idx], kind="stable")]
        tail = round(len(idx) * 0.15)
        part[ranked[:tail]] = "darkest 15%"
        part[ranked[-tail:]] = "brightest 15%"
        middle = rng.permutation(ranked[tail:-tail])
        n_train, n_val = int(len(middle) * 0.70), int(len(middle) * 0.15)
        part[middle[:n_train]] = "train"
        part[middle[n_train:n_train + n_val]] = "val"
        part[middle[n_train + n_val:]] = "in-distribution"
    pooled = pooled.with_columns(pl.Series("part", part.astype(str)))
    return {name: pooled.filter(pl.col("part") == name).drop("part")
            for name in ("train", "val", "in-distribution", "darkest 15%", "brightest 15%")}


def tta_logits(predictor: ImagePredictor, x: torch.Tensor) -> np.ndarray:
    """Log-odds averaged over the image and its four one-pixel shifts (edge-padded)."""
    views = [x]
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        views.append(padded[..., dy:dy + h, dx:dx + w])
    return np.mean([predictor.logits(v) for v in views], axis=0)


def scores(predictor: ImagePredictor, rows: pl.DataFrame, perturb: Perturb | None,
           tta: bool) -> dict[str, float]:
    x, _ = predictor.tensor(rows)
    if perturb is not None:
        x = perturb(x)
    logits = tta_logits(predictor, x) if tta else predictor.logits(x)
    m = evaluate_probs(predictor, rows, predictor.calibrate(logits)).metrics
    return {"auc": float(m["auc"]), "bal_acc": (float(m["sensitivity"]) + float(m["specificity"])) / 2,
            "ece": float(m["ece"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (smoke runs)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    domain = MedicalImagingDomain()
    data = img_data.load()
    spec = domain.spec("cnn")
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for seed in args.seeds:
        parts = cut(data, seed)
        study = DomainData(data.name, pl.concat([parts["train"].with_columns(split=pl.lit("train")),
                                                 parts["val"].with_columns(split=pl.lit("val"))]),
                           target=data.target, info={**data.info, "splits": ["train", "val"]})
        for name in args.recipes:
            started = time.perf_counter()
            settings = TrainSettings(epochs=args.epochs, seed=seed, options={"folds": 1, **RECIPES[name]})
            outcome = domain.train(spec, study, settings, device=torch.device("cpu"), progress=no_progress,
                            cancel=CancelToken())
            predictor = outcome.predictor
            assert isinstance(predictor, ImagePredictor)
            evaluated = {"in-distribution": (parts["in-distribution"], None),
                         "darkest 15%": (parts["darkest 15%"], None),
                         "brightest 15%": (parts["brightest 15%"], None),
                         **{k: (parts["in-distribution"], f) for k, f in perturbations().items()}}
            for tta in (False, True):
                label = name + ("+tta" if tta else "")
                for set_name, (rows, perturb) in evaluated.items():
                    results.setdefault((label, set_name), []).append(scores(predictor, rows, perturb, tta))
            shown = results[(name, "brightest 15%")][-1]
            print(f"seed {seed} {name}: {time.perf_counter() - started:.0f} s, brightest AUC {shown['auc']:.4f}",
                  flush=True)
    report(results)


def report(results: dict[tuple[str, str], list[dict[str, float]]]) -> None:
    def cell(values: list[float]) -> str:
        return f"{np.mean(values):.4f} ± {np.std(values):.4f}"

    print("\n| recipe | set | AUC | balanced acc | ECE |\n| --- | --- | --- | --- | --- |")
    for (label, set_name), runs in results.items():
        print(f"| {label} | {set_name} | {cell([r['auc'] for r in runs])} | {cell([r['bal_acc'] for r in runs])} "
              f"| {cell([r['ece'] for r in runs])} |")
    print("\nWorst shifted set per recipe (mean over seeds of each set, then the minimum):")
    print("| recipe | in-distribution AUC | worst AUC | worst balanced acc | mean shifted AUC |\n"
          "| --- | --- | --- | --- | --- |")
    for label in dict.fromkeys(label for label, _ in results):
        shifted = {s: runs for (r, s), runs in results.items() if r == label and s != "in-distribution"}
        auc = {s: float(np.mean([r["auc"] for r in runs])) for s, runs in shifted.items()}
        bal = {s: float(np.mean([r["bal_acc"] for r in runs])) for s, runs in shifted.items()}
        base = float(np.mean([r["auc"] for r in results[(label, "in-distribution")]]))
        print(f"| {label} | {base:.4f} | {min(auc.values()):.4f} ({min(auc, key=auc.__getitem__)}) | "
              f"{min(bal.values()):.4f} ({min(bal, key=bal.__getitem__)}) | {np.mean(list(auc.values())):.4f} |")


if __name__ == "__main__":
    main()
