"""PyTorch recommenders (BPR matrix factorisation, two-tower with side features),
trained through the shared loop and wrapped in the common scorer contract."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from domains.recommendations.algorithms import Scorer, top_k
from domains.recommendations.ranking import ranking_metrics
from models.checkpoints import load_state_strict
from models.control import CancelToken, ProgressFn
from models.nets.recsys import BPRMF, TwoTower
from models.training import FitResult, LoopConfig, fit

FOLD_IN_RIDGE = 1.0
L2 = 1e-3
TT_LR = 3e-3


@dataclass
class SideFeatures:
    """Encoded side information: user field codes (0 = unknown), genre multi-hot, year bands."""

    user_codes: torch.Tensor  # [n_users, fields] long
    user_cardinalities: list[int]
    genres: torch.Tensor  # [n_items, n_genres] float
    year_bands: torch.Tensor  # [n_items] long
    n_year_bands: int


ScoresOf = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def ndcg_validator(history: torch.Tensor, relevant: np.ndarray,
                   scores_of: ScoresOf) -> Callable[[Any], dict[str, float]]:
    """Validation for the shared loop: ndcg@10 of the model's top-10 on held-out items."""
    users = torch.arange(history.shape[0])

    def validate(_: Any) -> dict[str, float]:
        _, top = top_k(scores_of(history, users), history, 10)
        metrics = ranking_metrics(top.cpu().numpy(), relevant)
        return {"ndcg@10": metrics["ndcg@10"], "precision@10": metrics["precision@10"]}

    return validate


# ---- BPR matrix factorisation ---------------------------------------------------------------


class FactorScorer(Scorer):
    key = "factor"

    def __init__(self, net: BPRMF) -> None:
        self.net = net.eval()
        v = net.item.weight.detach()
        gram = v.T @ v + FOLD_IN_RIDGE * torch.eye(v.shape[1], device=v.device)
        self.fold_in_map = torch.linalg.solve(gram, v.T)  # [dim, items]: least-squares user vector

    @torch.inference_mode()
    def score(self, history: torch.Tensor, users: torch.Tensor, *, fold_in: bool = False) -> torch.Tensor:
        folded = history @ self.fold_in_map.T
        if not fold_in:
            known = users >= 0
            learned = self.net.user(users.clamp(min=0).to(folded.device))
            folded = torch.where(known.to(folded.device)[:, None], learned, folded)
        return self.net.all_scores(folded)

    def item_vectors(self) -> torch.Tensor:
        return self.net.item.weight.detach()

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"net.{k}": v for k, v in self.net.state_dict().items()}

    def params(self) -> dict[str, Any]:
        return {"n_users": self.net.n_users, "n_items": self.net.n_items, "dim": self.net.dim}

    @classmethod
    def restore(cls, tensors: dict[str, torch.Tensor], params: dict[str, Any], device: torch.device) -> FactorScorer:
        net = BPRMF(int(params["n_users"]), int(params["n_items"]), int(params["dim"]))
        load_state_strict(net, {k.removeprefix("net."): v for k, v in tensors.items() if k.startswith("net.")})
        return cls(net.to(device))


def bpr_batches(users: np.ndarray, items: np.ndarray, n_items: int, batch: int,
                device: torch.device, seed: int) -> Callable[[int], Iterable[tuple[torch.Tensor, ...]]]:
    seen = set(zip(users.tolist(), items.tolist(), strict=True))

    def epoch(e: int) -> Iterable[tuple[torch.Tensor, ...]]:
        rng = np.random.default_rng(seed + e)
        order = rng.permutation(len(users))
        neg = rng.integers(0, n_items, len(users))
        for k in np.flatnonzero([(u, j) in seen for u, j in zip(users, neg, strict=True)]):
            neg[k] = rng.integers(0, n_items)  # one resample: collisions are rare and harmless
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            yield tuple(torch.as_tensor(a[idx], dtype=torch.long, device=device) for a in (users, items, neg))

    return epoch


