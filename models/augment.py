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
    the heart is on the left).

    The photometric extras (off by default) imitate another scanner or site: gamma
    (a different exposure curve), blur (a softer detector or a resized export), a
    low-resolution round trip (images acquired smaller and scaled up) and sensor noise.
    Each is applied to a random part of every batch (``extras_share``), at a random
    strength up to the given one: drawn once per batch for blur and the round trip (one
    kernel, one resize for the whole batch), per image for gamma and noise."""

    degrees: float = 10.0
    scale: float = 0.10
    shift: float = 0.08  # fraction of the image size
    flip: bool = False
    brightness: float = 0.10
    contrast: float = 0.20
    gamma: float = 0.0  # log-gamma drawn from [-gamma, gamma]
    blur: float = 0.0  # largest Gaussian sigma, in pixels
    lowres: float = 0.0  # smallest scale of the down-and-up round trip (0: off), e.g. 0.5
    noise: float = 0.0  # largest Gaussian noise sd
    extras_share: float = 0.5  # the part of a batch each extra is applied to

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, device = x.shape[0], x.device

        def uniform(*shape: int) -> torch.Tensor:
            return (torch.rand(*shape, generator=generator) * 2 - 1).to(device)

        def chosen() -> torch.Tensor:
            return (torch.rand(b, 1, 1, 1, generator=generator) < self.extras_share).to(device)

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
        if self.lowres > 0:
            x = torch.where(chosen(), round_trip(x, self.lowres + (1 - self.lowres) * float(torch.rand(
                1, generator=generator))), x)
        if self.blur > 0:
            x = torch.where(chosen(), gaussian_blur(x, self.blur * float(torch.rand(1, generator=generator))), x)
        if self.gamma > 0:
            x = torch.where(chosen(), x.clamp_min(1e-4) ** torch.exp(uniform(b, 1, 1, 1) * self.gamma), x)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        contrast = 1 + uniform(b, 1, 1, 1) * self.contrast
        brightness = uniform(b, 1, 1, 1) * self.brightness
        x = (x - mean) * contrast + mean + brightness
        if self.noise > 0:
            sd = (torch.rand(b, 1, 1, 1, generator=generator) * self.noise).to(device)
            x = x + chosen() * sd * torch.randn(x.shape, generator=generator).to(device)
        return x.clamp(0.0, 1.0)


# What the imaging recipes use: STANDARD is the original jitter; SITE_SHIFT adds the
# photometric extras at strengths chosen on benchmarks/imaging_shift_study.py.
STANDARD = Augment()
SITE_SHIFT = Augment(brightness=0.2, contrast=0.4, gamma=0.4, blur=1.0, lowres=0.5, noise=0.04)
ACQUISITION = Augment(blur=1.0, lowres=0.5, noise=0.04)  # the detector's changes only, exposure as STANDARD
AUGMENTS = {"standard": STANDARD, "site_shift": SITE_SHIFT, "acquisition": ACQUISITION}


def round_trip(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Down-sample by ``scale`` and back: what a smaller acquisition looks like resized."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(2, round(h * scale)), max(2, round(w * scale))), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma < 0.1:
        return x
    radius = max(1, math.ceil(2 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
