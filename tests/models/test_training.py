import time

import pytest
import torch

from models.control import CancelledError, CancelToken, Progress
from models.jobs import Job, JobState
from models.training import LoopConfig, fit, staged, tensor_batches


def _problem(n: int = 256):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=gen)
    y = (x[:, 0] - x[:, 1] > 0).float()
    return x, y


def _fit(config: LoopConfig, cancel: CancelToken | None = None, reports: list | None = None, validate=None):
    x, y = _problem()
    model = torch.nn.Linear(4, 1)
    loss = torch.nn.BCEWithLogitsLoss()
    val = validate or (lambda m: {"val_loss": float(loss(m(x).squeeze(1), y))})
    result = fit(model, tensor_batches((x, y), 32, device=torch.device("cpu")), 8,
                 loss_fn=lambda m, b: loss(m(b[0]).squeeze(1), b[1]), validate=val, config=config,
                 device=torch.device("cpu"), progress=(reports.append if reports is not None else lambda p: None),
                 cancel=cancel)
    return model, result


def test_fit_learns_and_reports_progress() -> None:
    reports: list[Progress] = []
    _, result = _fit(LoopConfig(epochs=15, lr=0.05, patience=100), reports=reports)
    assert result.history[-1]["val_loss"] < 0.5 * result.history[0]["val_loss"] + 0.2
    assert result.history[-1]["val_loss"] < 0.35
    assert reports[-1].step == reports[-1].total == 15 * 8
    assert any("val_loss" in r.metrics for r in reports)


def test_early_stopping_restores_best() -> None:
    scores = iter([0.5, 0.4, 0.45, 0.46, 0.47, 0.48, 0.49])
    _, result = _fit(LoopConfig(epochs=7, patience=2), validate=lambda m: {"val_loss": next(scores)})
    assert result.stopped_early and len(result.history) == 4 and result.best_epoch == 2
    assert result.best_score == pytest.approx(0.4)


def test_cancel_raises_promptly() -> None:
    token = CancelToken()

    class Cancelling(list):
        def append(self, p: Progress) -> None:
            super().append(p)
            if p.step == 3:
                token.cancel()

    sink = Cancelling()
    with pytest.raises(CancelledError):
        _fit(LoopConfig(epochs=50), cancel=token, reports=sink)
    assert max(p.step for p in sink) == 3


def test_job_states() -> None:
    def slow(progress, cancel):
        for i in range(1000):
            cancel.raise_if_cancelled()
            progress(Progress(i, 1000, {"val_loss": 1.0 / (i + 1)}))
            time.sleep(0.005)
        return "finished"

    job = Job("t", slow).start()
    time.sleep(0.05)
    job.cancel()
    assert job.join(2.0)
    assert job.state is JobState.CANCELLED and job.result is None and len(job.history()) > 0

    ok = Job("ok", lambda progress, cancel: 42).start()
    assert ok.join(2.0) and ok.state is JobState.DONE and ok.result == 42

    def broken(progress, cancel):
        raise ValueError("bad column")

    bad = Job("bad", broken).start()
    assert bad.join(2.0) and bad.state is JobState.FAILED and "bad column" in (bad.error or "")


def test_staged_progress_maps_into_overall_bar() -> None:
    seen: list[Progress] = []
    stage = staged(seen.append, 4)
    stage(2, "fold 3")(Progress(5, 10, stage="epoch 1"))
    assert seen[-1].fraction == pytest.approx(0.625)
    assert seen[-1].stage == "fold 3: epoch 1"


def test_token_budgeted_batches_cover_every_row_once_within_the_budget() -> None:
    import numpy as np

    from models.text import plan_batches

    rng = np.random.default_rng(3)
    ids = [[1] * int(n) for n in rng.integers(5, 256, size=500)]
    for epoch in range(3):
        batches = plan_batches(ids, 32, seed=epoch, max_tokens=2048)
        rows = np.concatenate(batches)
        assert sorted(rows.tolist()) == list(range(500))  # each row once per epoch
        for batch in batches:
            longest = max(len(ids[i]) for i in batch)
            assert len(batch) <= 32 and (len(batch) == 1 or len(batch) * longest <= 2048)
    unbudgeted = plan_batches(ids, 32, seed=0)
    assert max(len(b) for b in unbudgeted) == 32 and len(unbudgeted) < len(plan_batches(ids, 32, seed=0,
                                                                                          max_tokens=2048))
