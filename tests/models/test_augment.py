"""The image augmentations and the per-image standardised input: each does the one
thing it claims, and the defaults stay what every earlier checkpoint trained with."""

import torch

from models.augment import SITE_SHIFT, STANDARD, Augment
from models.nets.vision import SmallResNet


def _batch(b: int = 32, size: int = 28) -> torch.Tensor:
    checker = ((torch.arange(size)[:, None] + torch.arange(size)[None, :]) % 2).float()
    return (0.25 + 0.5 * checker).expand(b, 1, size, size).clone()


def _still(**extras: float) -> Augment:
    """No geometry and no jitter, so only the extra under test moves pixels."""
    return Augment(degrees=0, scale=0, shift=0, brightness=0, contrast=0, extras_share=1.0, **extras)


def test_defaults_have_no_extras_and_same_seed_same_batch() -> None:
    assert Augment() == STANDARD and STANDARD.gamma == STANDARD.blur == STANDARD.lowres == STANDARD.noise == 0
    x = _batch()
    a = SITE_SHIFT(x, torch.Generator().manual_seed(3))
    b = SITE_SHIFT(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.equal(a, SITE_SHIFT(x, torch.Generator().manual_seed(4)))


def test_each_extra_changes_the_image_the_way_it_says() -> None:
    x = _batch()
    assert torch.allclose(_still()(x, torch.Generator().manual_seed(0)), x, atol=1e-5)  # the affine is exact at 0
    fine_detail = x.std().item()
    for extra in ({"blur": 1.0}, {"lowres": 0.5}):  # the strength is drawn per batch: some seeds barely blur
        smallest = min(_still(**extra)(x, torch.Generator().manual_seed(s)).std().item() for s in range(20))
        assert smallest < 0.5 * fine_detail, extra  # both wash out a one-pixel checkerboard
    gamma = _still(gamma=0.5)(x, torch.Generator().manual_seed(2))
    assert not torch.allclose(gamma.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))  # exposure curve moved
    noisy = _still(noise=0.05)(x, torch.Generator().manual_seed(5))
    assert 0 < (noisy - x).abs().mean().item() < 0.05


def test_standardised_input_ignores_brightness() -> None:
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28) * 0.5 + 0.2
    brighter = x + 0.15  # another exposure, same anatomy
    moved = {}
    for standardize in (False, True):
        torch.manual_seed(1)
        net = SmallResNet(1, 2, standardize=standardize).eval()
        with torch.no_grad():
            moved[standardize] = (net(x) - net(brighter)).abs().max().item()
    assert moved[False] > 1e-3 and moved[True] < 1e-3 * moved[False]
