"""Checkpoint bundles: ``<root>/<domain>/<model>/<version>/`` with ``model.safetensors``
(and optional extra files such as a booster text dump or an HF ``save_pretrained``
folder) plus ``metadata.json``.

Bundles are written into a hidden temp folder beside their final place and renamed
into place only when complete, so a crash or cancel never leaves a half-written
bundle visible, and an earlier version is never touched.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from models.errors import DomainLensError

WEIGHTS = "model.safetensors"
METADATA = "metadata.json"
FORMAT_VERSION = 1
_TRACKED_LIBRARIES = ("torch", "transformers", "scikit-learn", "lightgbm", "polars", "numpy")


class CheckpointError(DomainLensError, RuntimeError):
    """A bundle is missing, incomplete or does not match the model it is loaded into."""


@dataclass(frozen=True)
class Bundle:
    """A checkpoint bundle on disk; tensors are loaded lazily."""

    path: Path
    metadata: dict[str, Any]

    @property
    def domain(self) -> str:
        return str(self.metadata.get("domain", ""))

    @property
    def model(self) -> str:
        return str(self.metadata.get("model", ""))

    @property
    def version(self) -> str:
        return self.path.name

    @property
    def identity(self) -> str:
        """The bundle's name in per-machine caches: its folder and creation time (a bundle is
        never changed in place; one written again at the same path is created anew)."""
        return f"{self.path.resolve()}|{self.metadata.get('created', '')}"

    @property
    def metrics(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metadata.get("metrics", {}).items()}

    def tensors(self) -> dict[str, torch.Tensor]:
        weights = self.path / WEIGHTS
        if not weights.is_file():
            raise CheckpointError(f"{self.path} has no {WEIGHTS}")
        return load_file(str(weights))

    def file(self, name: str) -> Path:
        target = self.path / name
        if not target.exists():
            raise CheckpointError(f"{self.path} has no {name}")
        return target


@dataclass
class BundleWriter:
    """What goes into a bundle; ``extra`` writers receive the temp folder to fill."""

    tensors: Mapping[str, torch.Tensor] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Callable[[Path], None]] = field(default_factory=dict)


def artifacts_root() -> Path:
    """``$DOMAINLENS_HOME`` if set, else ``~/.domainlens/artifacts``."""
    env = os.environ.get("DOMAINLENS_HOME")
    root = Path(env).expanduser() if env else Path.home() / ".domainlens" / "artifacts"
    return root


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _TRACKED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def new_version() -> str:
    """Sortable, unique version names: UTC timestamp plus a short random suffix."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def save_bundle(
    domain: str,
    model: str,
    content: BundleWriter,
    *,
    root: Path | None = None,
    out_dir: Path | None = None,
) -> Bundle:
    """Write a bundle atomically and return it.

    ``out_dir`` names the final folder explicitly (CLI ``--out``); otherwise it is
    ``<root>/<domain>/<model>/<new version>``. An existing ``out_dir`` is replaced only
    after the new bundle is complete.
    """
    final = out_dir if out_dir is not None else (root or artifacts_root()) / domain / model / new_version()
    final = final.expanduser().resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        meta = {
            "format_version": FORMAT_VERSION,
            "domain": domain,
            "model": model,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "libraries": library_versions(),
            **dict(content.metadata),
        }
        if content.tensors:
            tensors = {k: v.detach().cpu().contiguous() for k, v in content.tensors.items()}
            save_file(tensors, str(tmp / WEIGHTS))
        for _name, write in content.extra.items():
            write(tmp)
        _write_json(tmp / METADATA, meta)
        _fsync_dir(tmp)
        _publish_permissions(tmp)
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Bundle(final, meta)


def load_bundle(path: str | Path) -> Bundle:
    """Open a bundle folder, validating that it is complete."""
    folder = Path(path).expanduser()
    meta_path = folder / METADATA
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {folder}")
    if not meta_path.is_file():
        raise CheckpointError(f"{folder} is not a DomainLens checkpoint (no {METADATA})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or "domain" not in meta or "model" not in meta:
        raise CheckpointError(f"{meta_path} lacks the 'domain' and 'model' fields")
    return Bundle(folder, meta)


_listings: dict[tuple[str, str | None], tuple[tuple[tuple[str, int], ...], list[Bundle]]] = {}
_listings_lock = threading.Lock()


def list_bundles(domain: str | None = None, *, root: Path | None = None) -> list[Bundle]:
    """All complete bundles under the root, newest first. Temp folders are invisible.

    Pages list checkpoints on every rerun: the parsed listing is kept per folder and reused
    while the folder's state (each ``metadata.json`` and its modification time) is unchanged,
    so a rerun costs a directory walk, not a JSON parse per checkpoint."""
    base = root or artifacts_root()
    if not base.is_dir():
        return []
    state = []
    for meta_path in base.glob(f"{domain or '*'}/*/*/{METADATA}"):
        if meta_path.parent.name.startswith("."):
            continue
        try:
            state.append((str(meta_path.parent), meta_path.stat().st_mtime_ns))
        except FileNotFoundError:  # removed while we looked
            continue
    key, current = (str(base), domain), tuple(sorted(state))
    with _listings_lock:
        kept = _listings.get(key)
    if kept is not None and kept[0] == current:
        return list(kept[1])
    found: list[Bundle] = []
    for folder, _ in current:
        try:
            found.append(load_bundle(Path(folder)))
        except CheckpointError:
            continue
    found.sort(key=lambda b: str(b.metadata.get("created", "")), reverse=True)
    with _listings_lock:
        _listings[key] = (current, found)
    return list(found)


def load_state_strict(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor]) -> None:
    """Load weights requiring identical keys and shapes, with a readable error."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in expected.keys() & tensors.keys() if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {missing[:5]}")
        if unexpected:
            details.append(f"unexpected {unexpected[:5]}")
        if wrong:
            details.append(
                "shape mismatch "
                + ", ".join(f"{k}: {tuple(tensors[k].shape)} vs {tuple(expected[k].shape)}" for k in wrong[:5])
            )
        raise CheckpointError("checkpoint does not match the model: " + "; ".join(details))
    module.load_state_dict(dict(tensors), strict=True)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a UTF-8 text file whole or not at all: a uniquely named temp file beside it,
    renamed over it, so readers (and concurrent writers) never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, payload: Mapping[str, Any]) -> Path:
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=_json_default))


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=_json_default)
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()  # numpy / torch scalars
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _fsync_dir(folder: Path) -> None:
    for item in folder.rglob("*"):
        if item.is_file():
            with item.open("rb") as handle:
                os.fsync(handle.fileno())


def _publish_permissions(folder: Path) -> None:
    """mkdtemp makes a private (0700) folder; a published bundle is readable like any file."""
    folder.chmod(0o755)
    for item in folder.rglob("*"):
        item.chmod(0o755 if item.is_dir() else 0o644)


def _replace_dir(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is swapped out, then removed."""
    if not final.exists():
        os.replace(tmp, final)
        return
    old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:6]}")
    os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)
