"""Image classifiers behind one interface.

Every net takes ``(B, C, H, W)`` floats in [0, 1] at the dataset's native size and
does its own resizing and normalisation, so predictors feed all of them the same
tensor. ``forward_features`` also returns the features Grad-CAM weights (still in
the graph); ``cam_map`` lays them (and their gradients) out as ``(B, K, h, w)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VisionNet(nn.Module):
    """Base class: ``forward`` returns logits; ``forward_features`` logits and the CAM map."""

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]

    def cam_map(self, features: torch.Tensor) -> torch.Tensor:
        return features

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Parameters frozen during a warm-up (empty for nets trained from scratch)."""
        return []


class _Block(nn.Module):
    """ResNet basic block (two 3x3 convs, identity or 1x1 projection shortcut)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.skip(x))


class SmallResNet(VisionNet):
    """A ResNet for small images (MedMNIST is 28 px): 3x3 stem without pooling, one
    block per stage, global average pooling. ~0.7M parameters at the default widths."""

    def __init__(self, in_channels: int, num_classes: int, widths: tuple[int, ...] = (32, 64, 128),
                 input_size: int = 28, dropout: float = 0.2) -> None:
        super().__init__()
        self.input_size = input_size
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, cin = [], widths[0]
        for i, width in enumerate(widths):
            stages.append(_Block(cin, width, 1 if i == 0 else 2))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, num_classes)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _resize(x, self.input_size)
        fmap = self.stages(self.stem((x - 0.5) / 0.25))
        logits = self.head(self.dropout(fmap.mean(dim=(2, 3))))
        return logits, fmap


class EfficientNetLite0(VisionNet):
    """ImageNet EfficientNet-Lite0 with a new head. Grey images are repeated to three
    channels and upsampled, because the pretrained filters expect RGB at ~224 px."""

    def __init__(self, num_classes: int, input_size: int = 112, dropout: float = 0.2) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.input_size = input_size
        self.backbone = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone._fc.in_features, num_classes)
        self.backbone._fc = nn.Identity()
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def load_imagenet(self, path: str | Path) -> None:
        """Trusted third-party weights: tensors only (``weights_only``), strict on the backbone."""
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        self.backbone.load_state_dict(state, strict=True)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _resize(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x, self.input_size)
        fmap = self.backbone.extract_features((x - self.mean) / self.std)
        return self.head(self.dropout(fmap.mean(dim=(2, 3)))), fmap

    def backbone_parameters(self) -> list[nn.Parameter]:
        return list(self.backbone.parameters())


class HFImageClassifier(VisionNet):
    """Any ``AutoModelForImageClassification`` (ViT, ConvNeXt, ...). The CAM map is the
    last convolutional stage, or for transformers the patch tokens entering the last
    layer (after it, patch tokens no longer reach the class token)."""

    def __init__(self, model: Any, in_channels: int) -> None:
        super().__init__()
        self.model = model
        config = model.config
        self.input_size = int(getattr(config, "image_size", 224))
        self.model_channels = int(getattr(config, "num_channels", 3))
        self.in_channels = in_channels
        processor_mean = getattr(config, "image_mean", None) or (0.5,) * self.model_channels
        processor_std = getattr(config, "image_std", None) or (0.5,) * self.model_channels
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(processor_mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(processor_std).view(1, -1, 1, 1), persistent=False)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] == 1 and self.model_channels == 3:
            x = x.expand(-1, 3, -1, -1)
        x = _resize(x, self.input_size)
        out = self.model(pixel_values=(x - self.mean) / self.std, output_hidden_states=True)
        hidden = out.hidden_states
        if hidden[-1].dim() == 4:
            return out.logits, hidden[-1]
        return out.logits, hidden[-2]

    def cam_map(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() == 4:
            return features
        side = int((features.shape[1] - 1) ** 0.5)
        patches = features[:, -side * side :, :]  # drop the class (and any register) tokens
        return patches.transpose(1, 2).reshape(features.shape[0], features.shape[2], side, side)

    def backbone_parameters(self) -> list[nn.Parameter]:
        head = {id(p) for p in self.model.classifier.parameters()} if hasattr(self.model, "classifier") else set()
        return [p for p in self.model.parameters() if id(p) not in head]


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


def grad_cam(net: VisionNet, x: torch.Tensor, target: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM heatmaps in [0, 1] at the input's size, and the logits.

    ``target`` is the class explained (default: each image's predicted class).
    """
    was_training = net.training
    net.eval()
    with torch.enable_grad():
        x = x.detach().requires_grad_(False)
        logits, features = net.forward_features(x)
        classes = logits.argmax(dim=1) if target is None else torch.full((x.shape[0],), target, device=x.device)
        (grads,) = torch.autograd.grad(logits.gather(1, classes.view(-1, 1)).sum(), features)
    fmap, grads = net.cam_map(features.detach()), net.cam_map(grads)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * fmap).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)
    net.train(was_training)
    return cam / peak, logits.detach()
