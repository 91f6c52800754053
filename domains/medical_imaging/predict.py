"""The image predictor: rows of pixels -> one tensor batch -> probabilities -> decision.

Shared read-only between sessions; ``with_threshold`` returns a cheap copy. Every
checkpoint and every output says the model is not for diagnostic use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from scipy.special import softmax

from domains.calibration import Calibrator
from domains.capabilities import ImageExplanation
from domains.images import frame_pixels
from models.checkpoints import Bundle, BundleWriter, load_state_strict
from models.explain import grad_cam
from models.nets.vision import EfficientNetLite0, Ensemble, HFImageClassifier, SmallResNet, VisionNet

INTENDED_USE = "not for diagnostic use: a demonstration of model behaviour, not a medical device"
OUTPUT_COLUMNS = ("prediction", "score", "confidence", "flagged", "probabilities", "input_note")
DISPLAY = 320
# Images per forward pass on CPU: measured best on 2 cores (benchmarks/imaging_throughput.py);
# past these sizes activations fall out of cache and throughput drops. GPUs take big chunks.
CPU_CHUNK = {"cnn": 64, "efficientnet_lite0": 16, "hf": 16}
GPU_CHUNK = 512
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _display_square(pixels: np.ndarray) -> np.ndarray:
    """The centre square the model classifies, at up to ``DISPLAY`` px for the overlay."""
    h, w = pixels.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = torch.from_numpy(np.array(pixels[top : top + side, left : left + side], dtype=np.float32))
    square = square[None, None] if square.dim() == 2 else square.permute(2, 0, 1)[None]
    size = min(side, DISPLAY) if side > 64 else DISPLAY  # small (MedMNIST) images are upsampled to be seen
    scaled = F.interpolate(square, size=(size, size), mode="bilinear", align_corners=False, antialias=side > size)
    out = scaled[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()
    return out[..., 0] if out.shape[2] == 1 else out


def build_net(arch: str, classes: int, channels: int, options: dict[str, Any], hf_model: Any = None) -> VisionNet:
    net: VisionNet
    if arch == "cnn":
        def member() -> SmallResNet:
            return SmallResNet(channels, classes, widths=tuple(options.get("widths", (32, 64, 128))),
                               input_size=int(options.get("size", 28)),
                               standardize=bool(options.get("standardize", False)))

        members = int(options.get("members", 1))
        net = Ensemble([member() for _ in range(members)]) if members > 1 else member()
    elif arch == "efficientnet_lite0":
        net = EfficientNetLite0(classes, input_size=int(options.get("input_size", 112)))
    elif arch == "hf":
        net = HFImageClassifier(hf_model, in_channels=channels)
    else:
        raise ValueError(f"unknown image architecture {arch!r}")
    # NHWC lets oneDNN's convolutions run 1.1-2x faster on CPU (measured); same numbers.
    return net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # runtime kwarg, untyped


@dataclass(frozen=True)
class ImagePredictor:
    model_key: str
    net: VisionNet
    labels: tuple[str, ...]
    channels: int
    size: int
    device: torch.device
    positive: int | None = 1
    threshold: float = 0.5
    calibrator: Calibrator | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return self.positive is not None and len(self.labels) == 2

    # ---- preprocess -> forward -> postprocess ---------------------------------------------

    def tensor(self, batch: pl.DataFrame) -> tuple[torch.Tensor, list[str]]:
        """``(B, C, size, size)`` floats in [0, 1] plus a note per row on any conversion."""
        if batch.is_empty():
            return torch.zeros((0, self.channels, self.size, self.size)), []
        shapes = batch.select("height", "width", "channels").unique()
        if shapes.height == 1 and tuple(shapes.row(0)) == (self.size, self.size, self.channels):
            raw = np.frombuffer(b"".join(batch["pixels"].to_list()), dtype=np.uint8)  # hot path: one copy
            array = raw.reshape(batch.height, self.size, self.size, self.channels)
            return torch.from_numpy(array.copy()).permute(0, 3, 1, 2).float().div_(255.0), [""] * batch.height
        images, notes = zip(*(self._conform(row) for row in batch.iter_rows(named=True)), strict=True)
        return torch.stack(images), list(notes)

    def _conform(self, row: dict[str, Any]) -> tuple[torch.Tensor, str]:
        pixels = frame_pixels(row).astype(np.float32)
        notes = []
        if pixels.ndim == 3 and self.channels == 1:
            pixels = pixels @ _LUMA
            notes.append("colour converted to grey")
        elif pixels.ndim == 2 and self.channels == 3:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
            notes.append("grey repeated to 3 channels")
        image = torch.from_numpy(np.ascontiguousarray(pixels)).div_(255.0)
        image = image[None] if image.dim() == 2 else image.permute(2, 0, 1)
        h, w = image.shape[-2:]
        if (h, w) != (self.size, self.size):
            side = min(h, w)  # MedMNIST convention: centre square, then resize
            top, left = (h - side) // 2, (w - side) // 2
            image = image[:, top : top + side, left : left + side]
            image = F.interpolate(image[None], size=(self.size, self.size), mode="bilinear", align_corners=False,
                                  antialias=side > self.size)[0]
            notes.append(f"resized from {w}x{h}")
        return image, "; ".join(notes)

    @property
    def chunk(self) -> int:
        return GPU_CHUNK if self.device.type == "cuda" else CPU_CHUNK.get(str(self.meta.get("arch")), 32)

    def logits(self, x: torch.Tensor) -> np.ndarray:
        """Raw network outputs, in cache-sized chunks (training validates through this too)."""
        parts = []
        with torch.inference_mode():
            for start in range(0, x.shape[0], self.chunk):
                part = x[start : start + self.chunk].to(self.device).contiguous(memory_format=torch.channels_last)
                parts.append(self.net(part).float().cpu())
        return torch.cat(parts).numpy() if parts else np.zeros((0, len(self.labels)), dtype=np.float32)

    def proba(self, x: torch.Tensor) -> np.ndarray:
        return self.calibrate(self.logits(x))

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        if self.binary and self.calibrator is not None:
            p1 = self.calibrator(logits[:, 1] - logits[:, 0])
            return np.stack([1 - p1, p1], axis=1)
        return softmax(logits, axis=1)

    def predict(self, batch: pl.DataFrame) -> pl.DataFrame:
        x, notes = self.tensor(batch)
        return self.outputs(self.proba(x), notes)

    def outputs(self, probs: np.ndarray, notes: list[str]) -> pl.DataFrame:
        names = np.array(self.labels)
        if self.binary:
            assert self.positive is not None
            score = probs[:, self.positive]
            flagged = score >= self.threshold
            picked = np.where(flagged, self.positive, 1 - self.positive)
        else:
            picked = probs.argmax(axis=1)
            score = probs.max(axis=1) if len(probs) else np.zeros(0)
            flagged = np.zeros(len(probs), dtype=bool)
        return pl.DataFrame({
            "prediction": names[picked] if len(probs) else np.array([], dtype=str),
            "score": score.astype(np.float64),
            "confidence": probs.max(axis=1).astype(np.float64) if len(probs) else np.zeros(0),
            "flagged": flagged,
            "probabilities": [row.tolist() for row in probs.astype(np.float64)],
            "input_note": notes,
        }, schema_overrides={"probabilities": pl.List(pl.Float64)})

    def with_threshold(self, threshold: float) -> ImagePredictor:
        return dataclasses.replace(self, threshold=float(threshold))

    # ---- explanation -----------------------------------------------------------------------

    def explain_image(self, batch: pl.DataFrame) -> list[ImageExplanation]:
        """Grad-CAM toward the positive class (binary) or the predicted class."""
        x, _ = self.tensor(batch)
        target = self.positive if self.binary else None
        cams, logits = grad_cam(self.net, self.net.cam_point, x.to(self.device), target=target)
        probs_np = self.calibrate(logits.float().cpu().numpy())
        result = []
        for i, row in enumerate(batch.iter_rows(named=True)):
            cls = int(target if target is not None else probs_np[i].argmax())
            image = _display_square(frame_pixels(row))
            heatmap = F.interpolate(cams[i][None, None].cpu(), size=image.shape[:2], mode="bilinear",
                                    align_corners=False)[0, 0].numpy()
            result.append(ImageExplanation(image=image, heatmap=heatmap, label=self.labels[cls],
                                           probability=float(probs_np[i, cls])))
        return result

    # ---- checkpoints -----------------------------------------------------------------------

    def to_bundle(self) -> BundleWriter:
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        if self.calibrator is not None:
            tensors.update(self.calibrator.to_tensors())
        metadata = {**self.meta, "labels": list(self.labels), "channels": self.channels, "size": self.size,
                    "positive": self.positive, "threshold": self.threshold, "intended_use": INTENDED_USE,
                    "calibration": self.calibrator.method if self.calibrator is not None else "none"}
        extra = {}
        if isinstance(self.net, HFImageClassifier):
            config = self.net.model.config
            extra["hf"] = lambda folder: config.save_pretrained(folder / "hf")
        return BundleWriter(tensors, metadata, extra)

    @classmethod
    def from_bundle(cls, bundle: Bundle, device: torch.device) -> ImagePredictor:
        meta = bundle.metadata
        hf_model = None
        if meta["arch"] == "hf":
            from transformers import AutoConfig, AutoModelForImageClassification

            config = AutoConfig.from_pretrained(str(bundle.file("hf")))
            hf_model = AutoModelForImageClassification.from_config(config)
        net = build_net(meta["arch"], len(meta["labels"]), int(meta["channels"]), dict(meta.get("options", {})),
                        hf_model)
        tensors = bundle.tensors()
        load_state_strict(net, {k.removeprefix("net."): v for k, v in tensors.items() if k.startswith("net.")})
        calibrator = None
        if meta.get("calibration", "none") != "none":
            calibrator = Calibrator.from_tensors(meta["calibration"], tensors)
        net.to(device).eval()
        return cls(model_key=str(meta["model"]), net=net, labels=tuple(meta["labels"]),
                   channels=int(meta["channels"]), size=int(meta["size"]), device=device,
                   positive=meta.get("positive"), threshold=float(meta.get("threshold", 0.5)),
                   calibrator=calibrator, meta={k: meta[k] for k in ("arch", "options", "source") if k in meta})
