"""Scoring translations against references with sacrebleu: corpus BLEU and chrF,
per-sentence chrF, length ratio, and the worst sentences."""

from __future__ import annotations

import time

import polars as pl

from domains.base import DataError, DomainData, Report
from domains.translation.languages import name
from domains.translation.translator import TranslationPredictor
from models.control import Progress, ProgressFn

CHUNK = 32


def _referenced(data: DomainData, split: str) -> pl.DataFrame:
    rows = data.split(split).filter(pl.col("reference").is_not_null() & (pl.col("reference") != ""))
    if rows.is_empty():
        raise DataError(f"{data.name} has no sentence pairs with a reference in the '{split}' split to score")
    return rows


def evaluation_rows(predictor: TranslationPredictor, data: DomainData, split: str) -> pl.DataFrame:
    """The sentence pairs of ``split`` as ``predict`` reads them: ``text`` with the data's own
    ``src``/``tgt`` on every row (no auto-detected rerouting), ``id`` and ``reference``."""
    rows = _referenced(data, split)
    src, tgt = data.info.get("src", predictor.src), data.info.get("tgt", predictor.tgt)
    return rows.select("id", pl.col("source").alias("text"), "reference",
                       pl.lit(src).alias("src"), pl.lit(tgt).alias("tgt"))


def translate_rows(predictor: TranslationPredictor, rows: pl.DataFrame) -> pl.DataFrame:
    """Each row of ``evaluation_rows`` translated as ``evaluate`` translates it: one line in,
    one line out (``predict`` would split a row into sentences)."""
    src, tgt = (rows["src"][0], rows["tgt"][0]) if rows.height else (predictor.src, predictor.tgt)
    return pl.DataFrame({"translation": predictor.translate_sentences(rows["text"].to_list(), src, tgt)},
                        schema={"translation": pl.String})


def evaluate_scored(rows: pl.DataFrame, predictions: pl.DataFrame, seconds: float) -> Report:
    """The report from the ``translation`` of each row of ``evaluation_rows``."""
    return score(rows["text"].to_list(), rows["reference"].to_list(), predictions["translation"].to_list(),
                 src=rows["src"][0], tgt=rows["tgt"][0], seconds=seconds, ids=rows["id"].to_list())


def evaluate(predictor: TranslationPredictor, data: DomainData, split: str,
             progress: ProgressFn | None = None) -> Report:
    rows = _referenced(data, split)
    src, tgt = data.info.get("src", predictor.src), data.info.get("tgt", predictor.tgt)
    sources, references = rows["source"].to_list(), rows["reference"].to_list()
    started = time.perf_counter()
    hypotheses: list[str] = []
    for start in range(0, len(sources), CHUNK):
        hypotheses += predictor.translate_sentences(sources[start : start + CHUNK], src, tgt)
        if progress:
            progress(Progress(len(hypotheses), len(sources)))
    seconds = time.perf_counter() - started
    return score(sources, references, hypotheses, src=src, tgt=tgt, seconds=seconds,
                 ids=rows["id"].to_list())


def score(sources: list[str], references: list[str], hypotheses: list[str], *, src: str, tgt: str,
          seconds: float = 0.0, ids: list[str] | None = None) -> Report:
    import sacrebleu

    bleu_metric, chrf_metric = sacrebleu.BLEU(), sacrebleu.CHRF()
    bleu = bleu_metric.corpus_score(hypotheses, [references])
    chrf = chrf_metric.corpus_score(hypotheses, [references])
    per_sentence = [chrf_metric.sentence_score(h, [r]).score for h, r in zip(hypotheses, references, strict=True)]
    hyp_len = sum(len(h.split()) for h in hypotheses)
    ref_len = sum(len(r.split()) for r in references)
    sentences = pl.DataFrame({
        "id": ids or [str(i + 1) for i in range(len(sources))], "source": sources, "reference": references,
        "translation": hypotheses, "chrf": per_sentence,
        "length_ratio": [len(h.split()) / max(len(r.split()), 1) for h, r in zip(hypotheses, references,
                                                                                  strict=True)],
    })
    metrics = {"bleu": float(bleu.score), "chrf": float(chrf.score), "sentences": float(len(sources)),
               "length_ratio": hyp_len / max(ref_len, 1), "sentences_per_s": len(sources) / seconds if seconds else 0.0}
    worst = sentences.sort("chrf").head(20)
    return Report(metrics, {"sentences": sentences, "worst": worst},
                  {"src": src, "tgt": tgt, "pair": f"{name(src)} -> {name(tgt)}",
                   "bleu_signature": str(bleu_metric.get_signature()),
                   "chrf_signature": str(chrf_metric.get_signature())},
                  headline=("bleu", "chrf", "length_ratio", "sentences", "sentences_per_s"),
                  tables={"worst": "Worst sentences (lowest chrF)"})
