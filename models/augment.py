"""Image augmentations written as batched torch ops, so they run on the training
device inside the loss function (no per-image Python, no torchvision)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """Random affine (rotation, scale, shift), optional horizontal flip and
    brightness/contrast jitter. Flips are off for anatomy with a side (chest X-rays:
    the heart is on the left)."""

    degrees: float = 10.0
    scale: float = 0.10
    shift: float = 0.08  # fraction of the image size
    flip: bool = False
    brightness: float = 0.10
    contrast: float = 0.20

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, device = x.shape[0], x.device

        def uniform(*shape: int) -> torch.Tensor:
            return (torch.rand(*shape, generator=generator) * 2 - 1).to(device)

        angle = uniform(b) * math.radians(self.degrees)
        zoom = 1 + uniform(b) * self.scale
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        mirror = torch.ones(b, device=device)
        if self.flip:
            mirror = torch.where(uniform(b) < 0, -1.0, 1.0)
        shift = uniform(b, 2) * self.shift * 2
        theta = torch.stack([torch.stack([cos * mirror, -sin, shift[:, 0]], 1),
                             torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        contrast = 1 + uniform(b, 1, 1, 1) * self.contrast
        brightness = uniform(b, 1, 1, 1) * self.brightness
        return ((x - mean) * contrast + mean + brightness).clamp(0.0, 1.0)
