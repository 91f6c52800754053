"""Twenty browser sessions on one server at once (benchmarks/load_test.py): every session
gets its result, no page shows an exception, nobody sees another session's input, the
training survives a refresh. Slow: run with `make test-slow` (or -m slow)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_twenty_sessions_at_once(served: Any) -> None:
    from benchmarks.load_test import run, summary
    from benchmarks.server_memory import memory_mb

    bare = memory_mb(served.pid)
    with ThreadPoolExecutor(1) as pool:  # its own event loop: sync Playwright (e2e fixtures) runs one here
        outcomes = pool.submit(asyncio.run, run(served.url, 20)).result()
    result = summary(outcomes, memory_mb(served.pid), bare)
    print(result)
    assert result["failed"] == [], result["failed"]
    assert result["ok"] == 20 and result["crosstalk"] == 0 and result["exceptions_on_pages"] == 0
    assert set(result["per_domain"]) == {"Credit Risk", "Medical Imaging", "Recommendations", "Text Classification",
                                         "Translation"}
