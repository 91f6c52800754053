"""Gradient-boosted trees scored split by split over a whole batch, the same numbers as LightGBM.

LightGBM's ``predict`` walks every tree one row at a time, and for the small trees the credit
recipe grows (four splits each) the walk's branches cost more than the comparisons: about
28 ns a tree a row on one core here, most of the live credit stream's time. Scored the
other way round, every split of every tree is one comparison over a block of rows (a loop
the compiler turns into vector instructions), a tree's outcomes form a small integer (bit
j: split j went left), and a table per tree gives the leaf the walk would reach for each
integer. The leaves are added tree by tree, in LightGBM's order, so the margins are LightGBM's
margins bit for bit on any CPU (``tests/models/test_trees.py`` checks it, NaNs, zeros and
unseen categories included).

Inputs are float32 values (as the credit features are built), so each split's bounds are
float32 numbers chosen to decide exactly as LightGBM's float64 thresholds do on those values.
``CompiledForest.from_booster`` returns ``None`` for a model it does not cover (more than one
output per row, linear leaves, averaged output, a category set that is not one run of codes,
trees over ``MAX_SPLITS`` splits); callers keep LightGBM's walk for those.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

MAX_SPLITS = 10  # a table of 2**10 leaves per tree; bigger trees keep LightGBM's walk
ROWS_PER_THREAD = 8192  # below this a second thread costs more than it saves
_BLOCK = 1024  # rows per pass over the splits: the block's outcome bytes stay in cache
_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (a float): |x| at or below it counts as zero


@dataclass(frozen=True)
class CompiledForest:
    """Each split as the interval ``low <= x < high`` of its feature that goes left, and each
    tree as a table from its splits' outcomes to its leaf value."""

    n_features: int
    splits_per_tree: int
    feature: np.ndarray  # int64 [trees * splits_per_tree]; padding splits read feature 0 and never go left
    low: np.ndarray  # float32
    high: np.ndarray  # float32
    nan_left: np.ndarray  # bool: where a NaN goes (LightGBM's missing-value rule for the split)
    zero_left: np.ndarray  # int8: -1 no zero rule, else where |x| <= 1e-35 goes
    leaves: np.ndarray  # float64 [trees, 2**splits_per_tree]

    @classmethod
    def from_booster(cls, booster: Any) -> CompiledForest | None:
        model = booster.dump_model()
        if model.get("num_tree_per_iteration", 1) != 1 or model.get("average_output") or not model["tree_info"]:
            return None
        trees = [_parse_tree(info["tree_structure"]) for info in model["tree_info"]]
        if any(tree is None for tree in trees):
            return None
        parsed = [tree for tree in trees if tree is not None]
        width = max(1, max(len(splits) for splits, _ in parsed))
        if width > MAX_SPLITS:
            return None
        size = len(parsed) * width
        feature, low, high = np.zeros(size, np.int64), np.zeros(size, np.float32), np.zeros(size, np.float32)
        nan_left, zero_left = np.zeros(size, np.bool_), np.full(size, -1, np.int8)
        leaves = np.zeros((len(parsed), 2**width), np.float64)
        for t, (splits, root) in enumerate(parsed):
            for j, split in enumerate(splits):
                k = t * width + j
                feature[k], low[k], high[k], nan_left[k], zero_left[k] = split
            leaves[t] = [_leaf_for(root, code) for code in range(2**width)]
        return cls(int(model["max_feature_idx"]) + 1, width, feature, low, high, nan_left, zero_left, leaves)

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        """The summed leaf values (LightGBM's ``raw_score``) of ``x`` [rows, features] as float32."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} columns, got {tuple(x.shape)}")
        # Column-major, so each split reads a contiguous run of the block's values (free for
        # a Fortran-ordered matrix, which is how the credit features are built).
        columns = np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)
        out = np.zeros(columns.shape[1], dtype=np.float64)
        fast, careful = _kernels()
        if (self.zero_left >= 0).any():
            careful_rows = np.arange(columns.shape[1])
        else:
            careful_rows = np.flatnonzero(np.isnan(columns).any(axis=0))
        args = (self.feature, self.low, self.high, self.leaves, self.splits_per_tree)
        if len(careful_rows) == columns.shape[1]:
            careful(columns, 0, columns.shape[1], out, *args, self.nan_left, self.zero_left)
            return out
        _in_parallel(lambda start, stop: fast(columns, start, stop, out, *args), columns.shape[1])
        if len(careful_rows):  # rows with a NaN: scored again with the missing-value rules
            subset = np.ascontiguousarray(columns[:, careful_rows])
            redo = np.zeros(len(careful_rows), dtype=np.float64)
            careful(subset, 0, len(careful_rows), redo, *args, self.nan_left, self.zero_left)
            out[careful_rows] = redo
        return out


def _in_parallel(score: Callable[[int, int], None], rows: int) -> None:
    """Score row ranges on as many threads as this process's share of the cores (the kernels
    release the GIL); each thread writes its own rows."""
    threads = max(1, min(torch.get_num_threads(), rows // ROWS_PER_THREAD))
    if threads == 1:
        score(0, rows)
        return
    bounds = np.linspace(0, rows, threads + 1).astype(int)
    futures = [_pool().submit(score, int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    for future in futures:
        future.result()


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    """One pool per process (by pid: a forked child would inherit a pool with no threads)."""
    pid = os.getpid()
    if pid not in _pools:
        _pools[pid] = ThreadPoolExecutor(max_workers=max(1, torch.get_num_threads()), thread_name_prefix="forest")
    return _pools[pid]


@functools.cache
def _kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """The two scoring loops, compiled on first use (numba, about a second; cached on disk, so
    a later process loads them)."""
    import numba

    compile_ = numba.njit(nogil=True, cache=True)
    return compile_(_score_blocks), compile_(_score_rows_carefully)


def _score_blocks(columns: np.ndarray, start: int, stop: int, out: np.ndarray, feature: np.ndarray,
                  low: np.ndarray, high: np.ndarray, leaves: np.ndarray, width: int) -> None:
    """Rows ``start:stop`` of ``out``: every split over a block of rows, then every tree's leaf."""
    trees, table = leaves.shape
    flat = leaves.ravel()
    code = np.zeros((trees, _BLOCK), np.uint8)
    for begin in range(start, stop, _BLOCK):
        n = min(stop, begin + _BLOCK) - begin
        code[:, :] = 0
        for t in range(trees):
            for j in range(width):
                s = t * width + j
                values, a, b, bit = columns[feature[s]], low[s], high[s], np.uint8(j)
                for i in range(n):  # no branch: the compiler vectorises it
                    v = values[begin + i]
                    code[t, i] |= np.uint8((v >= a) & (v < b)) << bit
        for t in range(trees):  # tree by tree: LightGBM's order of addition
            base = t * table
            for i in range(n):
                out[begin + i] += flat[base + code[t, i]]


