"""The same DomainLens code timed on the CPU and on a CUDA GPU in one run: fine-tune steps
through the shared training loop (``models.training.fit``: fp32 on the CPU, autocast bf16 on
the GPU), one imaging training epoch through the domain's own ``train``, and scoring through
the product's predictors (reviews/s, images/s), with the GPU's memory peak for each.

- **MPNet / MiniLM fine-tune step**: the all-mpnet-base-v2 (110M) and all-MiniLM-L6-v2 (23M)
  architectures with a 2-class head, 32 Rotten Tomatoes reviews a step padded to the
  longest (at most 128 tokens). Weights come from the configured folder's checkpoint when it
  has one, else are random: a step's time does not depend on the weights' values.
- **Imaging CNN epoch**: the medical-imaging domain's ``train`` (the CNN, one net, one epoch)
  on the PneumoniaMNIST training split, validation and calibration included.
- **EfficientNet-Lite0 step**: 64 images at 112 px through the same loop.
- **Scoring**: the text predictor on the RT test reviews (the CPU's best checked path and its
  float32 path; bf16 on the GPU) and the imaging predictor on the test split.

Without a GPU it runs the CPU half only. Prints one JSON line per measurement and, with
``--markdown FILE``, writes the table the README's "On a GPU" section shows.

Run: .venv/bin/python -m benchmarks.gpu_vs_cpu [--mpnet DIR] [--minilm DIR] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.device import amp_dtype, describe_device
from models.training import LoopConfig, fit

BATCH = 32
MAX_TOKENS = 128


@dataclass(frozen=True)
class Timing:
    name: str
    unit: str  # "s/step", "s/epoch" (lower is better) or "…/s" (higher is better)
    cpu: float
    cuda: float | None
    cuda_peak_mib: float | None
    note: str = ""

    @property
    def speedup(self) -> float | None:
        if self.cuda is None:
            return None
        return self.cpu / self.cuda if self.unit.startswith("s/") else self.cuda / self.cpu


def devices() -> list[torch.device]:
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def peak_mib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def step_seconds(model: torch.nn.Module, batches: Sequence[tuple[torch.Tensor, ...]],
                 loss_fn: Callable[..., torch.Tensor], device: torch.device, warmup: int) -> float:
    """Median seconds per step of the shared loop over ``batches`` (the first ``warmup`` untimed):
    from handing the loop a batch to its progress report after the step. The loop reads each
    step's loss as a number, so the GPU has finished the step when it reports."""
    moved = [tuple(t.to(device) for t in batch) for batch in batches]
    starts: list[float] = []
    ends: list[float] = []

    def epoch(_: int) -> Iterable[tuple[torch.Tensor, ...]]:
        for batch in moved:
            starts.append(time.perf_counter())
            yield batch

    fit(model, epoch, len(moved), loss_fn=loss_fn, validate=lambda m: {"val_loss": 0.0},
        config=LoopConfig(epochs=1, lr=2e-5, patience=1), device=device,
        progress=lambda p: ends.append(time.perf_counter()))
    steps = [end - start for start, end in zip(starts, ends, strict=False)]  # the last report is the epoch's
    return float(np.median(steps[warmup:]))


