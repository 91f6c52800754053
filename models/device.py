"""Pick the compute device once, in one place.

Order: explicit argument, then ``$DOMAINLENS_DEVICE``, then CUDA, MPS, CPU. Everything
else receives a ``torch.device`` and never probes hardware itself.
"""

from __future__ import annotations

import os

import torch

AUTO = "auto"


class DeviceUnavailableError(RuntimeError):
    """Raised when a device is requested that this machine does not have."""


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """Return the device to run on, failing clearly if the requested one is missing."""
    choice = str(requested) if requested is not None else os.environ.get("DOMAINLENS_DEVICE", AUTO)
    choice = choice.strip().lower() or AUTO
    if choice == AUTO:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(choice)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            "CUDA was requested but no CUDA GPU is visible; use --device cpu or auto."
        )
    if device.type == "mps" and not _mps_available():
        raise DeviceUnavailableError("MPS was requested but is not available on this machine.")
    return device


def describe_device(device: torch.device) -> str:
    """Human-readable device name, including the GPU model when on CUDA."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision only on CUDA: bf16 where supported, else fp16. None means fp32."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
