"""Freed tensor memory goes back to the OS (glibc keeps it in a fragmented heap otherwise)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from models.memory import MemoryReleaser

# Runs in a fresh interpreter: a test process's heap carries whatever earlier tests left in it.
FRAGMENT = """
import json, re, sys
from pathlib import Path
import torch
from models.memory import release_freed_memory

def resident():
    return int(re.search(r"VmRSS:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024

# What a length-bucketed training loop does: free a big block (glibc then keeps blocks up
# to that size on its heap instead of in mmap), then allocate blocks of changing sizes, each
# pinned in place by a small one kept after it, and free them.
base = resident()
big = torch.ones(8 * 2**20, dtype=torch.uint8)
del big
kept, freed = [], []
for i in range(300):
    freed.append(torch.ones((1 + i % 7) * 2**18, dtype=torch.uint8))  # 256 KB .. 1.75 MB, touched
    kept.append(torch.ones(64, dtype=torch.uint8))
del freed
before = resident()
released = release_freed_memory() if sys.argv[1] == "release" else False
print(json.dumps({"base": base, "before": before, "after": resident(), "released": released, "kept": len(kept)}))
"""


def _run(mode: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", FRAGMENT, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and needs glibc")
def test_release_returns_the_freed_heap_pages() -> None:
    kept = _run("keep")
    assert kept["before"] - kept["base"] > 150, kept  # the freed ~300 MB stays resident without a release
    released = _run("release")
    assert released["released"] and released["kept"] == 300
    assert released["before"] - released["after"] > 150, released


def test_the_releaser_runs_at_most_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr("models.memory.release_freed_memory", lambda: calls.append(1) or True)
    release = MemoryReleaser(interval_s=3600)
    for _ in range(100):
        release()
    assert calls == []
    release.interval_s = 0
    release()
    assert calls == [1]
