"""Integrated gradients for any differentiable model with several inputs.

Attributions satisfy completeness: they sum (up to the Riemann error, which
shrinks with ``steps``) to ``f(x) - f(baseline)``. Used for tabular embeddings and
for token embeddings alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def integrated_gradients(
    fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    baselines: Sequence[torch.Tensor],
    *,
    steps: int = 64,
) -> list[torch.Tensor]:
    """Attribute ``fn(*inputs)`` (one scalar per row) to every input element.

    Uses the trapezoid rule over ``steps`` interpolation points, batched per point.
    """
    if len(inputs) != len(baselines):
        raise ValueError("need one baseline per input")
    alphas = torch.linspace(0.0, 1.0, steps + 1)
    weights = torch.full((steps + 1,), 1.0 / steps)
    weights[0] = weights[-1] = 0.5 / steps
    totals = [torch.zeros_like(x, dtype=torch.float32) for x in inputs]
    with torch.enable_grad():
        for alpha, weight in zip(alphas.tolist(), weights.tolist(), strict=True):
            points = [
                (b + alpha * (x - b)).detach().float().requires_grad_(True)
                for x, b in zip(inputs, baselines, strict=True)
            ]
            out = fn(*points).sum()
            grads = torch.autograd.grad(out, points, allow_unused=True)
            for total, grad in zip(totals, grads, strict=True):
                if grad is not None:
                    total += weight * grad
    return [(x - b).float() * g for x, b, g in zip(inputs, baselines, totals, strict=True)]
