"""Every registered domain goes through load -> predict -> stream -> evaluate -> charts."""

from dataclasses import replace

import plotly.graph_objects as go
import polars as pl
import pytest
import torch
from polars.testing import assert_frame_equal

from domains import registry
from domains.base import Domain, DomainData, LiveMonitor, Predictor
from domains.columns import Column, frame_problems
from models.checkpoints import load_bundle
from models.streaming import MicroBatcher, replay


@pytest.mark.parametrize("key", registry.domain_keys())
def test_domain_contract(key: str, trained_gbm_dir) -> None:
    domain = registry.get(key)
    assert isinstance(domain, Domain)
    assert domain.key == key and domain.models() and domain.datasets()
    data = domain.load_data()
    assert data.frame.height > 0
    predictor = registry.open_predictor(domain, domain.models()[0], torch.device("cpu"))
    assert isinstance(predictor, Predictor)

    events = domain.stream(data)
    batch = events.head(20)
    out = predictor.predict(batch)
    assert out.height == batch.height  # one output row per input row
    assert frame_problems(out, domain.outputs(predictor)) == []  # what it returns is what it declares
    # What it declares it reads is enough: the declared input columns alone score the same.
    inputs = [c.name for c in domain.inputs(predictor, data) if c.name in batch.columns]
    assert {c.name for c in domain.inputs(predictor, data) if c.required} <= set(inputs)
    alone = predictor.predict(batch.select(inputs))
    assert frame_problems(alone, domain.outputs(predictor)) == []
    assert_frame_equal(alone.drop(_timings(alone)), out.drop(_timings(out)), rel_tol=1e-9)

    monitor = domain.monitor(predictor, data)
    assert isinstance(monitor, LiveMonitor)
    rows = 0
    for result in MicroBatcher(predictor.predict, max_batch_rows=64).run(replay(events.head(300), chunk_rows=7)):
        monitor.update(result.inputs, result.outputs)
        rows += result.rows
    assert rows == 300
    assert all(isinstance(f, go.Figure) for f in monitor.charts().values()) and monitor.charts()
    assert isinstance(monitor.table(), pl.DataFrame) and monitor.table().height > 0

    report = domain.evaluate(predictor, _evaluation_sample(key, data))
    assert report.metrics and all(k == k.lower() for k in report.metrics)
    charts = domain.charts(report)
    assert charts and all(isinstance(f, go.Figure) for f in charts.values())
    assert all(isinstance(f, go.Figure) for f in domain.explore(data).values())

    if key == "credit_risk":  # the checkpoint path of the same contract
        reloaded = domain.load(load_bundle(trained_gbm_dir), torch.device("cpu"))
        assert reloaded.predict(batch).height == batch.height


def _timings(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.endswith("_ms")]  # how long a row took differs between two runs


def test_the_output_check_fails_on_an_undeclared_or_broken_column() -> None:
    """The check the contract runs can fail: a predictor returning a column it never declared,
    a declared one missing, or a value outside its declaration is each named."""
    declared = [Column("p_bad", "number", "probability", minimum=0.0, maximum=1.0),
                Column("decision", "text", "verdict", choices=("approve", "reject"))]
    good = pl.DataFrame({"p_bad": [0.1, 0.9], "decision": ["approve", "reject"]})
    assert frame_problems(good, declared) == []
    assert frame_problems(good.with_columns(pl.lit(1).alias("debug")), declared) == [
        "'debug' is returned but not declared"]
    assert frame_problems(good.drop("decision"), declared) == ["'decision' is declared but missing"]
    broken = pl.DataFrame({"p_bad": [1.5, None], "decision": ["approve", "maybe"]})
    assert frame_problems(broken, declared) == [
        "'p_bad' has 1 null(s) but is not declared nullable", "'p_bad' goes up to 1.5, above its maximum 1.0",
        "'decision' has values ['maybe'] outside its choices ['approve', 'reject']"]
    assert frame_problems(good.with_columns(pl.col("p_bad").cast(pl.String)), declared) == [
        "'p_bad' is String, declared number"]


def _evaluation_sample(key: str, data: DomainData) -> DomainData:
    """The data the contract evaluates on: all of it, except translation's 500-verse test
    split, which the offline engine needs ~15 s for on 2 cores; 60 verses exercise the same
    code (the full split is scored by the page test and the README's CLI numbers)."""
    if key != "translation":
        return data
    test = data.frame.filter(pl.col("split") == "test")
    frame = pl.concat([data.frame.filter(pl.col("split") != "test"), test.head(60)])
    return replace(data, frame=frame)


def test_errors_a_user_can_fix_share_one_base() -> None:
    """The CLI and the page print these as one clean line; another base would show as a bug."""
    from models.checkpoints import CheckpointError
    from models.device import DeviceUnavailableError
    from models.errors import DomainLensError
    from models.hub import ModelSourceError
    from models.seq2seq import GenerationTimeoutError

    for error in (CheckpointError, DeviceUnavailableError, ModelSourceError, GenerationTimeoutError):
        assert issubclass(error, DomainLensError), error


def test_open_predictor_names_what_is_wrong(tmp_path, trained_gbm_dir) -> None:
    from domains.base import DataError

    credit, imaging = registry.get("credit_risk"), registry.get("medical_imaging")
    with pytest.raises(DataError, match="unknown model 'nope' for credit_risk; choose one of: gbm"):
        registry.open_predictor(credit, "nope", torch.device("cpu"))
    with pytest.raises(DataError, match="belongs to the 'credit_risk' domain, not 'medical_imaging'"):
        registry.open_predictor(imaging, trained_gbm_dir, torch.device("cpu"))
    assert registry.open_predictor(credit, trained_gbm_dir, torch.device("cpu")).model_key == "gbm"


def test_metric_prefixes_read_as_labels() -> None:
    from domains.labels import display_name

    assert display_name("fold_auc") == "Per-fold AUC"
    assert display_name("val_log_loss") == f"Validation {display_name('log_loss').lower()}"
    assert display_name("fold_") == "Fold"  # a bare prefix is just a name


def test_open_predictor_applies_a_threshold_only_where_there_is_one(trained_gbm_dir) -> None:
    from domains.base import DataError

    credit = registry.get("credit_risk")
    tuned = registry.open_predictor(credit, trained_gbm_dir, torch.device("cpu"), threshold=0.3)
    assert tuned.threshold == 0.3  # type: ignore[attr-defined]
    stored = registry.open_predictor(credit, trained_gbm_dir, torch.device("cpu"))
    assert stored.threshold != 0.3  # type: ignore[attr-defined]  # the shared copy is unchanged
    with pytest.raises(DataError, match="outside 0-1"):
        registry.open_predictor(credit, trained_gbm_dir, torch.device("cpu"), threshold=30)
    with pytest.raises(DataError, match="no decision threshold"):
        registry.open_predictor(registry.get("translation"), "offline", torch.device("cpu"), threshold=0.5)
