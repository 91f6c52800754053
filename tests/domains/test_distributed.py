"""Scoring on a local Ray cluster (``--backend ray``) gives the rows in-process scoring
gives, and bad input or a bad address fails early with a clear message."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard.cli import main
from domains.base import DomainLensError
from domains.distributed import predict_on_ray
from models.distributed import ClusterError, RayOptions, connect


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One small local Ray for the whole session (no dashboard, 256 MB object store)."""
    ray = pytest.importorskip("ray")
    connect(None, object_store_mb=256)
    yield
    ray.shutdown()


@pytest.fixture
def loans(tmp_path: Path, german_credit_csv: Path) -> Path:
    path = tmp_path / "loans.parquet"
    pl.read_csv(german_credit_csv).head(300).write_parquet(path)
    return path


def test_credit_on_ray_gives_the_in_process_rows(ray_cluster: None, loans: Path, tmp_path: Path) -> None:
    assert main(["predict", "credit_risk", "--model", "gbm", "--input", str(loans), "--output",
                 str(tmp_path / "local.parquet")]) == 0
    assert main(["predict", "credit_risk", "--model", "gbm", "--input", str(loans), "--output",
                 str(tmp_path / "on-ray"), "--backend", "ray", "--batch-rows", "64"]) == 0
    local = pl.read_parquet(tmp_path / "local.parquet")
    on_ray = pl.read_parquet(tmp_path / "on-ray" / "*.parquet")
    assert on_ray.height == 300 and on_ray.columns == local.columns
    # The same model gives identical rows; Ray returns batches as they finish, so compare in one order.
    assert_frame_equal(on_ray.sort(on_ray.columns), local.sort(local.columns))
    assert not list(tmp_path.glob(".on-ray.partial-*"))  # nothing half-written left beside it


