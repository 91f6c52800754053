"""Resumable translation output: each finished chunk of sentences is appended as one JSON
line, so a long document or column interrupted by a crash or Ctrl-C continues where it
stopped instead of starting over."""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_partial(path: Path | None) -> dict[str, str]:
    """Source sentence -> translation for everything a previous run finished."""
    done: dict[str, str] = {}
    if path is None or not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash; its sentences are simply redone
        done.update(record)
    return done


def append_partial(path: Path | None, chunk: dict[str, str]) -> None:
    """Record a finished chunk, flushed to disk so a crash right after it loses nothing."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(chunk, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