def _score_rows_carefully(columns: np.ndarray, start: int, stop: int, out: np.ndarray, feature: np.ndarray,
                          low: np.ndarray, high: np.ndarray, leaves: np.ndarray, width: int,
                          nan_left: np.ndarray, zero_left: np.ndarray) -> None:
    """As ``_score_blocks``, with LightGBM's NaN and zero rules at every split."""
    trees, table = leaves.shape
    flat = leaves.ravel()
    for i in range(start, stop):
        total = 0.0
        for t in range(trees):
            code = 0
            for j in range(width):
                s = t * width + j
                v = columns[feature[s], i]
                if v != v:
                    left = nan_left[s]
                elif zero_left[s] >= 0 and -_ZERO <= v <= _ZERO:
                    left = zero_left[s] == 1
                else:
                    left = low[s] <= v < high[s]
                if left:
                    code |= 1 << j
            total += flat[t * table + code]
        out[i] = total


_SplitRow = tuple[int, np.float32, np.float32, bool, int]  # feature, low, high, nan_left, zero_left


def _parse_tree(root: dict[str, Any]) -> tuple[list[_SplitRow], dict[str, Any]] | None:
    """The tree's splits as intervals, in a fixed order (each node tagged with its position);
    None when a node is of a kind this module does not score."""
    splits: list[_SplitRow] = []

    def visit(node: dict[str, Any]) -> bool:
        if "leaf_value" in node:
            return "leaf_coeff" not in node
        split = _interval(node)
        if split is None:
            return False
        node["_position"] = len(splits)
        splits.append(split)
        return visit(node["left_child"]) and visit(node["right_child"])

    return (splits, root) if visit(root) else None


def _interval(node: dict[str, Any]) -> _SplitRow | None:
    """LightGBM's decision for the node as ``low <= x < high`` on float32 values, with its
    NaN and zero rules (LightGBM's tree.h: NumericalDecision and CategoricalDecision)."""
    feature, missing, default_left = int(node["split_feature"]), str(node["missing_type"]), bool(node["default_left"])
    if node["decision_type"] == "<=":
        threshold = float(node["threshold"])
        high = _up32(np.nextafter(threshold, np.inf))  # x <= t exactly when x < the next double
        # "NaN": a NaN takes the default side; "Zero": a NaN is read as 0, and 0 takes the
        # default side; "None": a NaN is read as 0 and compared.
        nan_left = default_left if missing in ("NaN", "Zero") else threshold >= 0.0
        return feature, np.float32(-np.inf), high, nan_left, (int(default_left) if missing == "Zero" else -1)
    if node["decision_type"] == "==":
        codes = sorted(int(c) for c in str(node["threshold"]).split("||"))
        if codes != list(range(codes[0], codes[-1] + 1)):
            return None  # not one run of codes: not one interval
        # int() truncates toward zero: code 0 takes -1 < x < 1, code c >= 1 takes c <= x < c + 1.
        low = _up32(np.nextafter(-1.0, np.inf)) if codes[0] == 0 else np.float32(codes[0])
        return feature, low, _up32(float(codes[-1] + 1)), False, -1  # NaN goes right
    return None


def _up32(value: float) -> np.float32:
    """The smallest float32 at or above ``value``: for a float32 x, x >= it (or x < it) exactly
    when x >= value (x < value)."""
    with np.errstate(over="ignore"):  # past float32's range: +-inf, then stepped up below
        t = np.float32(value)
    if np.isfinite(value) and float(t) < value:
        t = np.nextafter(t, np.float32(np.inf))
    return t


def _leaf_for(node: dict[str, Any], code: int) -> float:
    """The leaf the walk reaches when split j went left exactly where bit j of ``code`` is set."""
    while "leaf_value" not in node:
        node = node["left_child"] if code >> node["_position"] & 1 else node["right_child"]
    return float(node["leaf_value"])
