"""Backends: the offline engine, a tiny local Marian through Hugging Face generate and
streaming (with Stop), and its CTranslate2 conversion."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from domains.base import DataError
from domains.translation.engines import Ct2Engine, HFEngine, OfflineEngine, check_pair
from models.control import CancelToken
from models.ct2 import INT8_PATH, convert_to_ctranslate2
from models.fastpath import EXACT
from models.seq2seq import Ct2Seq2Seq, generate, load_seq2seq, stream_generate

SENTENCE = "In the beginning God created the heavens and the earth, and the earth was without form and void."


@pytest.fixture(scope="module")
def offline() -> OfflineEngine:
    return OfflineEngine()


def test_offline_engine_translates_both_ways_in_parallel(offline: OfflineEngine) -> None:
    assert offline.pairs() == [("en", "pt"), ("pt", "en")]
    sentences = ["The children were playing in the garden.", "Where do you want to go today?"] * 3
    out = offline.translate(sentences, "en", "pt")
    assert len(out) == 6 and "jardim" in out[0] and out[0] == out[2]
    assert offline.translate_serial(sentences[:2], "en", "pt") == out[:2]
    back = offline.translate(["Eu quero ir para casa."], "pt", "en")[0].lower()
    assert "home" in back or "house" in back
    with pytest.raises(DataError, match="English -> French"):
        check_pair(offline, "en", "fr")


def test_tiny_marian_generates_n_best(tiny_marian_dir: Path) -> None:
    model, tokenizer = load_seq2seq(tiny_marian_dir, torch.device("cpu"))
    out = generate(model, tokenizer, [SENTENCE, "Short one."], num_beams=3, n_best=3)
    assert len(out) == 2 and all(len(c) == 3 for c in out)
    assert all(isinstance(s, str) and s for c in out for s in c)


def test_stream_matches_greedy_generate(tiny_marian_dir: Path) -> None:
    model, tokenizer = load_seq2seq(tiny_marian_dir, torch.device("cpu"))
    greedy = generate(model, tokenizer, [SENTENCE], num_beams=1)[0][0]
    pieces = list(stream_generate(model, tokenizer, SENTENCE))
    assert len(pieces) > 3  # token by token, not one block
    assert "".join(pieces).strip() == greedy


def test_stop_ends_generation_within_a_second(tiny_marian_dir: Path) -> None:
    model, tokenizer = load_seq2seq(tiny_marian_dir, torch.device("cpu"))
    before = {t.name for t in threading.enumerate() if t.name == "domainlens-generate" and t.is_alive()}
    stop = CancelToken()
    stream = stream_generate(model, tokenizer, SENTENCE * 4, stop=stop, max_new_tokens=480)
    first = next(stream)
    assert first
    stop.cancel()
    stopped_at = time.perf_counter()
    rest = list(stream)
    elapsed = time.perf_counter() - stopped_at
    assert elapsed < 1.0 and len(rest) <= 2
    alive = [t for t in threading.enumerate() if t.name == "domainlens-generate" and t.is_alive()]
    assert len(alive) <= len(before)  # the worker thread has really ended


def test_closing_the_stream_stops_the_worker(tiny_marian_dir: Path) -> None:
    model, tokenizer = load_seq2seq(tiny_marian_dir, torch.device("cpu"))
    stop = CancelToken()
    stream = stream_generate(model, tokenizer, SENTENCE * 4, stop=stop, max_new_tokens=480)
    next(stream)
    stream.close()  # what Streamlit does when the page reruns mid-stream
    time.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.name == "domainlens-generate" and t.is_alive()]
    assert not stop.cancelled  # the caller's flag is theirs: the next sentence of the request still runs


def test_ctranslate2_conversion_decodes_like_transformers(tiny_marian_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = load_seq2seq(tiny_marian_dir, torch.device("cpu"))
    folder = convert_to_ctranslate2(tiny_marian_dir, tmp_path / "ct2", quantization="float32")
    ct2 = Ct2Seq2Seq(folder, tokenizer)
    texts = [SENTENCE, "And God said, Let there be light."]
    # One sentence per call: padding in a batch nudges a random model's scores enough to
    # change its argmax, which would make the comparison meaningless.
    hf = [generate(model, tokenizer, [t], num_beams=1)[0][0] for t in texts]
    fast = [ct2.generate([t], num_beams=1)[0][0] for t in texts]
    assert fast == hf  # same weights, same greedy search, same tokens
    assert [len(c) for c in ct2.generate(texts, num_beams=1)] == [1, 1]
    assert "".join(ct2.stream(texts[1])).strip() == hf[1]
    assert len(ct2.generate(texts[:1], num_beams=3, n_best=2)[0]) == 2


def test_hf_engine_pairs_and_ctranslate2_checked_on_this_machine(tiny_marian_dir: Path) -> None:
    engine = HFEngine.load(tiny_marian_dir, torch.device("cpu"), [("en", "pt")], num_beams=1)
    assert engine.pairs() == [("en", "pt")]
    with pytest.raises(DataError, match="does not translate"):
        engine.translate(["hello"], "pt", "en")
    fast, scoring = engine.to_ctranslate2("en", "pt")
    assert isinstance(fast, Ct2Engine) and scoring.used == INT8_PATH
    (check,) = scoring.checks
    assert check.passed and check.probes == 16 and check.deviation < 20 and not check.cached
    both = (fast.translate([SENTENCE], "en", "pt")[0], engine.translate([SENTENCE], "en", "pt")[0])
    assert both[0].split()[:3] == both[1].split()[:3]  # int8 noise may change a later token of a random model
    again, cached = engine.to_ctranslate2("en", "pt")
    assert isinstance(again, Ct2Engine) and cached.checks[0].cached  # the verdict is read, not re-checked
    assert again.ct2.folder == fast.ct2.folder  # converted once, then reused


def test_ctranslate2_that_disagrees_here_keeps_transformers(tiny_marian_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    engine = HFEngine.load(tiny_marian_dir, torch.device("cpu"), [("en", "pt")], num_beams=1)
    monkeypatch.setattr(Ct2Seq2Seq, "generate", lambda self, texts, **kw: [["lorem ipsum"] for _ in texts])
    used, scoring = engine.to_ctranslate2("en", "pt", probe=["In the beginning God created the heavens."] * 4)
    assert used is engine and not scoring.fast and scoring.used == EXACT
    assert scoring.checks[0].probes == 4 and not scoring.checks[0].passed and "disagreed" in scoring.short()


def test_a_crashed_engine_worker_is_replaced(offline: OfflineEngine) -> None:
    import os
    import signal

    from domains.translation import engines

    offline.translate(["Warm the workers up.", "Both of them."], "en", "pt")
    worker = engines._WORKERS[0]
    victim = worker._proc
    assert victim is not None and victim.poll() is None
    os.kill(victim.pid, signal.SIGKILL)  # what a native crash looks like from here
    victim.wait(10)
    out = offline.translate(["The garden is green.", "The sky is blue."], "en", "pt")
    assert "jardim" in out[0] and "céu" in out[1]
    assert worker._proc is not victim and worker._proc is not None and worker._proc.poll() is None
