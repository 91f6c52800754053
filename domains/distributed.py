"""Domain glue for scoring on a Ray cluster (``models.distributed``): what each actor runs
is the domain's own ``Predictor.predict``, opened the same way the CLI and the dashboard
open it, and its rows look exactly like the in-process ``predict``'s (outputs, then the
inputs, raw pixel bytes left out)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from domains import registry
from domains.base import DataError, DomainData, Predictor, Report
from domains.capabilities import HasScoredEvaluation
from models.control import ProgressFn
from models.device import pick_device
from models.distributed import RayOptions, ScoreFn, head, score, score_frame_on_ray
from models.streaming import with_inputs

# Settings Ray workers (scoring actors, the model API's replicas) need to find the same data,
# cached models and offline mode as the process that started them.
ENV = ("DOMAINLENS_HOME", "DOMAINLENS_DATA", "DOMAINLENS_CACHE", "DOMAINLENS_DEVICE", "HF_HUB_OFFLINE",
       "TRANSFORMERS_OFFLINE", "HF_HOME", "CT2_USE_MKL")


def scored_rows(predict: ScoreFn, frame: pl.DataFrame) -> pl.DataFrame:
    """A batch's predictions beside its inputs, as every batch path writes them."""
    return with_inputs(predict(frame), frame).select(pl.exclude(pl.Binary))


@dataclass(frozen=True)
class OpenPredictor:
    """Picklable recipe for an actor's scoring function: a domain and a model (menu key or
    checkpoint), and the domain's options it is configured with (a translator's pair).
    ``files`` carries a checkpoint's bytes to workers without a shared disk; without it the
    checkpoint path is read where it is (shared storage, or one machine)."""

    domain: str
    model: str
    checkpoint: bool
    device: str = "auto"
    files: dict[str, bytes] = field(default_factory=dict)
    options: tuple[tuple[str, Any], ...] = ()  # ``Domain.data_options`` values (``Domain.configure``)
    threshold: float | None = None  # replaces a thresholded model's stored one
    for_evaluation: bool = False  # run the domain's evaluation_predictions instead of predict

    def open(self) -> Predictor:
        domain = registry.get(self.domain)
        if self.checkpoint and self.files:
            folder = Path(tempfile.mkdtemp(prefix="domainlens-shipped-"))
            for name, payload in self.files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(payload)
            model: str | Path = folder
        else:
            model = Path(self.model) if self.checkpoint else self.model
        return registry.open_predictor(domain, model, pick_device(self.device), options=dict(self.options),
                                       threshold=self.threshold)

    def __call__(self) -> ScoreFn:
        predictor = self.open()
        if self.for_evaluation:
            domain = registry.get(self.domain)
            assert isinstance(domain, HasScoredEvaluation)
            return lambda frame: scored_rows(lambda rows: domain.evaluation_predictions(predictor, rows), frame)
        return lambda frame: scored_rows(predictor.predict, frame)


