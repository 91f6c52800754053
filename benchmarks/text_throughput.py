"""Text inference throughput: DomainLens' batched path (length bucketing, dynamic
padding, ``inference_mode``, int8 on CPU: CTranslate2 for BERT classifiers, else
PyTorch dynamic quantisation) against
``transformers.pipeline("text-classification")`` called one text at a time, in the same
process, on the same fine-tuned checkpoint and the same Rotten Tomatoes test texts.
Accuracy is measured on the same texts for both, so the cost of int8 shows.

Uses ``--checkpoint DIR`` or the newest ``minilm_finetune`` checkpoint; without one the
network is MiniLM with an untrained head (speeds still valid, accuracies meaningless).

The pipeline baseline is one pass over all texts (about 10 s); each batched path is the
median of ``--repeats`` passes.

Run: .venv/bin/python benchmarks/text_throughput.py [--checkpoint DIR] [--single N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.results import Row
from domains.text_classification import data as text_data
from domains.text_classification.encoders import SequenceClassifierPredictor
from domains.text_classification.predictor import minilm_path
from models.checkpoints import list_bundles, load_bundle
from models.device import describe_device, pick_device


def load(checkpoint: Path | None, device: torch.device) -> tuple[SequenceClassifierPredictor, str]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if checkpoint is None:
        found = [b for b in list_bundles("text_classification") if b.model == "minilm_finetune"]
        checkpoint = found[0].path if found else None
    if checkpoint is not None:
        predictor = SequenceClassifierPredictor.from_bundle(load_bundle(checkpoint), device)
        return predictor, str(checkpoint)
    # A seeded head: with a random one each run, its near-0.5 probabilities made int8's check
    # (does every probe keep its class?) pass on some runs and fail on others.
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(str(minilm_path()), num_labels=2)
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    return SequenceClassifierPredictor(model, tokenizer, ("negative", "positive"), max_length=64, device=device,
                                       model_key="minilm_untrained"), "MiniLM, untrained head"


TARGET_RATIO = 8.0


def bench_rows() -> list[Row]:
    """The default sentiment model's fastest checked path (int8 where it agrees, else float32)
    against the Hugging Face pipeline one review at a time, on 200 RT test reviews."""
    torch.set_num_threads(2)
    device = pick_device("auto")
    predictor, name = load(None, device)
    texts = text_data.load("rt_sentiment").split("test")["text"].to_list()
    from transformers import pipeline

    pipe = pipeline("text-classification", model=predictor.model, tokenizer=predictor.tokenizer,
                    device=device, truncation=True, max_length=predictor.max_length)
    pipe(texts[:8])
    t0 = time.perf_counter()
    for text in texts[:200]:
        pipe(text)
    baseline = 200 / (time.perf_counter() - t0)
    predictor.int8 = device.type == "cpu"
    predictor.proba(texts[:64])  # the one-off int8 conversion and its check on this machine
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        predictor.proba(texts)
        rates.append(len(texts) / (time.perf_counter() - t0))
    rate = float(np.median(rates))
    return [Row(f"text: reviews/s, {name} ({predictor.path_in_use()})", rate, baseline, "reviews/s",
                f">= {TARGET_RATIO:.0f}x HF pipeline", rate / baseline >= TARGET_RATIO)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--single", type=int, default=0, help="texts for the one-at-a-time baseline (0: all)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per batched path (median reported)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    predictor, name = load(args.checkpoint, device)
    rows = text_data.load("rt_sentiment").split("test")
    texts, labels = rows["text"].to_list(), rows["label"].to_list()
    index = {n: i for i, n in enumerate(predictor.labels)}
    y = np.array([index[v] for v in labels])
    print(f"model: {name}; device: {describe_device(device)}; threads: {torch.get_num_threads()}; "
          f"{len(texts)} test texts; max_length {predictor.max_length}")

    from transformers import pipeline

    pipe = pipeline("text-classification", model=predictor.model, tokenizer=predictor.tokenizer,
                    device=device, truncation=True, max_length=predictor.max_length)
    pipe(texts[:8])  # warm-up
    sample = texts[: args.single or len(texts)]
    t0 = time.perf_counter()
    pipe_out = [pipe(t)[0]["label"] for t in sample]
    baseline = len(sample) / (time.perf_counter() - t0)
    id_of = {v: int(k) for k, v in predictor.model.config.id2label.items()}
    pipe_acc = float(np.mean([id_of[p] == t for p, t in zip(pipe_out, y, strict=False)]))

    results = {}
    for label, int8 in (("batched float32", False), ("batched int8", True)):
        predictor.int8 = int8 and device.type == "cpu"
        predictor.proba(texts[:64])  # warm-up (and the one-off int8 conversion and check on this machine)
        if predictor.int8:
            label += f" ({predictor.path_in_use()})"
        rates = []
        for _ in range(args.repeats):  # a pass takes ~2 s: the median of several evens out a shared machine
            t0 = time.perf_counter()
            probs, _ = predictor.proba(texts)
            rates.append(len(texts) / (time.perf_counter() - t0))
        rate = float(np.median(rates))
        results[label] = (rate, float(np.mean(probs.argmax(1) == y)), float(np.mean(probs[: len(sample)].argmax(1) ==
                                                                                    y[: len(sample)])))
    print(f"{'path':<34}{'texts/s':>10}{'x pipeline':>12}{'accuracy':>10}")
    print(f"{'pipeline, one text at a time':<34}{baseline:>10.1f}{1.0:>12.2f}{pipe_acc:>10.4f}"
          f"  (first {len(sample)} texts)")
    for label, (rate, acc, acc_sample) in results.items():
        print(f"{label:<34}{rate:>10.1f}{rate / baseline:>12.2f}{acc:>10.4f}  (same {len(sample)}: {acc_sample:.4f})")
    fp32, int8_ = results["batched float32"], list(results.values())[-1]
    print(f"int8 vs float32 accuracy change on all {len(texts)} texts: {100 * (int8_[1] - fp32[1]):+.2f} points")


if __name__ == "__main__":
    main()
