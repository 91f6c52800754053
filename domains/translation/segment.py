"""Cutting input into what an engine translates well (sentences), and keeping
Markdown/HTML markup out of the engine's way.

Long text is split into sentences; each keeps the whitespace that followed it, so the
translation is reassembled with the original paragraph breaks. Markdown documents are
read line by line: code blocks, tables' separator rows and blank lines pass through
untouched, heading/list/quote markers are kept, and inline code, links' targets, URLs
and HTML tags are swapped for placeholders the engine copies through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

# A sentence ends at . ! ? or … (plus closing quotes/brackets) followed by whitespace and
# an uppercase letter, digit, quote or bracket. Common abbreviations do not end one.
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "fig",
                  "sra", "srs", "dra", "pág", "cap", "art", "av", "exmo", "p.ex", "approx", "inc", "ltd", "co"}
_BOUNDARY = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)(?=[\"'“‘(\[¿¡]?[A-ZÀ-ÖØ-Þ0-9])")
MAX_SENTENCE_CHARS = 600  # longer runs without punctuation are cut at a comma or space


@dataclass(frozen=True)
class Piece:
    """A sentence to translate and the whitespace that followed it in the source."""

    text: str
    tail: str = ""


def split_sentences(text: str) -> list[Piece]:
    """Sentences of ``text`` (paragraph breaks kept as tails); empty text gives []."""
    pieces: list[Piece] = []
    for paragraph, gap in _paragraphs(text):
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            end = match.end(1)
            word = re.findall(r"[\w.]+$", paragraph[start:match.start(1)] + "")
            if word and word[-1].lower().rstrip(".") in _ABBREVIATIONS and match.group(1) == ".":
                continue
            pieces += _cut(paragraph[start:end], match.group(2))
            start = match.end()
        if paragraph[start:].strip():
            pieces += _cut(paragraph[start:].rstrip(), gap)
        elif pieces:
            pieces[-1] = Piece(pieces[-1].text, pieces[-1].tail + gap)
    return pieces


def _paragraphs(text: str) -> list[tuple[str, str]]:
    parts = re.split(r"(\n\s*\n|\n)", text.strip())
    out: list[tuple[str, str]] = []
    for i in range(0, len(parts), 2):
        gap = parts[i + 1] if i + 1 < len(parts) else ""
        if parts[i].strip():
            out.append((parts[i].strip(), gap))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + gap)
    return out


def _cut(sentence: str, tail: str) -> list[Piece]:
    """Very long runs without sentence punctuation are cut so no engine call is huge."""
    out: list[Piece] = []
    rest = sentence.strip()
    while len(rest) > MAX_SENTENCE_CHARS:
        window = rest[:MAX_SENTENCE_CHARS]
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut > MAX_SENTENCE_CHARS // 3 else window.rfind(" ")
        cut = cut if cut > 0 else MAX_SENTENCE_CHARS
        out.append(Piece(rest[:cut].strip(), " "))
        rest = rest[cut:].strip()
    out.append(Piece(rest, tail))
    return out


def join(pieces: list[Piece], translations: list[str]) -> str:
    return "".join(t + p.tail for p, t in zip(pieces, translations, strict=True)).strip()


# ---- markup -------------------------------------------------------------------------------------

_INLINE = re.compile(
    # inline code; not backticks used as apostrophes (son`s) or as quotation marks
    # (`My mother,` - a span that ends in punctuation is a quotation, not code)
    r"(?<![\w`])`[^`\n]*[^`\n.,;:!?'\"\s]`(?![\w`])"
    r"|(?<=\])\([^)\s]+\)"  # a link's target (its [text] is translated)
    r"|<[^>\n]{1,200}>"  # HTML tags
    r"|https?://\S+[\w/]"  # bare URLs
    r"|\*\*|__|~~"  # emphasis markers
)
_LINE_PREFIX = re.compile(r"^(\s*(?:#{1,6}\s+|>\s*|[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+)*)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$")


@dataclass
class Masked:
    """Text with markup replaced by placeholders ``XQ1``, ``XQ2``... (codes the engines
    copy through unchanged), set off by spaces so the words next to them still
    translate, and the originals to put back with the spacing they had."""

    text: str
    # placeholder -> (original, space before it in the source, space after it)
    originals: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)

    def restore(self, translated: str) -> tuple[str, list[str]]:
        """The translation with markup back; also the originals the engine dropped."""
        lost = []
        for mark, (original, before, after) in self.originals.items():
            pattern = re.compile(rf"\s*\b{mark}\b\s*")
            if not pattern.search(translated):
                lost.append(original)
                continue
            translated = pattern.sub(_spaced(original, before, after), translated, count=1)
        return translated.strip(), lost


def _spaced(original: str, before: bool, after: bool) -> Callable[[re.Match[str]], str]:
    def put_back(match: re.Match[str]) -> str:
        lead = " " if before and match.start() > 0 else ""
        trail = " " if after and match.end() < len(match.string) else ""
        return lead + original + trail

    return put_back


def placeholder(index: int) -> str:
    return f"XQ{index}"


def mask(text: str, extra: list[tuple[str, str]] | None = None) -> Masked:
    """Mask inline markup, and ``extra`` (pattern, replacement) spans such as glossary
    terms, whose placeholder is restored as ``replacement``."""
    originals: dict[str, tuple[str, bool, bool]] = {}

    def stash(match: re.Match[str], replacement: str) -> str:
        mark = placeholder(len(originals) + 1)
        whole = match.string
        before = match.start() == 0 or whole[match.start() - 1].isspace()
        after = match.end() == len(whole) or whole[match.end()].isspace()
        originals[mark] = (replacement, before, after)
        return f" {mark} "

    masked = _INLINE.sub(lambda m: stash(m, m.group(0)), text)
    for pattern, replacement in extra or []:
        masked = re.sub(pattern, partial(_swap, stash, replacement), masked, flags=re.IGNORECASE)
    return Masked(re.sub(r"\s{2,}", " ", masked).strip(), originals)


def _swap(stash: Callable[[re.Match[str], str], str], replacement: str, match: re.Match[str]) -> str:
    return stash(match, replacement)


@dataclass(frozen=True)
class Line:
    """One line of a document: ``prefix`` and ``suffix`` are kept, ``body`` is translated
    (``translate`` is False for code, tables' rules and blank lines)."""

    prefix: str
    body: str
    translate: bool


def document_lines(text: str, markdown: bool) -> list[Line]:
    lines: list[Line] = []
    in_code = False
    for raw in text.splitlines():
        if markdown and _FENCE.match(raw):
            in_code = not in_code
            lines.append(Line(raw, "", False))
            continue
        if in_code or not raw.strip() or (markdown and _TABLE_RULE.match(raw)):
            lines.append(Line(raw, "", False))
            continue
        prefix = _LINE_PREFIX.match(raw).group(1) if markdown else raw[: len(raw) - len(raw.lstrip())]  # type: ignore[union-attr]
        lines.append(Line(prefix, raw[len(prefix):], True))
    return lines


def looks_like_markup(text: str) -> bool:
    return bool(_INLINE.search(text)) or any(_LINE_PREFIX.match(line).group(1).strip()  # type: ignore[union-attr]
                                             for line in text.splitlines())