def ship(folder: Path) -> dict[str, bytes]:
    """A checkpoint folder as bytes by relative path, to travel with the job."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def recipe_for(domain_key: str, model: str | Path, options: RayOptions, *, device: str = "auto",
               ship_checkpoint: bool | None = None, configure: Mapping[str, Any] | None = None,
               threshold: float | None = None) -> OpenPredictor:
    """How the actors open ``model``. A checkpoint is shipped with the job when joining a
    cluster (any ``address``: its other nodes do not see this machine's disk) unless
    ``ship_checkpoint`` is False (a path on storage every node mounts, read in place)."""
    checkpoint = isinstance(model, Path)
    if checkpoint and not Path(model).is_dir():
        raise DataError(f"{model}: no such checkpoint folder")
    if ship_checkpoint is None:
        ship_checkpoint = checkpoint and options.address is not None
    files = ship(Path(model)) if checkpoint and ship_checkpoint else {}
    chosen = tuple(sorted((k, v) for k, v in (configure or {}).items() if v is not None))
    return OpenPredictor(domain_key, str(model), checkpoint, device, files, chosen, threshold)


def _job_env() -> dict[str, str]:
    return {k: os.environ[k] for k in ENV if k in os.environ}


def predict_on_ray(domain_key: str, model: str | Path, source: str, output: Path, options: RayOptions, *,
                   device: str = "auto", ship_checkpoint: bool | None = None,
                   configure: Mapping[str, Any] | None = None, threshold: float | None = None,
                   on_progress: ProgressFn | None = None) -> int:
    """Score ``source`` on Ray into ``output`` with the domain's model; returns rows written."""
    recipe = recipe_for(domain_key, model, options, device=device, ship_checkpoint=ship_checkpoint,
                        configure=configure, threshold=threshold)
    # Opened once here: a bad model, or input without the columns it needs, fails before any
    # cluster work; a menu entry fitted on first use is fitted once, not in every actor.
    first_rows = head(source)
    scorer = recipe()
    if first_rows is not None:
        scorer(first_rows)
    return score(source, output, recipe, options, env=_job_env(), on_progress=on_progress)


ROW = "_domainlens_row"  # where each evaluation row was, to put Ray's unordered output back in order


def score_written(rows: pl.DataFrame, output: Path, recipe: OpenPredictor, options: RayOptions,
                  on_progress: ProgressFn | None) -> int:
    """Score ``rows`` on Ray into files under ``output`` (a folder every node can write and
    this machine can read, e.g. shared storage), through a Parquet copy of the rows beside it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".domainlens-rows-", dir=output.parent) as scratch:
        source = Path(scratch) / "rows.parquet"
        rows.write_parquet(source)
        return score(str(source), output, recipe, options, env=_job_env(), on_progress=on_progress)


def evaluate_on_ray(domain_key: str, model: str | Path, data: DomainData, split: str, options: RayOptions, *,
                    device: str = "auto", ship_checkpoint: bool | None = None, output: Path | None = None,
                    on_progress: ProgressFn | None = None) -> Report:
    """``Domain.evaluate``'s report, with the scoring done on Ray: the split's rows are scored
    by the actors (written to ``output`` when given), and the metrics are reduced here on the
    driver from every written prediction, so they are exact, not estimates."""
    domain = registry.get(domain_key)
    if not isinstance(domain, HasScoredEvaluation):
        raise DataError(f"{domain.title} does not evaluate on Ray yet: its metrics rank each user's held-out "
                        "items against the whole catalogue; run `evaluate` without --backend ray")
    configure = {f.name: data.info.get(f.name) for f in domain.data_options()}  # e.g. the data's languages
    recipe = recipe_for(domain_key, model, options, device=device, ship_checkpoint=ship_checkpoint,
                        configure=configure)
    recipe = dataclasses.replace(recipe, for_evaluation=True)
    predictor = recipe.open()
    rows = domain.evaluation_rows(predictor, data, split)
    outputs = domain.evaluation_predictions(predictor, rows.head(1)).columns  # also: the model reads these rows
    numbered = rows.select(pl.exclude(ROW)).with_row_index(ROW)
    started = time.perf_counter()
    if output is not None:  # keep the scored rows: written where the cluster writes, then read back
        written = score_written(numbered, output, recipe, options, on_progress)
        predictions = pl.scan_parquet(output / "*.parquet").select(ROW, *outputs).collect()
    else:  # the rows go to the actors and the predictions come back through the object store
        predictions = score_frame_on_ray(numbered, [ROW, *outputs], recipe, options, env=_job_env(),
                                         on_progress=on_progress)
        written = predictions.height
    seconds = time.perf_counter() - started
    predictions = predictions.sort(ROW)
    if written != rows.height or not predictions[ROW].equals(pl.Series(ROW, range(rows.height), pl.UInt32)):
        raise DataError(f"Ray returned {written} scored rows for {rows.height}; the evaluation needs every row once")
    # Its speed metric is the cluster's, actor start-up included.
    report = domain.evaluate_scored(predictor, data, rows, predictions.drop(ROW), split=split, seconds=seconds)
    report.metrics["ray_rows_per_s"] = rows.height / max(seconds, 1e-9)
    return report
