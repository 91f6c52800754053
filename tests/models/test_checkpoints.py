from pathlib import Path

import pytest
import torch

from models.checkpoints import (
    BundleWriter,
    CheckpointError,
    list_bundles,
    load_bundle,
    load_state_strict,
    save_bundle,
)


def _writer(value: float = 1.0, **extra) -> BundleWriter:
    return BundleWriter(tensors={"w": torch.full((3, 2), value)}, metadata={"metrics": {"auc": 0.8}}, **extra)


def test_roundtrip_and_listing(tmp_path: Path) -> None:
    bundle = save_bundle("credit_risk", "gbm", _writer(2.0), root=tmp_path)
    loaded = load_bundle(bundle.path)
    assert loaded.domain == "credit_risk" and loaded.model == "gbm"
    assert loaded.metrics == {"auc": 0.8}
    assert torch.equal(loaded.tensors()["w"], torch.full((3, 2), 2.0))
    assert "torch" in loaded.metadata["libraries"]
    assert [b.path for b in list_bundles("credit_risk", root=tmp_path)] == [bundle.path]
    assert list_bundles("other", root=tmp_path) == []
    assert oct(bundle.path.stat().st_mode & 0o777) == "0o755"


def test_crash_mid_write_leaves_nothing_and_keeps_previous(tmp_path: Path) -> None:
    first = save_bundle("credit_risk", "gbm", _writer(1.0), out_dir=tmp_path / "ckpt")

    def explode(folder: Path) -> None:
        (folder / "partial.bin").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_bundle("credit_risk", "gbm", _writer(9.0, extra={"boom": explode}), out_dir=tmp_path / "ckpt")
    survivor = load_bundle(first.path)
    assert torch.equal(survivor.tensors()["w"], torch.full((3, 2), 1.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp folders left behind
    with pytest.raises(OSError):
        save_bundle("credit_risk", "gbm", _writer(extra={"boom": explode}), root=tmp_path / "root")
    assert list_bundles(root=tmp_path / "root") == []


def test_hidden_temp_folders_are_invisible(tmp_path: Path) -> None:
    save_bundle("d", "m", _writer(), root=tmp_path)
    stray = tmp_path / "d" / "m" / ".tmp-x"
    stray.mkdir()
    (stray / "metadata.json").write_text('{"domain": "d", "model": "m"}')
    assert len(list_bundles(root=tmp_path)) == 1


def test_strict_load_reports_mismatch() -> None:
    net = torch.nn.Linear(3, 2)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_state_strict(net, {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="missing"):
        load_state_strict(net, {"weight": torch.zeros(2, 3)})
    load_state_strict(net, {"weight": torch.ones(2, 3), "bias": torch.zeros(2)})
    assert torch.equal(net.weight, torch.ones(2, 3))


def test_load_bundle_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a DomainLens checkpoint"):
        load_bundle(tmp_path / "empty")
