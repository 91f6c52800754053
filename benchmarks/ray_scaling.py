"""Batch scoring in-process against Ray Data on this machine, same run, same model, same file.

Credit: a generated Parquet file of ``--credit-rows`` applicants (German Credit rows resampled
with noise on the numbers) scored by the default model (LightGBM) in-process
(``models.streaming.score_frame``, what ``domainlens predict`` runs) and on a local Ray
instance with 1 and 2 actors (``--actors 1,4,8`` on a bigger machine). Text: ``--texts``
reviews the same way with the TF-IDF model.

Prints rows/s for each, Ray's time against in-process, and how it splits: seconds to the first
scored batch (a job's fixed start-up) and the steady rows/s after it (the per-actor rate a
scaling estimate starts from), with the input size from which Ray is within 1.5x of
in-process on this machine.

Run: .venv/bin/python -m benchmarks.ray_scaling [--credit-rows 2000000] [--texts 20000] [--actors 1,2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from domains import registry
from domains.distributed import ENV, OpenPredictor
from models.distributed import RayOptions, connect, score
from models.streaming import score_frame

BATCH_ROWS = 65_536  # per micro-batch, both paths: Ray's per-batch cost is fixed, so big batches for big files


def credit_file(rows: int, folder: Path) -> Path:
    from domains.credit_risk.data import german_credit_path

    base = pl.read_csv(german_credit_path())
    rng = np.random.default_rng(0)
    frame = base.sample(rows, with_replacement=True, seed=0)
    numeric = [c for c, t in frame.schema.items() if t.is_numeric() and c != "credit_risk"]
    frame = frame.with_columns(pl.Series(c, np.maximum(0, frame[c].to_numpy() * rng.uniform(0.9, 1.1, rows)).round())
                               .cast(frame[c].dtype) for c in numeric)
    path = folder / "applicants.parquet"
    frame.write_parquet(path, row_group_size=100_000)
    return path


def text_file(rows: int, folder: Path) -> Path:
    texts = registry.get("text_classification").load_data("rt_sentiment").frame["text"]
    path = folder / "reviews.parquet"
    pl.DataFrame({"text": texts.sample(rows, with_replacement=True, seed=0)}).write_parquet(path, row_group_size=2_000)
    return path


def in_process(recipe: OpenPredictor, source: Path) -> float:
    """What ``domainlens predict`` runs: the micro-batcher over the whole frame in this process."""
    import torch

    predictor = registry.open_predictor(registry.get(recipe.domain), recipe.model, torch.device("cpu"))
    started = time.perf_counter()  # read, score, write: the whole job, as on Ray
    frame = pl.read_parquet(source)
    out = score_frame(predictor.predict, frame, batch_rows=BATCH_ROWS).select(pl.exclude(pl.Binary))
    out.write_parquet(source.with_name("in-process.parquet"))
    assert out.height == frame.height
    return time.perf_counter() - started


def on_ray(recipe: OpenPredictor, source: Path, actors: int, folder: Path) -> tuple[float, float, float]:
    """Seconds for the whole job, seconds until the first batch was scored (worker processes
    starting, importing DomainLens and opening the model, beside the first reads), and the
    steady rows/s after that (from the job's progress reports)."""
    import os

    out = folder / f"out-{actors}"
    shutil.rmtree(out, ignore_errors=True)
    env = {k: os.environ[k] for k in ENV if k in os.environ}
    marks: list[tuple[float, int]] = []
    started = time.perf_counter()
    score(str(source), out, recipe, RayOptions(actors=actors, batch_rows=BATCH_ROWS), env=env,
          on_progress=lambda p: marks.append((time.perf_counter(), p.step)))
    seconds = time.perf_counter() - started
    first = next(((t, done) for t, done in marks if done > 0), (started + seconds, 0))
    end, rows = marks[-1]
    steady = (rows - first[1]) / (end - first[0]) if end > first[0] else float("nan")
    return seconds, first[0] - started, steady


def measure(name: str, recipe: OpenPredictor, source: Path, rows: int, folder: Path,
            actor_counts: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    recipe()  # fitted or loaded once before any timing
    local = in_process(recipe, source)
    result: dict[str, Any] = {"rows": rows, "in_process_rows_per_s": round(rows / local)}
    for actors in actor_counts:
        seconds, startup, steady = on_ray(recipe, source, actors, folder)
        result[f"ray_{actors}_actor_rows_per_s"] = round(rows / seconds)
        result[f"ray_{actors}_actor_time_vs_in_process"] = round(seconds / local, 2)
        result[f"ray_{actors}_actor_first_batch_s"] = round(startup, 1)
        if steady != steady:  # NaN: done within one progress poll, no steady part to measure
            continue
        result[f"ray_{actors}_actor_steady_rows_per_s"] = round(steady)
        # Where the fixed start-up stops mattering: time(n) = startup + n / steady against n / in-process rate.
        local_rate = rows / local
        if steady / local_rate > 1 / 1.5:
            result[f"ray_{actors}_actor_rows_for_1_5x"] = round(startup / (1.5 / local_rate - 1 / steady))
    print(name, json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credit-rows", type=int, default=2_000_000)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--actors", default="1,2", help="actor counts to run, e.g. 1,4,8 on 16 cores")
    args = parser.parse_args()
    counts = tuple(int(n) for n in args.actors.split(","))
    folder = Path(tempfile.mkdtemp(prefix="dl-ray-bench-"))
    try:
        connect(None)
        measure("credit", OpenPredictor("credit_risk", "gbm", False), credit_file(args.credit_rows, folder),
                args.credit_rows, folder, counts)
        measure("text", OpenPredictor("text_classification", "tfidf_lr", False), text_file(args.texts, folder),
                args.texts, folder, counts)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
