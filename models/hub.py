"""One way to resolve where pretrained weights come from: a local folder (offline
assets, checkpoints, tiny test models) or a Hugging Face hub id with a pinned
revision for online users. ``HF_HUB_OFFLINE=1`` turns hub access off cleanly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.errors import DomainLensError


class ModelSourceError(DomainLensError, RuntimeError):
    """The weights cannot be found locally and the hub is not an option."""


@dataclass(frozen=True)
class Source:
    """Arguments for ``from_pretrained``: a path or a hub id plus revision."""

    name_or_path: str
    revision: str | None
    local: bool


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def resolve(source: str | Path, revision: str | None = None) -> Source:
    """Resolve ``source``: an existing folder wins; otherwise it is a hub id."""
    path = Path(source).expanduser()
    if path.is_dir():
        return Source(str(path), None, local=True)
    text = str(source)
    looks_local = text.startswith((".", "/", "~")) or os.sep in text.strip("/").replace("/", "", 1)
    if looks_local:
        raise ModelSourceError(f"model folder not found: {path}")
    if hub_offline():
        raise ModelSourceError(
            f"{text!r} is a Hugging Face hub id but HF_HUB_OFFLINE is set; "
            "download it on a connected machine or point to a local folder."
        )
    return Source(text, revision, local=False)
