"""The distilled sentiment model against its teacher, in one process: reviews/s on the RT
test split, each scored on the path it serves with on this machine (the student's int8
fast path where its check passed; the teacher's float32), and both accuracies.

Run: .venv/bin/python -m benchmarks.distilled_speed --student DIR --teacher DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from domains import registry
from domains.text_classification import data as text_data
from domains.text_classification.predictor import TextPredictor
from models.checkpoints import load_bundle
from models.device import pick_device


def rate_and_accuracy(predictor: TextPredictor, texts: list[str], y: np.ndarray) -> tuple[float, float]:
    predictor.proba(texts[:64])  # warm-up: the fast path is chosen and built once
    started = time.perf_counter()
    probs, _ = predictor.proba(texts)
    seconds = time.perf_counter() - started
    return len(texts) / seconds, float((probs.argmax(1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--student", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, required=True)
    args = parser.parse_args()
    domain, device = registry.get("text_classification"), pick_device("cpu")
    test = text_data.labelled(text_data.load().split("test"))
    texts = test["text"].to_list()
    rows = {}
    for role, folder in (("student", args.student), ("teacher", args.teacher)):
        predictor = domain.load(load_bundle(folder), device)
        assert isinstance(predictor, TextPredictor)
        index = {name: i for i, name in enumerate(predictor.labels)}
        y = np.array([index[v] for v in test["label"].to_list()])
        rows[role] = (predictor.model_key, *rate_and_accuracy(predictor, texts, y))
    for role, (key, rate, accuracy) in rows.items():
        print(f"{role:8} {key:18} {rate:8.1f} reviews/s  RT test accuracy {accuracy:.4f}")
    print(f"speed-up {rows['student'][1] / rows['teacher'][1]:.1f}x on {len(texts):,} reviews")


if __name__ == "__main__":
    main()