def train_bpr(train: tuple[np.ndarray, np.ndarray], history: torch.Tensor, relevant: np.ndarray | None,
              n_users: int, n_items: int, *, epochs: int, device: torch.device, progress: ProgressFn,
              cancel: CancelToken, seed: int = 42, dim: int = 64) -> tuple[FactorScorer, FitResult]:
    torch.manual_seed(seed)
    net = BPRMF(n_users, n_items, dim)
    users, items = train
    batches = bpr_batches(users, items, n_items, 1024, device, seed)
    steps = -(-len(users) // 1024)

    def scores_of(h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return net.all_scores(net.user(u.to(device)))

    if relevant is not None:
        validate, patience = ndcg_validator(history.to(device), relevant, scores_of), 4
    else:  # a refit for a known number of epochs: no validation, the last epoch is kept
        epoch_counter = itertools.count(1)
        validate, patience = (lambda _: {"ndcg@10": float(next(epoch_counter))}), epochs + 1
    config = LoopConfig(epochs=epochs, lr=5e-3, weight_decay=0.0, patience=patience, monitor="ndcg@10",
                        mode="max", grad_clip=None)
    result = fit(net, batches, steps, loss_fn=lambda m, b: net.bpr_loss(*b) + L2 * _l2(net, b),
                 validate=validate, config=config, device=device, progress=progress, cancel=cancel)
    return FactorScorer(net), result


def _l2(net: BPRMF, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    users, pos, neg = batch
    return (net.user(users).pow(2).sum() + net.item(pos).pow(2).sum() + net.item(neg).pow(2).sum()) / len(users)


# ---- two-tower with side features ----------------------------------------------------------------


class TwoTowerScorer(Scorer):
    key = "two_tower"

    def __init__(self, net: TwoTower, side: SideFeatures) -> None:
        self.net = net.eval()
        self.side = side

    @torch.inference_mode()
    def score(self, history: torch.Tensor, users: torch.Tensor, *, fold_in: bool = False) -> torch.Tensor:
        device = self.side.genres.device
        codes = self.side.user_codes[users.clamp(min=0).to(device)]
        codes = torch.where((users.to(device) >= 0)[:, None], codes, torch.zeros_like(codes))
        return self.net(history.to(device), codes, self.side.genres, self.side.year_bands)

    def item_vectors(self) -> torch.Tensor:
        with torch.inference_mode():
            return self.net.item_vectors(self.side.genres, self.side.year_bands)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {**{f"net.{k}": v for k, v in self.net.state_dict().items()},
                "side.user_codes": self.side.user_codes, "side.genres": self.side.genres,
                "side.year_bands": self.side.year_bands}

    def params(self) -> dict[str, Any]:
        return {"n_items": self.net.n_items, "dim": self.net.dim, "user_cardinalities": self.side.user_cardinalities,
                "n_genres": self.net.n_genres, "n_year_bands": self.side.n_year_bands}

    @classmethod
    def restore(cls, tensors: dict[str, torch.Tensor], params: dict[str, Any],
                device: torch.device) -> TwoTowerScorer:
        side = SideFeatures(tensors["side.user_codes"].long().to(device), list(params["user_cardinalities"]),
                            tensors["side.genres"].float().to(device), tensors["side.year_bands"].long().to(device),
                            int(params["n_year_bands"]))
        net = TwoTower(int(params["n_items"]), side.user_cardinalities, int(params["n_genres"]),
                       side.n_year_bands, int(params["dim"]))
        load_state_strict(net, {k.removeprefix("net."): v for k, v in tensors.items() if k.startswith("net.")})
        return cls(net.to(device), side)


def train_two_tower(history: torch.Tensor, relevant: np.ndarray, side: SideFeatures, *, epochs: int,
                    device: torch.device, progress: ProgressFn, cancel: CancelToken,
                    seed: int = 42, dim: int = 128) -> tuple[TwoTowerScorer, FitResult]:
    """Denoising objective: each step hides half of a user's history and asks the model to
    put softmax mass on all of it, like a multinomial autoencoder with side features."""
    torch.manual_seed(seed)
    side = SideFeatures(side.user_codes.to(device), side.user_cardinalities, side.genres.to(device),
                        side.year_bands.to(device), side.n_year_bands)
    net = TwoTower(history.shape[1], side.user_cardinalities, side.genres.shape[1], side.n_year_bands, dim)
    dense = history.to_dense().to(device)
    batch = 64
    n_users = dense.shape[0]

    def batches(epoch: int) -> Iterable[tuple[torch.Tensor, ...]]:
        gen = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(n_users, generator=gen)
        for start in range(0, n_users, batch):
            idx = order[start : start + batch].to(device)
            rows = dense[idx]
            keep = (torch.rand(rows.shape, generator=gen).to(device) < 0.5).float()
            yield rows * keep, rows, side.user_codes[idx]

    def loss_fn(model: torch.nn.Module, b: tuple[torch.Tensor, ...]) -> torch.Tensor:
        visible, target, codes = b
        logits = model(visible, codes, side.genres, side.year_bands)
        log_p = torch.log_softmax(logits.float(), dim=1)
        return -(log_p * target).sum(1).div(target.sum(1).clamp(min=1)).mean()

    scorer = TwoTowerScorer(net, side)
    validate = ndcg_validator(history.to(device), relevant,
                              lambda h, u: scorer.score(h, u))
    config = LoopConfig(epochs=epochs, lr=TT_LR, weight_decay=0.0, patience=8, monitor="ndcg@10", mode="max")
    result = fit(net, batches, -(-n_users // batch), loss_fn=loss_fn, validate=validate, config=config,
                 device=device, progress=progress, cancel=cancel)
    return TwoTowerScorer(net.eval(), side), result

