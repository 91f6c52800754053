"""Image inference throughput: the micro-batched predictor path against predict() one
image at a time, in the same process, on the same model and the same images, for the
CNN (one net, and the default recipe's ensemble of five), and the EfficientNet-Lite0
transfer model (and on CUDA when there is a GPU).

Weights do not change the arithmetic, so the nets are freshly initialised: no
training, no data beyond the images (real PneumoniaMNIST val when DOMAINLENS_DATA
points at it, else synthetic 28 px images).

Run: .venv/bin/python benchmarks/imaging_throughput.py [--images N] [--single N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl
import torch

from benchmarks.results import Row
from domains.base import DataError
from domains.images import image_frame, pixels_row
from domains.medical_imaging import data as img_data
from domains.medical_imaging.predict import ImagePredictor, build_net
from models.device import describe_device, pick_device
from models.streaming import MicroBatcher, replay


def images(n: int) -> tuple[pl.DataFrame, str]:
    try:
        data = img_data.load()
        frame = data.frame.filter(pl.col("split") != "train")
        return pl.concat([frame] * (n // frame.height + 1)).head(n), data.name
    except DataError:
        rng = np.random.default_rng(0)
        rows = [pixels_row(str(i), rng.integers(0, 255, (28, 28), dtype=np.uint8)) for i in range(n)]
        return image_frame(rows), "synthetic 28 px"


def predictor(arch: str, device: torch.device, members: int = 1) -> ImagePredictor:
    options = {"size": 28, "input_size": 112, "members": members}
    net = build_net(arch, 2, 1, options).to(device).eval()
    return ImagePredictor(arch, net, ("normal", "pneumonia"), 1, 28, device, positive=1, meta={"arch": arch})


def measure(model: ImagePredictor, frame: pl.DataFrame, single: int, batch_rows: int) -> tuple[float, float]:
    model.predict(frame.head(min(batch_rows, frame.height)))  # warm-up (allocations, kernels)
    sample = frame.head(single)
    t0 = time.perf_counter()
    for i in range(sample.height):
        model.predict(sample.slice(i, 1))
    one_rate = sample.height / (time.perf_counter() - t0)
    batcher = MicroBatcher(model.predict, max_batch_rows=batch_rows, max_wait_s=0.05)
    t0 = time.perf_counter()
    scored = sum(result.rows for result in batcher.run(replay(frame, chunk_rows=64)))
    return scored / (time.perf_counter() - t0), one_rate


TARGET_RATIO = 20.0


def bench_rows() -> list[Row]:
    """The default recipe's model, the 5-fold CNN ensemble, micro-batched against one image
    at a time (and the one-net CNN for reference)."""
    device = pick_device("auto")
    frame, _ = images(4096)
    rows = []
    for name, members in (("imaging: batched, 5-fold CNN ensemble", 5), ("imaging: batched, one CNN", 1)):
        batched, single = measure(predictor("cnn", device, members), frame, 300, 256)
        rows.append(Row(name, batched, single, "images/s", f">= {TARGET_RATIO:.0f}x one at a time",
                        batched / single >= TARGET_RATIO))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--batch-rows", type=int, default=256)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    frame, source = images(args.images)
    print(f"images: {frame.height:,} ({source})  device: {describe_device(device)}  batch: {args.batch_rows}")
    for name, arch, members, n in (("cnn", "cnn", 1, args.images), ("cnn, 5 folds", "cnn", 5, args.images),
                                   ("efficientnet_lite0", "efficientnet_lite0", 1, args.images // 4)):
        batched, single = measure(predictor(arch, device, members), frame.head(n), min(args.single, n),
                                  args.batch_rows)
        print(f"{name:>18}: micro-batched {batched:,.0f} images/s | one at a time {single:,.0f} images/s | "
              f"ratio {batched / single:,.1f}x")


if __name__ == "__main__":
    main()