def text_batches(tokenizer: Any, texts: list[str], count: int) -> list[tuple[torch.Tensor, ...]]:
    rng = np.random.default_rng(0)
    out: list[tuple[torch.Tensor, ...]] = []
    for _ in range(count):
        chosen = [texts[i] for i in rng.choice(len(texts), BATCH, replace=False)]
        enc = tokenizer(chosen, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        out.append((enc["input_ids"], enc["attention_mask"], torch.tensor(rng.integers(0, 2, BATCH))))
    return out


def classifier(folder: Path) -> tuple[Any, Any, str]:
    """The folder's encoder with a 2-class head: its weights when it has them, else random."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    has_weights = any((folder / name).is_file() for name in ("model.safetensors", "pytorch_model.bin"))
    if has_weights:
        return AutoModelForSequenceClassification.from_pretrained(str(folder), num_labels=2), tokenizer, "pretrained"
    config = AutoConfig.from_pretrained(str(folder), num_labels=2)
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(config), tokenizer, "random weights"


def finetune_step(name: str, folder: Path, texts: list[str], cpu_steps: int, cuda_steps: int) -> Timing:
    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        ids, mask, y = batch
        return torch.nn.functional.cross_entropy(model(input_ids=ids, attention_mask=mask).logits.float(), y)

    results: dict[str, float] = {}
    peak, weights, params = None, "", 0.0
    for device in devices():
        model, tokenizer, weights = classifier(folder)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        steps = cpu_steps if device.type == "cpu" else cuda_steps
        reset_peak(device)
        results[device.type] = step_seconds(model, text_batches(tokenizer, texts, steps + 1), loss_fn, device, 1)
        peak = peak_mib(device) if device.type == "cuda" else peak
        del model
    return Timing(f"{name} fine-tune step ({params:.0f}M params, {BATCH} reviews)", "s/step", results["cpu"],
                  results.get("cuda"), peak, f"{weights}; AdamW, grad clip; CPU fp32, GPU {precision()}")


def efficientnet_step(cpu_steps: int, cuda_steps: int) -> Timing:
    from domains.medical_imaging.predict import build_net

    rng = np.random.default_rng(0)
    batches = [(torch.from_numpy(rng.random((64, 1, 28, 28), dtype=np.float32)),
                torch.from_numpy(rng.integers(0, 2, 64))) for _ in range(max(cpu_steps, cuda_steps) + 1)]

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.cross_entropy(net(x).float(), y)

    results: dict[str, float] = {}
    peak = None
    for device in devices():
        torch.manual_seed(0)
        net = build_net("efficientnet_lite0", 2, 1, {})
        steps = cpu_steps if device.type == "cpu" else cuda_steps
        reset_peak(device)
        results[device.type] = step_seconds(net, batches[: steps + 1], loss_fn, device, 1)
        peak = peak_mib(device) if device.type == "cuda" else peak
    return Timing("EfficientNet-Lite0 train step (64 images, 112 px)", "s/step", results["cpu"], results.get("cuda"),
                  peak, f"random backbone; CPU fp32, GPU {precision()}")


def imaging_epoch_and_scoring() -> list[Timing]:
    from domains import registry
    from domains.base import TrainSettings
    from models.control import CancelToken

    domain = registry.get("medical_imaging")
    data = domain.load_data()
    test = domain.stream(data).head(624)
    epoch: dict[str, float] = {}
    rate: dict[str, float] = {}
    peaks: dict[str, float | None] = {}
    for device in devices():
        reset_peak(device)
        started = time.perf_counter()
        outcome = domain.train(domain.spec("cnn"), data, TrainSettings(epochs=1, options={"folds": 1}), device=device,
                               progress=lambda p: None, cancel=CancelToken())
        epoch[device.type] = time.perf_counter() - started
        peaks[f"train-{device.type}"] = peak_mib(device)
        predictor = outcome.predictor
        predictor.predict(test.head(64))  # warm-up
        reset_peak(device)
        rate[device.type] = statistics.median(_rate(functools.partial(predictor.predict, test), test.height)
                                              for _ in range(3))
        peaks[f"score-{device.type}"] = peak_mib(device)
    rows = data.split("train").height
    return [Timing(f"imaging CNN: one training epoch ({rows:,} training images)", "s/epoch", epoch["cpu"],
                   epoch.get("cuda"), peaks.get("train-cuda"), f"domain train, one net; GPU {precision()}"),
            Timing(f"imaging CNN scoring ({test.height} test images)", "images/s", rate["cpu"], rate.get("cuda"),
                   peaks.get("score-cuda"), "ImagePredictor.predict, whole split per call")]


def text_scoring(name: str, folder: Path, texts: list[str]) -> list[Timing]:
    from domains.text_classification.encoders import SequenceClassifierPredictor

    found: dict[str, float] = {}
    paths: dict[str, str] = {}  # the CPU's scoring path (the GPU's: fp32 weights under autocast)
    peak = None
    for device in devices():
        model, tokenizer, _ = classifier(folder)
        for int8 in ([True, False] if device.type == "cpu" else [False]):
            predictor = SequenceClassifierPredictor(model, tokenizer, ("negative", "positive"), max_length=MAX_TOKENS,
                                                    device=device, model_key=name, int8=int8, probe=texts[:64])
            predictor.proba(texts[:64])  # conversions, checks and kernels warmed
            reset_peak(device)
            key = f"{device.type}-{'best' if int8 else 'fp32'}"
            repeats = 1 if device.type == "cpu" else 3  # the CPU passes are the long ones
            found[key] = statistics.median(_rate(functools.partial(predictor.proba, texts), len(texts))
                                           for _ in range(repeats))
            paths[key] = predictor.path_in_use()
            if device.type == "cuda":
                peak = peak_mib(device)
    out = [Timing(f"{name} scoring, CPU float32 vs GPU ({len(texts)} RT test reviews)", "reviews/s",
                  found["cpu-fp32"], found.get("cuda-fp32"), peak, f"GPU: {precision()} autocast")]
    if paths["cpu-best"] != paths["cpu-fp32"]:
        out.append(Timing(f"{name} scoring, CPU's fastest checked path vs GPU", "reviews/s", found["cpu-best"],
                          found.get("cuda-fp32"), peak, f"CPU path: {paths['cpu-best']}"))
    return out


def _rate(run: Callable[[], Any], items: int) -> float:
    started = time.perf_counter()
    run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return items / (time.perf_counter() - started)


def precision() -> str:
    dtype = amp_dtype(torch.device("cuda")) if torch.cuda.is_available() else None
    return str(dtype).removeprefix("torch.") if dtype else "-"


def markdown(timings: list[Timing], header: str) -> str:
    def number(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.3f}" if value < 10 else f"{value:,.0f}"

    lines = [header, "", "| measured | unit | CPU | GPU | GPU vs CPU | GPU memory peak | note |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for t in timings:
        speedup = f"{t.speedup:.1f}x" if t.speedup is not None else "-"
        memory = f"{t.cuda_peak_mib:,.0f} MiB" if t.cuda_peak_mib is not None else "-"
        lines.append(f"| {t.name} | {t.unit} | {number(t.cpu)} | {number(t.cuda)} | {speedup} | {memory} | {t.note} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from domains.text_classification import data as text_data
    from domains.text_classification.predictor import minilm_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpnet", type=Path, default=None, help="an MPNet folder (default: the bundled one)")
    parser.add_argument("--minilm", type=Path, default=None, help="a MiniLM folder (default: the bundled one)")
    parser.add_argument("--cpu-steps", type=int, default=3, help="timed CPU steps per fine-tune (GPU: 10x)")
    parser.add_argument("--texts", type=int, default=640, help="RT test reviews scored on each device")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    if args.mpnet is None:
        from domains.text_classification.predictor import mpnet_path

        args.mpnet = mpnet_path()
    cuda = torch.device("cuda") if torch.cuda.is_available() else None
    header = (f"torch {torch.__version__}; CPU: {describe_device(torch.device('cpu'))}; "
              f"GPU: {describe_device(cuda) if cuda else 'none'}")
    print(header, flush=True)
    rt = text_data.load("rt_sentiment")
    train_texts, test_texts = rt.split("train")["text"].to_list(), rt.split("test")["text"].to_list()[: args.texts]
    steps = args.cpu_steps
    timings: list[Timing] = []
    measures: list[Callable[[], list[Timing]]] = [
        lambda: [finetune_step("MPNet-base", args.mpnet, train_texts, steps, 10 * steps)],
        lambda: [finetune_step("MiniLM-L6", args.minilm or minilm_path(), train_texts, steps, 10 * steps)],
        imaging_epoch_and_scoring,
        lambda: [efficientnet_step(steps, 10 * steps)],
        lambda: text_scoring("MPNet-base", args.mpnet, test_texts),
        lambda: text_scoring("MiniLM-L6", args.minilm or minilm_path(), test_texts),
    ]
    for measure in measures:
        for timing in measure():
            timings.append(timing)
            print(json.dumps({**timing.__dict__, "speedup": timing.speedup}), flush=True)
    table = markdown(timings, header)
    print(table)
    if args.markdown is not None:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
