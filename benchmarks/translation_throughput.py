"""Translation throughput, two comparisons in one process on the same inputs (held-out
Bible verses):

(a) Hugging Face ``generate`` vs CTranslate2 on the same Marian model (greedy and beam
    search). Without ``--model`` the model is a Marian with the opus-mt architecture
    (transformer-base, 6+6 layers) and a SentencePiece vocabulary trained on the
    corpus, randomly initialised: it never emits end-of-sentence, so every sentence
    decodes the same full token budget in both engines and the ratio is the per-token
    decoding cost. Pass ``--model FOLDER`` (a saved opus-mt or checkpoint ``hf/``
    folder) to time a trained model.
(b) The offline engine: DomainLens' parallel path (the request's sentences spread over
    the engine's worker processes, one per core) vs one sentence at a time.
(c) Time to first token for a 20-word sentence when streaming: a tiny Marian and the
    transformer-base Marian through ``TextIteratorStreamer``, the same through CTranslate2,
    and the offline engine's first sentence (median of 5).

Run: .venv/bin/python benchmarks/translation_throughput.py [--sentences 200] [--model FOLDER]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import torch

from domains.translation import data as mt_data
from domains.translation.engines import OfflineEngine
from models.control import CancelToken
from models.ct2 import convert_to_ctranslate2
from models.device import describe_device, pick_device
from models.seq2seq import (
    Ct2Seq2Seq,
    generate,
    load_seq2seq,
    new_marian,
    stream_generate,
)


def timed(run: Callable[[], list[str]]) -> tuple[list[str], float]:
    started = time.perf_counter()
    out = run()
    return out, time.perf_counter() - started


def hf_best(model: object, tokenizer: object, sources: list[str], beams: int) -> list[str]:
    return [c[0] for c in generate(model, tokenizer, sources, num_beams=beams)]


def ct2_best(ct2: Ct2Seq2Seq, sources: list[str], beams: int) -> list[str]:
    return [c[0] for c in ct2.generate(sources, num_beams=beams)]


def hf_vs_ctranslate2(sources: list[str], corpus: pl.DataFrame, model_dir: Path | None, work: Path,
                      device: torch.device) -> None:
    if model_dir is None:
        train = corpus.filter(pl.col("split") == "train").head(20_000)
        print("building a transformer-base Marian (random weights, corpus SentencePiece vocabulary)...")
        model_dir = new_marian(work / "marian", train["source"].to_list(), train["reference"].to_list(),
                               size="base", vocab_size=8000)
    model, tokenizer = load_seq2seq(model_dir, device)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"(a) Marian {params:.0f}M parameters, {len(sources)} sentences, device {describe_device(device)}")
    for quantization in ("int8", "float32"):
        folder = convert_to_ctranslate2(model_dir, work / f"ct2-{quantization}", quantization=quantization)
        ct2 = Ct2Seq2Seq(folder, tokenizer, threads=torch.get_num_threads())
        for beams in (1, 4):
            hf_out, hf_s = timed(partial(hf_best, model, tokenizer, sources, beams))
            ct_out, ct_s = timed(partial(ct2_best, ct2, sources, beams))
            same = sum(a == b for a, b in zip(hf_out, ct_out, strict=True)) / len(sources)
            print(f"    beam {beams}: transformers {len(sources) / hf_s:7.1f} sent/s | CTranslate2 {quantization:7s} "
                  f"{len(sources) / ct_s:7.1f} sent/s | ratio {hf_s / ct_s:5.2f}x | identical outputs {same:.0%}")


TWENTY_WORDS = ("The farmers brought their harvest to the old market early this morning because the heavy rain was "
                "coming very soon.")


def first_piece_seconds(stream: Callable[[], Iterator[str]], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        pieces = stream()
        next(iter(pieces))
        times.append(time.perf_counter() - started)
        for _ in pieces:  # finish (or the worker keeps the cores busy)
            pass
    return float(np.median(times))


def stop_seconds(model: object, tokenizer: object) -> float:
    """From pressing Stop (after the first piece) until the generating thread has ended."""
    flag = CancelToken()
    stream = stream_generate(model, tokenizer, TWENTY_WORDS * 5, stop=flag, max_new_tokens=500)
    next(stream)
    started = time.perf_counter()
    flag.cancel()
    for _ in stream:
        pass
    return time.perf_counter() - started


def time_to_first_token(corpus: pl.DataFrame, work: Path) -> None:
    assert len(TWENTY_WORDS.split()) == 20
    train = corpus.filter(pl.col("split") == "train").head(20_000)
    print("(c) time to first output for a 20-word sentence (median of 5, streaming):")
    engine = OfflineEngine()
    engine.warm_up()
    stop = CancelToken()
    offline = first_piece_seconds(lambda: engine.stream(TWENTY_WORDS, "en", "pt", stop))
    print(f"    offline engine (first sentence): {offline * 1000:.0f} ms")
    for size in ("tiny", "base"):
        folder = new_marian(work / f"marian-{size}", train["source"].to_list(), train["reference"].to_list(),
                            size=size, vocab_size=8000)
        model, tokenizer = load_seq2seq(folder, torch.device("cpu"))
        hf = first_piece_seconds(partial(stream_generate, model, tokenizer, TWENTY_WORDS))
        ct2 = Ct2Seq2Seq(convert_to_ctranslate2(folder, work / f"ct2-{size}"), tokenizer)
        fast = first_piece_seconds(partial(ct2.stream, TWENTY_WORDS))
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"    Marian {size} ({params:.1f}M): transformers streamer {hf * 1000:.0f} ms | "
              f"CTranslate2 int8 {fast * 1000:.0f} ms | Stop -> generation ended in "
              f"{stop_seconds(model, tokenizer) * 1000:.0f} ms")


def offline_threaded_vs_serial(sources: list[str]) -> None:
    engine = OfflineEngine()
    engine.warm_up()  # start the workers and load the models before timing
    serial, serial_s = timed(lambda: engine.translate_serial(sources, "en", "pt"))
    parallel, parallel_s = timed(lambda: engine.translate(sources, "en", "pt"))
    same = sum(a == b for a, b in zip(serial, parallel, strict=True)) / len(sources)
    print(f"(b) offline engine, {len(sources)} sentences, {engine.threads} workers: one at a time "
          f"{len(sources) / serial_s:.1f} sent/s | parallel {len(sources) / parallel_s:.1f} sent/s | "
          f"ratio {serial_s / parallel_s:.2f}x | identical outputs {same:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--model", type=Path, default=None, help="a saved Hugging Face Marian folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", choices=["a", "b", "c"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = mt_data.bible("en", "pt").frame
    sources = corpus.filter(pl.col("split") == "test")["source"].head(args.sentences).to_list()
    if args.only in (None, "b"):
        offline_threaded_vs_serial(sources)
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "c"):
            time_to_first_token(corpus, Path(tmp))
        if args.only in (None, "a"):
            hf_vs_ctranslate2(sources, corpus, args.model, Path(tmp), pick_device(args.device))


if __name__ == "__main__":
    main()
