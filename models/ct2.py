"""CTranslate2 conversion, shared by every model family that runs on it (translation
decoders, text-classification encoders): one converter call, written atomically, and a
cache so a saved model folder is converted once, not on every load.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from models.checkpoints import artifacts_root
from models.hub import ModelSourceError


@contextmanager
def keep_torch_threads() -> Iterator[None]:
    """Create CTranslate2 engines inside this: building one sets the calling thread's
    OpenMP thread count to its ``intra_threads``, which PyTorch shares, so a one-thread
    engine left every later PyTorch op in that thread on one core (seen as float32
    scoring and training slowing down after the first int8 scoring)."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def convert_to_ctranslate2(hf_folder: Path, out_folder: Path, quantization: str = "int8") -> Path:
    """Convert a saved Hugging Face model for CTranslate2 (atomic: the folder appears only
    once complete)."""
    import ctranslate2

    out_folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ct2-", dir=out_folder.parent))
    try:
        ctranslate2.converters.TransformersConverter(str(hf_folder)).convert(str(tmp / "model"),
                                                                             quantization=quantization, force=True)
        (tmp / "model").rename(out_folder)
    except Exception as exc:
        raise ModelSourceError(f"CTranslate2 cannot convert {hf_folder}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_folder


def cached_conversion(hf_folder: Path, quantization: str = "int8") -> Path:
    """The CTranslate2 copy of a saved model folder, converted on first use. Keyed by the
    folder's path, its weights' modification time and the quantization, so a model saved
    again at the same path is converted again."""
    weights = sorted(hf_folder.glob("*.safetensors")) + sorted(hf_folder.glob("*.bin"))
    stamp = ",".join(f"{w.name}:{w.stat().st_mtime_ns}" for w in weights)
    key = f"{hf_folder.resolve()}|{stamp}|{quantization}"
    target = artifacts_root() / "ctranslate2-cache" / hashlib.sha256(key.encode()).hexdigest()[:16]
    if not (target / "model.bin").is_file():
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)  # an incomplete copy left by a crash
        convert_to_ctranslate2(hf_folder, target, quantization)
    return target
