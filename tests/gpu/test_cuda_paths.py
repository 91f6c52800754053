"""On a CUDA GPU: each model that trains or scores with torch fine-tunes there through the
shared loop with mixed precision (bf16 where the GPU has it), keeps its weights there, and
scores as the same checkpoint opened on the CPU does, within the tolerance each case states.

Skipped without a GPU (``tests/conftest.py``). ``DOMAINLENS_GPU_DRY_RUN=1`` runs them on the
CPU instead (no mixed precision expected there), to check the tests themselves before GPU
time is spent (``scripts/gpu_check.sh`` does both).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch

from domains import registry
from domains.base import DomainData, Predictor, TrainSettings
from domains.training import train_and_save
from models.control import CancelToken
from models.device import amp_dtype

pytestmark = pytest.mark.gpu
ACCEL = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CPU = torch.device("cpu")
TRAINING_LOOP = str(Path("models", "training.py"))


@dataclass(frozen=True)
class Case:
    domain: str
    model: str
    data: str  # a fixture giving the DomainData, or "" for the domain's default data
    tolerance: float  # the largest |accelerator - CPU| allowed on the declared scores
    source: str = ""  # a fixture giving a local model folder for the menu entry
    settings: TrainSettings = field(default_factory=lambda: TrainSettings(epochs=1))
    rows: int = 64


CASES = [
    Case("text_classification", "minilm_finetune", "small_reviews", 0.02, source="tiny_bert_dir"),
    Case("text_classification", "mpnet_finetune", "small_reviews", 0.02, source="tiny_mpnet_dir"),
    Case("medical_imaging", "cnn", "", 0.02, settings=TrainSettings(epochs=1, options={"folds": 2})),
    Case("medical_imaging", "efficientnet_lite0", "", 0.03, settings=TrainSettings(epochs=1, options={"folds": 1})),
    Case("credit_risk", "neural", "", 0.02, settings=TrainSettings(epochs=2, cv=2)),
    Case("recommendations", "two_tower", "movielens", 0.02),
    Case("translation", "marian_scratch", "small_pairs", 0.0, rows=24,
         settings=TrainSettings(epochs=1, options={"size": "tiny"})),
]


@pytest.fixture(scope="session")
def small_pairs(bible_en_pt: DomainData) -> DomainData:
    from domains.translation import data as mt_data

    small = bible_en_pt.frame.filter(pl.col("split") == "train").head(160)
    payload = "\n".join(f"{s}\t{r}" for s, r in zip(small["source"], small["reference"], strict=True)).encode()
    return mt_data.read_pairs("small.tsv", payload, src="en", tgt="pt")


@dataclass
class AutocastSpy:
    """Every ``torch.autocast`` the shared training loop enters: (device type, dtype, enabled)."""

    calls: list[tuple[str, torch.dtype | None, bool]] = field(default_factory=list)

    def training_precisions(self) -> set[torch.dtype | None]:
        return {dtype if enabled else None for _, dtype, enabled in self.calls}


@pytest.fixture
def autocast_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[AutocastSpy]:
    spy = AutocastSpy()
    real = torch.autocast

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, device_type: str, dtype: torch.dtype | None = None, enabled: bool = True,
                     cache_enabled: bool | None = None) -> None:
            if sys._getframe(1).f_code.co_filename.endswith(TRAINING_LOOP):
                spy.calls.append((device_type, dtype, enabled))
            super().__init__(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    monkeypatch.setattr(torch, "autocast", Recording)
    yield spy


def torch_modules(obj: Any, depth: int = 3) -> list[torch.nn.Module]:
    """The torch modules a predictor holds (directly, in lists or dicts, or one object down)."""
    if isinstance(obj, torch.nn.Module):
        return [obj]
    if depth == 0 or isinstance(obj, (str, bytes, int, float, np.ndarray, pl.DataFrame, torch.Tensor)):
        return []
    if isinstance(obj, dict):
        values: list[Any] = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        values = list(obj)
    elif hasattr(obj, "__dict__"):
        values = list(vars(obj).values())
    else:
        return []
    return [m for v in values for m in torch_modules(v, depth - 1)]


def scores(domain_key: str, out: pl.DataFrame) -> dict[str, np.ndarray]:
    """The numbers each domain's answer is judged by: declared probabilities and scores,
    recommendation score lists flattened. Left out: timings, and credit's points (``p_bad`` on
    a log-odds scale of its own, compared through ``p_bad``)."""
    if domain_key == "recommendations":
        return {"scores": np.concatenate([np.asarray(s, dtype=np.float64) for s in out["scores"].to_list()])}
    return {c: out[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c, t in out.schema.items()
            if t.is_float() and not c.endswith("_ms") and c not in ("detected_confidence", "score")}


def agreement(domain_key: str, accel: pl.DataFrame, cpu: pl.DataFrame) -> float:
    """Share of rows whose answer itself is the same: the label, the top item, the translation."""
    column = {"recommendations": "items", "translation": "translation"}.get(domain_key)
    if column is None:
        column = next(c for c in ("prediction", "label", "decision") if c in accel.columns)
    left, right = accel[column].to_list(), cpu[column].to_list()
    if domain_key == "recommendations":
        left, right = [row[:1] for row in left], [row[:1] for row in right]
    return float(np.mean([a == b for a, b in zip(left, right, strict=True)]))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.domain}-{c.model}")
def test_trains_with_mixed_precision_and_scores_like_the_cpu(case: Case, request: pytest.FixtureRequest,
                                                             autocast_spy: AutocastSpy, tmp_path: Path) -> None:
    domain = registry.get(case.domain)
    spec = domain.spec(case.model)
    if case.source:
        spec = replace(spec, source=str(request.getfixturevalue(case.source)))
    data = request.getfixturevalue(case.data) if case.data else domain.load_data()
    if ACCEL.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    outcome = train_and_save(domain, spec, data, case.settings, device=ACCEL, progress=lambda p: None,
                             cancel=CancelToken(), out_dir=tmp_path / "checkpoint")
    trained_s = time.perf_counter() - started
    assert outcome.bundle is not None

    # Mixed precision: the shared loop ran its steps under autocast at the GPU's half type. A
    # head-only stage on cached features may run in fp32 (mpnet_finetune's linear probe), but
    # the network's own training runs in half precision.
    assert autocast_spy.calls, "the shared training loop never ran a step"
    precisions = autocast_spy.training_precisions()
    assert amp_dtype(ACCEL) in precisions and precisions <= {amp_dtype(ACCEL), None}, precisions
    if case.model != "mpnet_finetune":
        assert precisions == {amp_dtype(ACCEL)}, precisions
    assert all(device_type == ACCEL.type for device_type, _, _ in autocast_spy.calls)

    # The trained weights live on the accelerator.
    predictor: Predictor = outcome.predictor
    modules = torch_modules(predictor)
    assert modules, f"{type(predictor).__name__} holds no torch module"
    devices = {p.device.type for m in modules for p in m.parameters()}
    assert devices == {ACCEL.type}
    if ACCEL.type == "cuda":
        assert torch.cuda.max_memory_allocated() > 0

    # Scores: the checkpoint opened on the CPU answers as the accelerator's copy does.
    rows = domain.stream(data).head(case.rows)
    on_accel = predictor.predict(rows)
    on_cpu = registry.open_predictor(domain, outcome.bundle.path, CPU).predict(rows)
    assert on_accel.height == on_cpu.height == rows.height
    left, right = scores(case.domain, on_accel), scores(case.domain, on_cpu)
    assert left.keys() == right.keys()
    for column in left:
        gap = float(np.nanmax(np.abs(left[column] - right[column]))) if left[column].size else 0.0
        assert gap <= case.tolerance, f"{column}: CUDA and CPU differ by {gap:.4f} (> {case.tolerance})"
    same = agreement(case.domain, on_accel, on_cpu)
    assert same >= (0.9 if case.domain == "translation" else 0.95), f"only {same:.0%} of answers agree"
    print(f"\n{case.domain}/{case.model} on {ACCEL}: trained in {trained_s:.1f} s, "
          f"precision {amp_dtype(ACCEL)}, answers agree {same:.0%}, "
          + ", ".join(f"max |gap| {c} {float(np.nanmax(np.abs(left[c] - right[c]))) if left[c].size else 0:.2e}"
                      for c in left))


def test_the_device_picker_chooses_the_gpu_when_asked_for_auto() -> None:
    from models.device import describe_device, pick_device

    picked = pick_device("auto")
    assert picked.type == ACCEL.type
    if ACCEL.type == "cuda":
        assert "cuda:0 (" in describe_device(picked)
