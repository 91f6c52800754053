"""The translation predictor: sentences in, translations out, around any engine.

It segments long input into sentences, keeps markup and glossary terms out of the
engine's way, detects the input language, streams output (tokens for Hugging Face
and CTranslate2 models, sentences for the offline engine) and translates whole
documents with progress and a resumable partial output file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from domains.base import DataError
from domains.io import guess_text_column
from domains.translation.engines import Engine, HFEngine, Pair, check_pair
from domains.translation.glossary import Term, parse_glossary, term_report
from domains.translation.languages import Detection, detect, name
from domains.translation.partial import append_partial, read_partial
from domains.translation.segment import (
    MAX_SENTENCE_CHARS,
    Masked,
    Piece,
    document_lines,
    join,
    mask,
    split_sentences,
)
from models.checkpoints import BundleWriter, artifacts_root
from models.control import CancelToken, Progress, ProgressFn
from models.fastpath import PROBE_FILE, Scoring, write_probe

MAX_CHARS = 200_000  # one request; documents are read in full but translated sentence by sentence
DOCUMENT_CHUNK = 16  # sentences per progress update / partial-output flush
TRANSFORMERS, CTRANSLATE2 = "Transformers", "CTranslate2 (int8)"


@dataclass(frozen=True)
class Segment:
    """One source sentence and its translation (for the side-by-side view)."""

    source: str
    translation: str
    lost_markup: tuple[str, ...] = ()


@dataclass
class Translation:
    text: str
    segments: list[Segment]
    src: str
    tgt: str
    detection: Detection
    glossary: pl.DataFrame | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class TranslationPredictor:
    """A loaded translation model; ``predict`` turns a ``text`` column into translations."""

    engine: Engine
    model_key: str
    src: str
    tgt: str
    glossary: tuple[Term, ...] = ()
    auto_detect: bool = True  # route rows written in another offered source language to that pair
    source: str = ""  # weights the HF engine came from (for checkpoints)
    metadata: dict[str, Any] = field(default_factory=dict)
    probe: tuple[str, ...] = ()  # held-out sentences in ``probe_src`` that fast decoders are checked on
    probe_src: str = ""

    # ---- configuration ----------------------------------------------------------------------------

    def pairs(self) -> list[Pair]:
        return self.engine.pairs()

    def with_pair(self, src: str, tgt: str) -> TranslationPredictor:
        check_pair(self.engine, src, tgt)
        return replace(self, src=src, tgt=tgt)

    def with_glossary(self, terms: Sequence[Term]) -> TranslationPredictor:
        return replace(self, glossary=tuple(terms))

    def with_glossary_text(self, text: str) -> TranslationPredictor:
        return self.with_glossary(parse_glossary(text))

    def glossary_report(self, sources: Sequence[str], translations: Sequence[str]) -> pl.DataFrame | None:
        return term_report(list(self.glossary), list(sources), list(translations)) if self.glossary else None

    def language_name(self, code: str) -> str:
        return name(code)

    @property
    def backend(self) -> str:
        return self.engine.kind

    def decoders(self) -> list[str]:
        """Transformers models (from a local folder) can also be decoded by CTranslate2."""
        if isinstance(self.engine, HFEngine) and self.engine.folder is not None:
            return [TRANSFORMERS, CTRANSLATE2]
        return [self.backend]

    def with_decoder(self, decoder: str) -> tuple[TranslationPredictor, Scoring | None]:
        if decoder not in self.decoders():
            raise DataError(f"unknown decoder '{decoder}'; choose one of: {', '.join(self.decoders())}")
        return self.on_ctranslate2() if decoder == CTRANSLATE2 else (self, None)

    def on_ctranslate2(self) -> tuple[TranslationPredictor, Scoring]:
        """This translator decoded by CTranslate2 int8 where that agrees with Transformers
        on this machine (checked on the checkpoint's probe sentences when they are in the
        chosen source language), else unchanged; with the verdict."""
        if not isinstance(self.engine, HFEngine):
            raise DataError("only Hugging Face models can be decoded by CTranslate2")
        probe = self.probe if self.src == self.probe_src else ()
        engine, scoring = self.engine.to_ctranslate2(self.src, self.tgt, probe)
        return replace(self, engine=engine), scoring

    # ---- the Predictor contract -----------------------------------------------------------------

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        """One row per input row: ``translation``, ``src``, ``tgt``, ``detected``,
        ``detected_confidence``, ``sentences``, ``ttft_ms`` (time to the first translated
        sentence of the row), ``latency_ms`` and ``note``. Rows may carry their own
        ``src``/``tgt``; with auto-detection on, a row written in the target language is
        translated the other way when the model offers that pair."""
        started = time.perf_counter()
        column = _text_column(batch)
        texts = ["" if t is None else str(t) for t in batch[column].to_list()]
        rows: list[dict[str, Any]] = []
        jobs: list[tuple[int, str, str, list[Piece], list[Masked]]] = []
        for i, text in enumerate(texts):
            route = self._route(text, batch, i)
            pieces = split_sentences(text[:MAX_CHARS]) if route.translatable else []
            rows.append({"translation": "" if pieces else None, "src": route.src, "tgt": route.tgt,
                         "detected": route.detection.language, "detected_confidence": route.detection.confidence,
                         "sentences": len(pieces), "ttft_ms": None, "latency_ms": None,
                         "note": route.note if pieces or route.note else "empty text: nothing to translate"})
            if pieces:
                jobs.append((i, route.src, route.tgt, pieces, [self._mask(p.text, route.src) for p in pieces]))
        # Per direction, the first sentence of every row goes to the engine first (one
        # parallel/batched call), then all the remaining sentences: ``ttft_ms`` is when a
        # row's first sentence was ready (what a streaming reader waits for).
        for src, tgt in {(j[1], j[2]) for j in jobs}:
            group = [j for j in jobs if j[1] == src and j[2] == tgt]
            firsts = self.engine.translate([j[4][0].text for j in group], src, tgt)
            first_ms = (time.perf_counter() - started) * 1000
            rests = self.engine.translate([m.text for j in group for m in j[4][1:]], src, tgt)
            done_ms = (time.perf_counter() - started) * 1000
            cursor = 0
            for (i, _, _, pieces, masks), first in zip(group, firsts, strict=True):
                outputs = [first, *rests[cursor : cursor + len(masks) - 1]]
                cursor += len(masks) - 1
                translated = [m.restore(o)[0] for m, o in zip(masks, outputs, strict=True)]
                rows[i]["translation"] = join(pieces, translated)
                rows[i]["ttft_ms"] = first_ms
                rows[i]["latency_ms"] = done_ms if len(masks) > 1 else first_ms
        return pl.DataFrame(rows, schema=OUTPUT_SCHEMA)

    def to_bundle(self) -> BundleWriter:
        if not isinstance(self.engine, HFEngine):
            raise DataError("the offline engine is bundled with DomainLens; there is nothing to save")
        engine = self.engine

        def save(folder: Path) -> None:
            engine.model.save_pretrained(folder / "hf", safe_serialization=True)
            engine.tokenizer.save_pretrained(folder / "hf")

        return BundleWriter(metadata={"kind": "seq2seq", "pairs": [list(p) for p in engine.pairs()],
                                      "src": self.src, "tgt": self.tgt, "source": self.source,
                                      "target_token": engine.target_token, "probe_src": self.probe_src,
                                      **self.metadata},
                            extra={"hf": save, PROBE_FILE: partial(write_probe, self.probe)})

    # ---- interactive use ----------------------------------------------------------------------------

    def detect(self, text: str) -> Detection:
        return detect(text)

    def translate_text(self, text: str, src: str | None = None, tgt: str | None = None) -> Translation:
        """One text (any length): sentences, the side-by-side segments and the glossary report."""
        started = time.perf_counter()
        src, tgt = src or self.src, tgt or self.tgt
        check_pair(self.engine, src, tgt)
        notes = _length_notes(text)
        pieces = split_sentences(text[:MAX_CHARS])
        masks = [self._mask(p.text, src) for p in pieces]
        outputs = self.engine.translate([m.text for m in masks], src, tgt) if pieces else []
        restored = [m.restore(o) for m, o in zip(masks, outputs, strict=True)]
        segments = [Segment(p.text, r, tuple(lost)) for p, (r, lost) in zip(pieces, restored, strict=True)]
        translated = join(pieces, [s.translation for s in segments])
        report = term_report(list(self.glossary), [text], [translated]) if self.glossary else None
        return Translation(translated, segments, src, tgt, detect(text), report, time.perf_counter() - started,
                           notes)

    def sentence_count(self, text: str) -> int:
        """How many sentences ``stream_text`` translates one after the other (a progress total)."""
        return len(split_sentences(text[:MAX_CHARS]))

    def stream_text(self, text: str, *, src: str | None = None, tgt: str | None = None,
                    stop: CancelToken | None = None,
                    on_sentence: Callable[[str, str], None] | None = None) -> Iterator[str]:
        """The translation as it is produced: token pieces (Hugging Face, CTranslate2)
        or whole sentences (offline engine). Sentences with masked markup or glossary
        terms are shown once complete, with the markup back in place. ``on_sentence``
        receives each finished (source sentence, translation) for the side-by-side view."""
        src, tgt = src or self.src, tgt or self.tgt
        check_pair(self.engine, src, tgt)
        flag = stop or CancelToken()
        pieces = split_sentences(text[:MAX_CHARS])
        try:
            for piece in pieces:
                if flag.cancelled:
                    return
                masked = self._mask(piece.text, src)
                if masked.originals:
                    translated = masked.restore("".join(self.engine.stream(masked.text, src, tgt, flag)))[0]
                    yield translated
                else:
                    parts = []
                    for part in self.engine.stream(masked.text, src, tgt, flag):
                        parts.append(part)
                        yield part
                    translated = "".join(parts).strip()
                if flag.cancelled:
                    return
                if on_sentence is not None:
                    on_sentence(piece.text, translated)
                if piece.tail:
                    yield piece.tail
        finally:
            flag.cancel()

    def alternatives(self, text: str, n: int = 3, src: str | None = None, tgt: str | None = None) -> list[str]:
        """Up to ``n`` candidate translations of one sentence (beam search n-best)."""
        src, tgt = src or self.src, tgt or self.tgt
        check_pair(self.engine, src, tgt)
        masked = self._mask(text.strip(), src)
        return list(dict.fromkeys(masked.restore(o)[0] for o in self.engine.alternatives(masked.text, src, tgt, n)))

    def translate_sentences(self, sentences: Sequence[str], src: str | None = None,
                            tgt: str | None = None) -> list[str]:
        """Each item translated as one unit (evaluation: one line in, one line out); only
        lines longer than ``MAX_SENTENCE_CHARS`` are split into sentences first. (Splitting
        every line of a chunk that held one long verse cost 0.8 chrF on the Bible en->pt.)"""
        src, tgt = src or self.src, tgt or self.tgt
        check_pair(self.engine, src, tgt)
        long = {i for i, s in enumerate(sentences) if len(s) > MAX_SENTENCE_CHARS}
        whole = self._translate_lines([s for i, s in enumerate(sentences) if i not in long], src, tgt)
        parts = iter(whole)
        return [self.translate_text(s, src, tgt).text if i in long else next(parts) for i, s in enumerate(sentences)]

    def _translate_lines(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        masks = [self._mask(s.strip(), src) for s in sentences]
        todo = [i for i, s in enumerate(sentences) if s.strip()]
        outputs = self.engine.translate([masks[i].text for i in todo], src, tgt)
        result = [""] * len(sentences)
        for i, out in zip(todo, outputs, strict=True):
            result[i] = masks[i].restore(out)[0]
        return result

    # ---- documents ----------------------------------------------------------------------------------

    def translate_document(self, text: str, *, markdown: bool, src: str | None = None, tgt: str | None = None,
                           progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                           resume: Path | None = None) -> str:
        """Translate a TXT/Markdown document line by line, markup kept. Sentences are
        translated in chunks; each finished chunk is appended to ``resume`` (JSON lines),
        so an interrupted run picks up where it stopped."""
        src, tgt = src or self.src, tgt or self.tgt
        check_pair(self.engine, src, tgt)
        lines = document_lines(text, markdown)
        pieces_per_line = [split_sentences(line.body) if line.translate else [] for line in lines]
        done = self._translate_resumable([p.text for pieces in pieces_per_line for p in pieces], src, tgt,
                                         progress, cancel, resume)
        out_lines = []
        for line, pieces in zip(lines, pieces_per_line, strict=True):
            body = join(pieces, [done[p.text] for p in pieces]) if pieces else line.body
            out_lines.append(line.prefix + body)
        return "\n".join(out_lines) + ("\n" if text.endswith("\n") else "")

    def translate_column(self, texts: Sequence[str | None], *, src: str | None = None, tgt: str | None = None,
                         progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                         resume: Path | None = None) -> list[str | None]:
        """Every cell of a table column (sentence by sentence, resumable like documents);
        empty cells stay empty (None)."""
        src, tgt = src or self.src, tgt or self.tgt
        check_pair(self.engine, src, tgt)
        cells = [split_sentences(t[:MAX_CHARS]) if t and t.strip() else [] for t in texts]
        done = self._translate_resumable([p.text for pieces in cells for p in pieces], src, tgt, progress, cancel,
                                         resume)
        return [join(pieces, [done[p.text] for p in pieces]) if pieces else None for pieces in cells]

    def _translate_resumable(self, sentences: list[str], src: str, tgt: str,
                             progress: ProgressFn | None, cancel: CancelToken | None,
                             resume: Path | None) -> dict[str, str]:
        """Each distinct sentence once, in chunks; every finished chunk is appended to
        ``resume`` (JSON lines) so an interrupted run continues where it stopped."""
        unique = list(dict.fromkeys(sentences))
        done = read_partial(resume)
        todo = [s for s in unique if s not in done]
        total = len(unique)
        if progress:
            progress(Progress(total - len(todo), total))
        for start in range(0, len(todo), DOCUMENT_CHUNK):
            if cancel is not None:
                cancel.raise_if_cancelled()
            chunk = todo[start : start + DOCUMENT_CHUNK]
            translated = dict(zip(chunk, self._translate_lines(chunk, src, tgt), strict=True))
            done.update(translated)
            append_partial(resume, translated)
            if progress:
                progress(Progress(total - len(todo) + start + len(chunk), total))
        return done

    def partial_path(self, text: str, src: str | None = None, tgt: str | None = None) -> Path:
        """Where a document's partial translation is kept (per document, model and pair)."""
        terms = [(t.source, t.target) for t in self.glossary]
        key = f"{self.model_key}|{self.source}|{src or self.src}|{tgt or self.tgt}|{terms}|{text}"
        digest = hashlib.sha256(key.encode("utf-8", errors="replace")).hexdigest()[:20]
        return artifacts_root() / "translation-partial" / f"{digest}.jsonl"

    # ---- helpers ------------------------------------------------------------------------------------

    def _mask(self, text: str, src: str) -> Masked:
        return mask(text, [(t.pattern, t.target) for t in self.glossary])

    def _route(self, text: str, batch: pl.DataFrame, i: int) -> _Route:
        """The row's pair: its own ``src``/``tgt`` columns, else the predictor's. With
        auto-detection, a row written in another language the model translates from is
        routed to that language's pair (a Portuguese message with en->pt selected goes
        pt->en); a row that still looks like another language gets a note."""
        explicit = _cell(batch, "src", i)
        src, tgt = explicit or self.src, _cell(batch, "tgt", i) or self.tgt
        if not text.strip():
            return _Route(src, tgt, Detection(None, 0.0), False, "empty text: nothing to translate")
        detection = detect(text) if self.auto_detect else Detection(None, 0.0)
        found = detection.language
        if explicit is None and found and found != src and detection.confidence >= 0.5:
            targets = [b for a, b in self.engine.pairs() if a == found]
            if targets:
                src, tgt = found, tgt if tgt in targets else targets[0]
        if (src, tgt) not in self.engine.pairs():
            return _Route(src, tgt, detection, False, f"unsupported pair {name(src)} -> {name(tgt)}")
        note = None
        if found and found != src and detection.confidence >= 0.8:
            note = f"this looks like {name(found)} ({detection.confidence:.0%}), not {name(src)}"
        return _Route(src, tgt, detection, True, note)


@dataclass(frozen=True)
class _Route:
    src: str
    tgt: str
    detection: Detection
    translatable: bool
    note: str | None


OUTPUT_SCHEMA = {"translation": pl.String, "src": pl.String, "tgt": pl.String, "detected": pl.String,
                 "detected_confidence": pl.Float64, "sentences": pl.Int64, "ttft_ms": pl.Float64,
                 "latency_ms": pl.Float64, "note": pl.String}


def _text_column(batch: pl.DataFrame) -> str:
    for column in ("text", "source", "src_text", "message"):
        if column in batch.columns:
            return column
    return guess_text_column(batch.drop("src", "tgt", "reference", strict=False))


def _cell(batch: pl.DataFrame, column: str, i: int) -> str | None:
    if column not in batch.columns:
        return None
    value = batch[column][i]
    return str(value) if value else None


def _length_notes(text: str) -> list[str]:
    if len(text) > MAX_CHARS:
        return [f"the text has {len(text):,} characters; only the first {MAX_CHARS:,} were translated "
                "(translate it as a document to do all of it)"]
    return []
