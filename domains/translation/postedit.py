"""Post-editing of the offline engine's raw output.

The bundled engine ships a post-processor that fixes English words leaking into its
Portuguese (and Portuguese into its English). It also rewrites words that are
perfectly good in the target language: Portuguese "no" (em + o, "in the") becomes
"não", and English "do" becomes "of". Its punctuation pass glues an opening quote to
the colon before it (``disse: "Vem`` -> ``disse:"Vem``) and turns the first ``"`` of
a sentence with an odd number of quotes (a quotation running over several verses or
sentences) into ``'``.

``post_edit`` keeps the useful rules and shields the rest: target-language words
that collide with the leak lists, and quotation marks, are swapped for private-use
placeholders before the engine's post-processor runs and restored afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Words of the target language that the engine's leak lists mistake for the other one.
PROTECTED: dict[str, tuple[str, ...]] = {
    "en-pt": ("no", "for"),  # "no jardim" = "in the garden"; "quando for" = "when it is"
    "pt-en": ("do",),  # "what do you want"
}
_PLACEHOLDER_BASE = 0xE000  # Unicode private-use area: never in real text, never a word character
_QUOTE = chr(0xE0FF)
_CLOSING_QUOTE_GAP = re.compile(r'([,.;:!?]) "(?=\s|$)')


def _placeholders(direction: str) -> dict[str, str]:
    words = PROTECTED.get(direction, ())
    forms = [form for word in words for form in (word, word.capitalize(), word.upper())]
    return {form: chr(_PLACEHOLDER_BASE + i) for i, form in enumerate(dict.fromkeys(forms))}


_PARENS = {"(": chr(0xE0FD), ")": chr(0xE0FE)}


def post_edit(raw: str, direction: str, source: str, engine_postprocess: Callable[..., str]) -> str:
    """``engine_postprocess`` applied to ``raw`` with protected words and quotes shielded."""
    table = _placeholders(direction)
    if direction == "en-pt" and not re.search(r"\bjuices?\b", source, re.IGNORECASE):
        # European "sumo" (juice) -> Brazilian "suco" is right only about juice; elsewhere
        # "sumo" is "supreme" ("sumo sacerdote", the high priest).
        table["sumo"] = chr(_PLACEHOLDER_BASE + 0xF0)
    masked = raw
    if source.count("(") != source.count(")"):
        # The engine's pass drops unmatched brackets; keep them when the source has them too
        # (a parenthesis opened in one sentence and closed in a later one).
        for bracket, mark in _PARENS.items():
            masked = masked.replace(bracket, mark)
    for form, mark in table.items():
        masked = re.sub(rf"(?<![\w'-]){re.escape(form)}(?![\w'-])", mark, masked)
    masked = masked.replace('"', _QUOTE)
    edited = engine_postprocess(masked, direction=direction, source_text=source)
    edited = edited.replace(_QUOTE, '"')
    for bracket, mark in _PARENS.items():
        edited = edited.replace(mark, bracket)
    # The punctuation pass puts a space after , . ; : ! ? when the next character is not a
    # quote; with quotes shielded it did so before closing quotes too. Take that space back.
    edited = _CLOSING_QUOTE_GAP.sub(r'\1"', edited)
    for form, mark in table.items():
        edited = edited.replace(mark, form)
    return edited