def test_missing_columns_fail_before_any_cluster_work(ray_cluster: None, loans: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    pl.read_parquet(loans).drop("credit_amount").write_parquet(broken)
    with pytest.raises(DomainLensError, match="credit_amount"):
        predict_on_ray("credit_risk", "gbm", str(broken), tmp_path / "out", RayOptions())
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # default suite: one more Ray job
def test_a_previous_result_is_kept_unless_overwrite_and_progress_reaches_every_row(
        ray_cluster: None, loans: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-0.parquet").write_bytes(b"an earlier result")
    with pytest.raises(ClusterError, match="--overwrite"):
        predict_on_ray("credit_risk", "gbm", str(loans), out, RayOptions())
    seen: list[tuple[int, int | None]] = []  # the overwriting job's progress, as the CLI's bar gets it
    assert predict_on_ray("credit_risk", "gbm", str(loans), out, RayOptions(batch_rows=16, overwrite=True),
                          on_progress=lambda p: seen.append((p.step, p.total))) == 300
    assert pl.read_parquet(out / "*.parquet").height == 300
    assert seen[-1] == (300, 300)
    done = [d for d, _ in seen]
    assert done == sorted(done) and all(total == 300 for _, total in seen)


def test_an_unreachable_address_fails_fast_with_one_line() -> None:
    started = time.perf_counter()
    with pytest.raises(ClusterError, match=r"no Ray cluster answers at 127\.0\.0\.1:1"):
        connect("127.0.0.1:1", timeout_s=2)
    assert time.perf_counter() - started < 5


def test_missing_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="no input file found"):
        predict_on_ray("credit_risk", "gbm", str(tmp_path / "nowhere" / "*.csv"), tmp_path / "out", RayOptions())


def _inputs(domain: str, tmp_path: Path) -> tuple[Path, Path]:
    """A small input of each domain as the in-process CLI reads it, and the same rows as
    Ray reads them (Parquet)."""
    path = tmp_path / f"{domain}.parquet"
    if domain == "text_classification":
        frame = pl.DataFrame({"id": range(40), "text": [f"review {i}: {'a joyous triumph' if i % 2 else 'a dull mess'}"
                                                        for i in range(40)]})
    elif domain == "recommendations":
        frame = pl.DataFrame({"user": [*range(1, 31), 999999]})
    elif domain == "translation":
        frame = pl.DataFrame({"id": range(6), "text": [f"The report {i} is ready." for i in range(6)]})
    else:  # images as the imaging domain reads them from an .npz: one row per image, raw pixels
        from domains import registry
        from tests.imaging_fixtures import write_npz

        npz = write_npz(tmp_path / "x.npz", {"test": 12})
        registry.get("medical_imaging").read_input(npz).write_parquet(path)  # type: ignore[attr-defined]
        return npz, path
    frame.write_parquet(path)
    return path, path


# Each domain's own rows on Ray take 20-100 s each on 2 cores: they run with the slow tests
# (`make test-slow`); the default suite keeps `predict --backend ray` on credit (above) and the
# text model's actors through evaluate on Ray (below): the same distributed scoring path.
LONG_ON_RAY = pytest.mark.slow


@pytest.mark.parametrize("domain", [pytest.param("text_classification", marks=LONG_ON_RAY),
                                    pytest.param("recommendations", marks=LONG_ON_RAY),
                                    pytest.param("translation", marks=LONG_ON_RAY),
                                    pytest.param("medical_imaging", marks=LONG_ON_RAY)])
def test_every_domain_on_ray_gives_the_in_process_rows(domain: str, ray_cluster: None, tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    model = {"text_classification": ["--checkpoint", str(request.getfixturevalue("text_tfidf_dir"))],
             "recommendations": ["--checkpoint", str(request.getfixturevalue("ease_dir"))],
             "translation": ["--model", "offline", "--src", "en", "--tgt", "pt"],  # the pair as in-process
             "medical_imaging": ["--checkpoint", str(request.getfixturevalue("imaging_cnn_dir"))]}[domain]
    source, rows = _inputs(domain, tmp_path)
    assert main(["predict", domain, *model, "--input", str(source), "--output", str(tmp_path / "local.parquet")]) == 0
    assert main(["predict", domain, *model, "--input", str(rows), "--output", str(tmp_path / "on-ray"),
                 "--backend", "ray", "--batch-rows", "8"]) == 0
    timings = pl.exclude("ttft_ms", "latency_ms")  # how long a batch took is not a prediction
    local = pl.read_parquet(tmp_path / "local.parquet").select(timings)
    on_ray = pl.read_parquet(tmp_path / "on-ray" / "*.parquet").select(timings)
    assert on_ray.columns == local.columns and on_ray.height == local.height > 0
    key = [c for c in on_ray.columns if not isinstance(on_ray[c].dtype, pl.List)]  # list columns do not sort
    # Text and recommendation rows are identical; the imaging CNN's scores and the language
    # detector's confidence move in the last bits with the batch's size (BLAS blocking).
    assert_frame_equal(on_ray.sort(key), local.sort(key), check_exact=False, abs_tol=1e-5)
    if domain == "translation":
        assert set(on_ray["src"]) == {"en"} and set(on_ray["tgt"]) == {"pt"}


@pytest.mark.slow  # default suite: one more Ray job
def test_an_actor_killed_mid_job_still_gives_every_row_once(ray_cluster: None, loans: Path, tmp_path: Path) -> None:
    import os

    from domains.distributed import OpenPredictor
    from models.distributed import score

    recipe, died = OpenPredictor("credit_risk", "gbm", False), tmp_path / "died-once"
    recipe()  # fitted here once, as predict_on_ray does

    def factory():  # type: ignore[no-untyped-def]  # pickled by value into the actors
        scored = recipe()

        def dying(frame):  # type: ignore[no-untyped-def]
            if not died.exists():  # the first actor's second batch: its process dies mid-job
                if (tmp_path / "first-batch").exists():
                    died.write_text("killed")
                    os._exit(1)
                (tmp_path / "first-batch").write_text("done")
            return scored(frame)

        return dying

    env = {k: os.environ[k] for k in ("DOMAINLENS_HOME", "HF_HUB_OFFLINE") if k in os.environ}
    rows = score(str(loans), tmp_path / "out", factory, RayOptions(batch_rows=32, actors=1), env=env)
    assert died.exists()  # the actor did die
    out = pl.read_parquet(tmp_path / "out" / "*.parquet")
    assert rows == out.height == 300
    inputs = pl.read_parquet(loans)
    assert out.select(inputs.columns).sort(inputs.columns).equals(inputs.sort(inputs.columns))  # each row once


@pytest.mark.slow  # 22 s: a second Ray in a subprocess, as a terminal runs it (`make test-slow`)
def test_ctrl_c_cancels_the_job_and_leaves_no_output(tmp_path: Path, german_credit_csv: Path) -> None:
    import os
    import re
    import signal
    import subprocess
    import sys

    source = tmp_path / "book.parquet"
    pl.read_csv(german_credit_csv).sample(100_000, with_replacement=True, seed=0).write_parquet(source)
    out = tmp_path / "scored"
    command = [sys.executable, "-m", "dashboard.cli", "predict", "credit_risk", "--model", "gbm", "--input",
               str(source), "--output", str(out), "--backend", "ray", "--batch-rows", "128", "--actors", "1"]
    job = subprocess.Popen(command, stderr=subprocess.PIPE, env=os.environ | {"DOMAINLENS_NO_PROGRESS": "0"})
    assert job.stderr is not None
    os.set_blocking(job.stderr.fileno(), False)
    log, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline and job.poll() is None:  # until the bar shows scored rows
        log += job.stderr.read() or b""
        if any(int(n) > 0 for n in re.findall(rb"\| (\d+)/100000", log)):
            break
        time.sleep(0.2)
    assert job.poll() is None, log.decode(errors="replace")[-2000:]
    job.send_signal(signal.SIGINT)
    assert job.wait(timeout=30) == 130
    os.set_blocking(job.stderr.fileno(), True)
    log += job.stderr.read()
    assert b"cancelled: the Ray job stopped and nothing was written" in log
    assert not out.exists() and not list(tmp_path.glob(".scored.partial-*"))


@pytest.mark.parametrize("domain_key", [pytest.param("credit_risk", marks=LONG_ON_RAY), "text_classification",
                                        pytest.param("medical_imaging", marks=LONG_ON_RAY),
                                        pytest.param("translation", marks=LONG_ON_RAY)])
def test_evaluate_on_ray_gives_the_in_process_metrics(domain_key: str, ray_cluster: None, tmp_path: Path,
                                                      request: pytest.FixtureRequest) -> None:
    import torch

    from domains import registry
    from domains.distributed import evaluate_on_ray

    model: str | Path = {"credit_risk": request.getfixturevalue("trained_gbm_dir"),
                         "text_classification": request.getfixturevalue("text_tfidf_dir"),
                         "medical_imaging": request.getfixturevalue("imaging_cnn_dir"),
                         "translation": "offline"}[domain_key]
    domain = registry.get(domain_key)
    # 60 verse pairs for translation (its built-in test split takes half a minute to translate twice).
    data = domain.load_data(request.getfixturevalue("pairs_tsv") if domain_key == "translation" else None)
    split = domain.evaluation_splits(data)[0]
    predictor = registry.open_predictor(domain, model, torch.device("cpu"),
                                        options={"src": data.info.get("src"), "tgt": data.info.get("tgt")})
    local = domain.evaluate(predictor, data, split=split)
    # Two keep the scored rows in a folder; two bring the predictions back through the object store.
    output = tmp_path / "scored" if domain_key in ("credit_risk", "translation") else None
    on_ray = evaluate_on_ray(domain_key, model, data, split, RayOptions(batch_rows=64), output=output)
    speed = [k for k in local.metrics if k.endswith("_per_s")]  # how fast is not what was scored
    assert on_ray.metrics["ray_rows_per_s"] > 0
    assert set(on_ray.metrics) == set(local.metrics) | {"ray_rows_per_s"}
    for key, value in local.metrics.items():
        if key not in speed:  # exact for trees, TF-IDF and the offline engine; the CNN's floats move with
            assert on_ray.metrics[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key  # the batch size
    for name, frame in local.frames.items():
        assert on_ray.frames[name].height == frame.height, name
    if output is not None:
        assert pl.read_parquet(output / "*.parquet").height == domain.evaluation_rows(predictor, data, split).height


def test_evaluate_on_ray_says_what_it_cannot_do(ray_cluster: None, ease_dir: Path, german_credit_csv: Path) -> None:
    assert main(["evaluate", "recommendations", "--checkpoint", str(ease_dir), "--backend", "ray"]) == 2
    assert main(["evaluate", "credit_risk", "--model", "gbm", "--data", str(german_credit_csv),
                 "--backend", "ray"]) == 2  # a model fitted on the data it is evaluated with: train it first


# Failing jobs last: after one, the next job starts fresh worker processes (10-15 s here).


@pytest.mark.slow  # default suite: one more Ray job; the default suite keeps one job and the errors before it
def test_a_checkpoint_the_workers_cannot_read_is_named_and_shipping_it_works(
        ray_cluster: None, loans: Path, tmp_path: Path, trained_gbm_dir: Path) -> None:
    import shutil

    from domains.distributed import OpenPredictor, ship
    from models.distributed import score

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(trained_gbm_dir, checkpoint)
    files = ship(checkpoint)
    shutil.rmtree(checkpoint)  # as a worker on another node sees this machine's path: nothing there
    shipped = OpenPredictor("credit_risk", str(checkpoint), True, files=files)
    assert score(str(loans), tmp_path / "shipped", shipped, RayOptions()) == 300
    with pytest.raises(ClusterError, match=r"a worker could not open the model: .*not found.*shared storage"):
        score(str(loans), tmp_path / "out", OpenPredictor("credit_risk", str(checkpoint), True), RayOptions())
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # default suite: one more Ray job
def test_a_non_utf8_file_among_many_fails_the_job_naming_file_and_line(ray_cluster: None, loans: Path,
                                                                        tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    frame = pl.read_parquet(loans)
    for i in range(3):
        frame.slice(i * 100, 100).write_csv(folder / f"part-{i}.csv")
    lines = (folder / "part-1.csv").read_bytes().splitlines()
    lines[41] = lines[41].replace(b",", b",\xe4", 1)  # one Latin-1 byte in row 41 (line 42 with the header)
    (folder / "part-1.csv").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(ClusterError) as failed:
        predict_on_ray("credit_risk", "gbm", str(folder), tmp_path / "out", RayOptions(batch_rows=50))
    message = str(failed.value)
    assert f"{folder / 'part-1.csv'}: line 42 is not UTF-8" in message and "no output was written" in message
    assert "part-0" not in message and "part-2" not in message
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))
