"""Image classifiers behind one interface.

Every net takes ``(B, C, H, W)`` floats in [0, 1] at the dataset's native size and
does its own resizing and normalisation, so predictors feed all of them the same
tensor. Each routes the feature map Grad-CAM weights through ``cam_point`` (an
identity layer in the path to the logits), laid out as ``(B, K, h, w)``, so
``models.explain.grad_cam`` (captum's ``LayerGradCam``) can hook it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VisionNet(nn.Module):
    """Base class: ``forward`` returns logits; the Grad-CAM feature map passes ``cam_point``."""

    def __init__(self) -> None:
        super().__init__()
        self.cam_point = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``(B, C, H, W)`` floats in [0, 1]."""
        raise NotImplementedError

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
                 input_size: int = 28, dropout: float = 0.2, standardize: bool = False) -> None:
        super().__init__()
        self.input_size = input_size
        # Per-image standardisation makes the net blind to an image's overall brightness
        # and contrast, which differ between sites and scanners; the default, a fixed
        # shift and scale, keeps them as signal.
        self.standardize = standardize
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, cin = [], widths[0]
        for i, width in enumerate(widths):
            stages.append(_Block(cin, width, 1 if i == 0 else 2))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.cam_point(self.features(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map, ``(B, width, h, w)``."""
        x = _resize(x, self.input_size)
        if self.standardize:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) / (x.std(dim=(1, 2, 3), keepdim=True) + 0.02)
        else:
            x = (x - 0.5) / 0.25
        return self.stages(self.stem(x))

    def classify(self, fmap: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(fmap.mean(dim=(2, 3))))


class Ensemble(VisionNet):
    """Several ``SmallResNet``s (e.g. one per cross-validation fold) averaging their logits.
    Their feature maps pass ``cam_point`` side by side along the channels, so Grad-CAM on
    the ensemble is the sum of its members' Grad-CAMs toward the averaged logit."""

    def __init__(self, members: list[SmallResNet]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members = [cast(SmallResNet, m) for m in self.members]
        maps = [m.features(x) for m in members]
        joined = self.cam_point(torch.cat(maps, dim=1))
        parts = joined.split([m.shape[1] for m in maps], dim=1)
        logits = [member.classify(part) for member, part in zip(members, parts, strict=True)]
        return torch.stack(logits).mean(dim=0)


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _resize(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x, self.input_size)
        fmap = self.cam_point(self.backbone.extract_features((x - self.mean) / self.std))
        return self.head(self.dropout(fmap.mean(dim=(2, 3))))

    def backbone_parameters(self) -> list[nn.Parameter]:
        return list(self.backbone.parameters())


class HFImageClassifier(VisionNet):
    """Any ``AutoModelForImageClassification`` (ViT, ConvNeXt, ...). The CAM map is the
    last convolutional stage's output, or for transformers the patch tokens entering the
    last layer (after it, patch tokens no longer reach the class token), laid out on
    their grid; hooks on that block route it through ``cam_point``."""

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
        block = _last_block(model)
        block.register_forward_pre_hook(self._tokens_through_cam_point, with_kwargs=True)
        block.register_forward_hook(self._stage_through_cam_point)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1 and self.model_channels == 3:
            x = x.expand(-1, 3, -1, -1)
        x = _resize(x, self.input_size)
        return self.model(pixel_values=(x - self.mean) / self.std).logits

    def _tokens_through_cam_point(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any],
                                  ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """Transformers: the patch tokens entering the last layer, on their grid, through
        ``cam_point`` and back (an identity with a hookable 4-D output)."""
        tokens = args[0] if args else kwargs.get("hidden_states")
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 3:
            return None
        count, width = tokens.shape[1], tokens.shape[2]
        side = int((count - 1) ** 0.5)
        patches = tokens[:, count - side * side :, :]  # after the class (and any register) tokens
        grid = self.cam_point(patches.transpose(1, 2).reshape(tokens.shape[0], width, side, side))
        routed = torch.cat([tokens[:, : count - side * side], grid.flatten(2).transpose(1, 2)], dim=1)
        if args:
            return (routed, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": routed}

    def _stage_through_cam_point(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        """Convolutional models: the last stage's output map, through ``cam_point``."""
        if isinstance(output, torch.Tensor) and output.dim() == 4:
            return self.cam_point(output)
        return None

    def backbone_parameters(self) -> list[nn.Parameter]:
        head = {id(p) for p in self.model.classifier.parameters()} if hasattr(self.model, "classifier") else set()
        return [p for p in self.model.parameters() if id(p) not in head]


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


def _last_block(model: Any) -> nn.Module:
    """The last layer (transformers) or stage (convolutional models) of the encoder: the
    outermost list of blocks called ``layer``, ``layers`` or ``stages`` (names differ
    between architectures and transformers releases)."""
    for name, module in model.base_model.named_modules():
        if name.rsplit(".", 1)[-1] in ("layer", "layers", "stages") and isinstance(module, nn.ModuleList) \
                and len(module):
            return module[-1]
    raise ValueError(f"{type(model).__name__}: no encoder layers or stages found for Grad-CAM")
