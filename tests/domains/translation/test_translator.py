"""The translation predictor: routing, bad input, documents (markup, progress,
resume), glossaries, and the post-edit fix measured on the demo corpus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
import torch

from domains import registry
from domains.base import DataError, DomainData
from domains.translation.engines import OfflineEngine
from domains.translation.glossary import parse_glossary
from domains.translation.translator import TranslationPredictor
from models.checkpoints import list_bundles, load_bundle
from models.control import CancelledError, CancelToken, Progress


@pytest.fixture(scope="module")
def translator() -> TranslationPredictor:
    return TranslationPredictor(OfflineEngine(), "offline", "en", "pt")


class CountingEngine:
    """The offline engine, counting the sentences it is asked to translate."""

    kind = "offline"

    def __init__(self, inner: OfflineEngine) -> None:
        self.inner, self.calls = inner, 0

    def pairs(self) -> list[tuple[str, str]]:
        return self.inner.pairs()

    def translate(self, sentences: Sequence[str], src: str, tgt: str) -> list[str]:
        self.calls += len(sentences)
        return self.inner.translate(sentences, src, tgt)


def test_predict_routes_each_message_by_its_language(translator: TranslationPredictor) -> None:
    batch = pl.DataFrame({"text": ["The garden is beautiful today.", "Eu estou no jardim com a minha mãe.", "",
                                   "   ", "Bonjour mes amis, comment allez-vous aujourd'hui ?"]})
    out = translator.predict(batch)
    assert out.height == 5
    first, second, empty, blank, french = out.iter_rows(named=True)
    assert (first["src"], first["tgt"]) == ("en", "pt") and "jardim" in first["translation"]
    assert (second["src"], second["tgt"]) == ("pt", "en") and "garden" in second["translation"]
    assert second["detected"] == "pt" and second["detected_confidence"] > 0.8
    for row in (empty, blank):
        assert row["translation"] is None and "empty" in row["note"]
    assert "French" in french["note"]  # detected and said, not silently mistranslated
    assert first["ttft_ms"] <= first["latency_ms"]


def test_unsupported_pair_is_a_note_per_row_and_an_error_when_chosen(translator: TranslationPredictor) -> None:
    out = translator.predict(pl.DataFrame({"text": ["hello"], "src": ["en"], "tgt": ["fr"]}))
    assert out["translation"][0] is None and "English -> French" in out["note"][0]
    with pytest.raises(DataError, match="offers: English->Portuguese, Portuguese->English"):
        translator.with_pair("en", "de")


def test_markup_survives_translation(translator: TranslationPredictor) -> None:
    result = translator.translate_text("Open the `config.yaml` file and read the **manual** at "
                                       "https://example.com/docs before <b>you</b> start.")
    for kept in ("`config.yaml`", "**", "https://example.com/docs", "<b>", "</b>"):
        assert kept in result.text
    assert all(not s.lost_markup for s in result.segments)


def test_glossary_terms_are_enforced_and_reported(translator: TranslationPredictor) -> None:
    glossed = translator.with_glossary(parse_glossary("DomainLens\ndashboard => painel de controle"))
    result = glossed.translate_text("DomainLens ships a dashboard. Open the dashboard to start.")
    assert result.text.count("painel de controle") == 2 and "DomainLens" in result.text
    assert result.glossary is not None and result.glossary["enforced"].all()


def test_ten_thousand_word_document_is_segmented_with_progress(translator: TranslationPredictor) -> None:
    sentence = "The farmers brought their harvest to the market in the old town square."
    paragraphs = [" ".join(f"{sentence[:-1]} number {i}." for i in range(p * 10, p * 10 + 10)) for p in range(75)]
    text = "\n\n".join(paragraphs)
    assert len(text.split()) >= 10_000
    seen: list[tuple[int, int]] = []
    out = translator.translate_document(text, markdown=False, progress=lambda p: seen.append((p.step, p.total)))
    assert seen[-1][0] == seen[-1][1] == 750 and len(seen) > 10  # steady progress, nothing skipped
    assert out.count("\n\n") == 74 and "mercado" in out  # paragraphs kept, every sentence translated


def test_document_translation_resumes_after_an_interruption(tmp_path: Path) -> None:
    engine = CountingEngine(OfflineEngine())
    translator = TranslationPredictor(engine, "offline", "en", "pt")  # type: ignore[arg-type]
    text = "\n".join(f"Line {i} says that the river is very wide here." for i in range(50))
    resume = tmp_path / "partial.jsonl"
    cancel = CancelToken()

    def stop_after_first_chunk(progress: Progress) -> None:
        if progress.step >= 16:
            cancel.cancel()

    with pytest.raises(CancelledError):
        translator.translate_document(text, markdown=False, progress=stop_after_first_chunk, cancel=cancel,
                                      resume=resume)
    first_run = engine.calls
    assert 16 <= first_run < 50 and resume.is_file()
    out = translator.translate_document(text, markdown=False, resume=resume)
    assert engine.calls - first_run == 50 - first_run  # only what was missing
    assert len(out.splitlines()) == 50 and "rio" in out


def test_markdown_document_keeps_its_layout(translator: TranslationPredictor) -> None:
    doc = "# Getting started\n\nInstall the package first.\n\n```bash\nmake run\n```\n\n- Open the `app`.\n"
    out = translator.translate_document(doc, markdown=True)
    lines = out.splitlines()
    assert lines[0].startswith("# ") and "```bash" in lines and "make run" in lines
    assert lines[-1].startswith("- ") and "`app`" in lines[-1] and out.endswith("\n")


def test_stream_text_yields_sentences_in_order(translator: TranslationPredictor) -> None:
    pieces = [p for p in translator.stream_text("The sun is shining. The birds are singing.") if p.strip()]
    assert len(pieces) == 2 and "sol" in pieces[0].lower()


@pytest.mark.slow
def test_post_edit_fix_raises_chrf_on_the_demo_corpus(bible_en_pt: DomainData) -> None:
    """DomainLens's shielded post-edit vs the engine's own post-processor, both directions,
    on 200 held-out verses each: the fix must not lose chrF anywhere and must gain overall."""
    import sacrebleu

    from domains.translation import data as mt_data

    engine = OfflineEngine()
    gains = []
    for src, tgt in (("en", "pt"), ("pt", "en")):
        rows = mt_data.bible(src, tgt).frame.filter(pl.col("split") == "test").head(200)
        sources, refs = rows["source"].to_list(), [rows["reference"].to_list()]
        raw = engine.raw_many(sources, src, tgt)
        ours = [engine.post_edited(r, s, src, tgt) for r, s in zip(raw, sources, strict=True)]
        theirs = [engine.engine_postprocessed(r, s, src, tgt) for r, s in zip(raw, sources, strict=True)]
        assert ours[:20] == engine.translate(sources[:20], src, tgt)  # what users get is what is measured
        gain = sacrebleu.corpus_chrf(ours, refs).score - sacrebleu.corpus_chrf(theirs, refs).score
        assert gain >= 0, f"{src}->{tgt}: chrF {gain:+.2f}"
        gains.append(gain)
    assert sum(gains) > 0.05


def test_marian_checkpoint_round_trip(tiny_marian_checkpoint: Path) -> None:
    domain = registry.get("translation")
    bundle = load_bundle(tiny_marian_checkpoint)
    assert bundle.metadata["pairs"] == [["en", "pt"]] and "val_chrf" in bundle.metrics
    assert (tiny_marian_checkpoint / "hf" / "model.safetensors").is_file()
    predictor = domain.load(bundle, torch.device("cpu"))
    out = predictor.predict(pl.DataFrame({"text": ["And God said, Let there be light."]}))
    assert out["translation"][0] and out["note"][0] is None
    sentences: list[tuple[str, str]] = []
    pieces = list(predictor.stream_text("And God said, Let there be light. And there was light.",  # type: ignore[attr-defined]
                                        on_sentence=lambda s, t: sentences.append((s, t))))
    assert len([p for p in pieces if p.strip()]) > 4  # token streaming through the HF streamer
    assert [s for s, _ in sentences] == ["And God said, Let there be light.", "And there was light."]
    # Held-out sentences travel with the checkpoint: CTranslate2 is checked on them on each machine.
    assert predictor.probe_src == "en" and 0 < len(predictor.probe) <= 16  # type: ignore[attr-defined]
    fast, scoring = predictor.on_ctranslate2()  # type: ignore[attr-defined]
    assert scoring.checks[0].probes == len(predictor.probe) and fast.backend == (  # type: ignore[attr-defined]
        "ctranslate2" if scoring.fast else "transformers")


def test_cancelled_training_writes_nothing(tmp_path: Path, pairs_tsv: Path) -> None:
    from domains.base import TrainSettings
    from domains.training import train_and_save

    domain = registry.get("translation")
    data = domain.load_data(pairs_tsv)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        train_and_save(domain, domain.spec("marian_scratch"), data,
                       TrainSettings(epochs=1, options={"size": "tiny"}), device=torch.device("cpu"),
                       progress=lambda p: None, cancel=cancel, root=tmp_path)
    assert list_bundles("translation", root=tmp_path) == []


def test_untrained_scratch_model_says_how_to_train_it() -> None:
    domain = registry.get("translation")
    with pytest.raises(DataError, match="domainlens train translation --model marian_scratch"):
        domain.load(domain.spec("marian_scratch"), torch.device("cpu"))


def test_table_column_translates_each_distinct_sentence_once(tmp_path: Path) -> None:
    engine = CountingEngine(OfflineEngine())
    translator = TranslationPredictor(engine, "offline", "en", "pt")  # type: ignore[arg-type]
    cells = ["Good morning. See you soon.", None, "  ", "Good morning.", "See you soon."]
    out = translator.translate_column(cells, resume=tmp_path / "column.jsonl")
    assert engine.calls == 2  # two distinct sentences, however often they appear
    assert out[1] is None and out[2] is None and out[3] and out[4]
    assert out[0] == f"{out[3]} {out[4]}"
    again = translator.translate_column(cells, resume=tmp_path / "column.jsonl")
    assert again == out and engine.calls == 2  # everything came from the partial file
