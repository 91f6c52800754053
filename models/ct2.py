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
from typing import Any

import numpy as np
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


INT8 = "int8"
# Weights quantised to 7 bits (|w| <= 63) keep every pair sum of u8 x s8 products within 16
# bits (2 x 255 x 63 = 32,130), so no CPU saturates them: CPUs without an int8 dot product
# (VNNI/AMX) add pairs of products in saturating 16-bit integers, and full 8-bit weights
# overflow there. With 7 bits the int8 GEMMs are exact integer arithmetic everywhere, so a
# checkpoint scores the same on every machine. Measured on a fine-tuned MiniLM's 1,275 test
# reviews: 8-bit weights change 7 predictions against float32 with VNNI and 16 without it;
# 7-bit weights change the same 13 under MKL and oneDNN, with and without VNNI.
SAFE_INT8_BITS = 7
INT8_PATH = "CTranslate2 int8 (7-bit weights)"


def convert_to_ctranslate2(hf_folder: Path, out_folder: Path, quantization: str = INT8, *,
                           weight_bits: int = SAFE_INT8_BITS) -> Path:
    """Convert a saved Hugging Face model for CTranslate2 (atomic: the folder appears only
    once complete). int8 weights get ``weight_bits`` bits per row (``SAFE_INT8_BITS`` by
    default; 8 is the converter's own, CPU-dependent, choice)."""
    import ctranslate2

    if quantization != INT8:
        weight_bits = 8  # nothing is quantised to int8
    out_folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ct2-", dir=out_folder.parent))
    try:
        converter = ctranslate2.converters.TransformersConverter(str(hf_folder))
        if weight_bits == 8:
            converter.convert(str(tmp / "model"), quantization=quantization, force=True)
        else:
            _convert_narrow_int8(converter, tmp / "model", weight_bits)
        (tmp / "model").rename(out_folder)
    except Exception as exc:
        raise ModelSourceError(f"CTranslate2 cannot convert {hf_folder}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_folder


def _convert_narrow_int8(converter: Any, out: Path, bits: int) -> None:
    """What ``converter.convert(quantization="int8")`` does, with each weight row scaled to
    ``2**(bits-1) - 1`` instead of 127. The converter has no option for it, so its model
    spec is loaded (``_load``, the converters' own extension point), kept in float32 and
    quantised here; CTranslate2 reads any int8 weight with its per-row scale."""
    from ctranslate2.specs import model_spec

    spec = converter._load()
    spec.validate()
    spec.optimize(quantization="float32")
    limit = float(2 ** (bits - 1) - 1)

    def quantise(layer: Any, name: str, value: Any) -> None:
        key = name.split("/")[-1]
        if not isinstance(value, model_spec.Variable) or value.is_scalar() or not hasattr(layer, f"{key}_scale"):
            return
        weight = value.to("float32").numpy()
        rows = weight.reshape(weight.shape[0], -1)
        amax = np.abs(rows).max(axis=1)
        amax[amax == 0] = limit
        scale = (limit / amax).astype(np.float32)
        quantised = np.rint(rows * scale[:, None]).astype(np.int8).reshape(weight.shape)
        setattr(layer, key, model_spec.NumpyVariable(quantised))
        setattr(layer, f"{key}_scale", model_spec.NumpyVariable(scale))

    model_spec.visit_spec(spec, quantise)
    out.mkdir(parents=True)
    spec.save(str(out))


def folder_stamp(folder: Path) -> str:
    """A model folder's identity: its path and its weight files' modification times, so a
    model saved again at the same path counts as a new model."""
    weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    return f"{folder.resolve()}|" + ",".join(f"{w.name}:{w.stat().st_mtime_ns}" for w in weights)


def cached_conversion(hf_folder: Path, quantization: str = INT8) -> Path:
    """The CTranslate2 copy of a saved model folder, converted on first use. Keyed by the
    folder's identity (``folder_stamp``) and the quantization; int8 copies carry their
    weight bits in the key, so 8-bit copies cached by earlier versions are not reused."""
    key = f"{folder_stamp(hf_folder)}|{quantization}" + (f"|{SAFE_INT8_BITS}bit" if quantization == INT8 else "")
    target = artifacts_root() / "ctranslate2-cache" / hashlib.sha256(key.encode()).hexdigest()[:16]
    if not (target / "model.bin").is_file():
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)  # an incomplete copy left by a crash
        try:
            convert_to_ctranslate2(hf_folder, target, quantization)
        except ModelSourceError:
            if not (target / "model.bin").is_file():
                raise
            # another process converted the same folder at the same time and published first
    return target
