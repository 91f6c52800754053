"""The one training loop for PyTorch models (progress and cancel come from
``models.control``, shared with every other long piece of work).

The loop is deliberately small: the caller supplies the per-batch loss and a
validation function; the loop owns the optimiser steps, AMP on CUDA, gradient
clipping, progress reports, the cancel check on every step, early stopping and
restoring the best weights.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch

from models.control import CancelToken, Progress, ProgressFn, no_progress
from models.device import amp_dtype
from models.memory import MemoryReleaser, release_freed_memory


@dataclass(frozen=True)
class LoopConfig:
    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 5
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    grad_clip: float | None = 1.0
    amp: bool = True


@dataclass(frozen=True)
class Recipe:
    """A fine-tuning recipe: the loop's settings and the batch size (domains add their own
    fields, e.g. a maximum sequence length)."""

    epochs: int
    lr: float
    batch: int = 32
    weight_decay: float = 0.01
    patience: int = 2

    def loop(self, epochs: int | None, *, monitor: str, mode: Literal["min", "max"], amp: bool = True) -> LoopConfig:
        """The loop's configuration: ``epochs`` (the user's) or the recipe's, early stopping on ``monitor``."""
        return LoopConfig(epochs=epochs or self.epochs, lr=self.lr, weight_decay=self.weight_decay,
                          patience=self.patience, monitor=monitor, mode=mode, amp=amp)


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_score: float
    stopped_early: bool
    seconds: float


LossFn = Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor]
ValidateFn = Callable[[torch.nn.Module], Mapping[str, float]]


def fit(
    model: torch.nn.Module,
    batches: Callable[[int], Iterable[tuple[torch.Tensor, ...]]],
    steps_per_epoch: int,
    *,
    loss_fn: LossFn,
    validate: ValidateFn,
    config: LoopConfig,
    device: torch.device,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    on_epoch_start: Callable[[int, torch.optim.Optimizer], None] | None = None,
    lr_schedule: Callable[[float], float] | None = None,
) -> FitResult:
    """Train ``model`` in place and leave it holding the best weights seen.

    ``batches(epoch)`` yields tuples of tensors already on ``device``; ``validate``
    returns a metrics dict containing ``config.monitor``. ``lr_schedule(fraction_done)``
    scales each group's initial learning rate every step (e.g. ``one_cycle``). Raises
    ``CancelledError`` when ``cancel`` is set (checked every step).
    """
    started = time.perf_counter()
    model.to(device)
    opt = optimizer or torch.optim.AdamW(
        (p for p in model.parameters() if p.requires_grad), lr=config.lr, weight_decay=config.weight_decay
    )
    dtype = amp_dtype(device) if config.amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    total = max(1, config.epochs * steps_per_epoch)
    sign = 1.0 if config.mode == "min" else -1.0
    best_score, best_epoch, best_state = math.inf, -1, copy.deepcopy(model.state_dict())
    history: list[dict[str, float]] = []
    step, stale = 0, 0
    base_lrs = [float(group["lr"]) for group in opt.param_groups]
    release = MemoryReleaser()  # batches of changing shapes fragment the heap: keep resident memory flat
    for epoch in range(config.epochs):
        if on_epoch_start is not None:
            on_epoch_start(epoch, opt)
        model.train()
        running, seen = 0.0, 0
        for batch in batches(epoch):
            if cancel is not None:
                cancel.raise_if_cancelled()
            opt.zero_grad(set_to_none=True)
            if lr_schedule is not None:
                for group, base in zip(opt.param_groups, base_lrs, strict=True):
                    group["lr"] = base * lr_schedule(min(1.0, step / total))  # epochs may differ by a batch
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = loss_fn(model, batch)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            running += float(loss.detach())
            seen += 1
            step += 1
            release()
            progress(Progress(step, total, {"train_loss": running / seen},
                              stage=f"epoch {epoch + 1} of {config.epochs}"))
        model.eval()
        with torch.inference_mode():
            val = dict(validate(model))
        if config.monitor not in val:
            raise KeyError(f"validate() did not return the monitored metric {config.monitor!r}")
        record = {"epoch": float(epoch + 1), "train_loss": running / max(seen, 1), **val}
        history.append(record)
        progress(Progress(step, total, record, stage=f"epoch {epoch + 1} of {config.epochs} done"))
        score = sign * float(val[config.monitor])
        if score < best_score:
            best_score, best_epoch, stale = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    del opt, best_state  # the optimiser's moments and the weight copy are not needed after the loop
    release_freed_memory()  # before what follows training (checks, conversions) allocates again
    return FitResult(
        history=history,
        best_epoch=best_epoch + 1,
        best_score=sign * best_score,
        stopped_early=len(history) < config.epochs,
        seconds=time.perf_counter() - started,
    )


def one_cycle(warmup: float = 0.15, floor: float = 0.02) -> Callable[[float], float]:
    """Linear warm-up to the base rate, then cosine decay to ``floor`` of it: the
    schedule that makes short CPU budgets converge (Smith's one-cycle policy)."""

    def factor(done: float) -> float:
        if done < warmup:
            return floor + (1 - floor) * done / warmup
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (done - warmup) / (1 - warmup)))

    return factor


def tensor_batches(
    tensors: tuple[torch.Tensor, ...],
    batch_size: int,
    *,
    device: torch.device,
    shuffle: bool = True,
    seed: int = 0,
) -> Callable[[int], Iterable[tuple[torch.Tensor, ...]]]:
    """In-memory mini-batches, reshuffled deterministically each epoch."""
    n = tensors[0].shape[0]
    on_device = tuple(t.to(device) for t in tensors)

    def epoch_batches(epoch: int) -> Iterable[tuple[torch.Tensor, ...]]:
        if shuffle:
            gen = torch.Generator().manual_seed(seed + epoch)
            order = torch.randperm(n, generator=gen).to(device)
        else:
            order = torch.arange(n, device=device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield tuple(t[idx] for t in on_device)

    return epoch_batches


def staged(progress: ProgressFn, stages: int) -> Callable[[int, str], ProgressFn]:
    """Split one progress bar into ``stages`` equal parts.

    ``staged(p, 6)(2, "fold 3")`` returns a ProgressFn whose (step, total) reports land
    in the third sixth of the overall bar, tagged with the stage name.
    """
    resolution = 1000

    def for_stage(index: int, name: str) -> ProgressFn:
        def report(inner: Progress) -> None:
            done = index * resolution + int(resolution * inner.fraction)
            label = f"{name}: {inner.stage}" if inner.stage else name
            progress(Progress(done, stages * resolution, inner.metrics, stage=label))

        return report

    return for_stage
