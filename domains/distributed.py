"""Domain glue for scoring on a Ray cluster (``models.distributed``): what each actor runs
is the domain's own ``Predictor.predict``, opened the same way the CLI and the dashboard
open it, and its rows look exactly like the in-process ``predict``'s (outputs, then the
inputs, raw pixel bytes left out)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from domains import registry
from domains.base import DataError
from models.device import pick_device
from models.distributed import ProgressFn, RayOptions, ScoreFn, head, score
from models.streaming import with_inputs

# Settings the actors need to find the same data, cached models and offline mode as the driver.
ENV = ("DOMAINLENS_HOME", "DOMAINLENS_DATA", "DOMAINLENS_DEVICE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
       "HF_HOME", "CT2_USE_MKL")


def scored_rows(predict: ScoreFn, frame: pl.DataFrame) -> pl.DataFrame:
    """A batch's predictions beside its inputs, as every batch path writes them."""
    return with_inputs(predict(frame), frame).select(pl.exclude(pl.Binary))


@dataclass(frozen=True)
class OpenPredictor:
    """Picklable recipe for an actor's scoring function: a domain and a model (menu key or
    checkpoint). ``files`` carries a checkpoint's bytes to workers without a shared disk;
    without it the checkpoint path is read where it is (shared storage, or one machine)."""

    domain: str
    model: str
    checkpoint: bool
    device: str = "auto"
    files: dict[str, bytes] = field(default_factory=dict)

    def __call__(self) -> ScoreFn:
        domain = registry.get(self.domain)
        if self.checkpoint and self.files:
            folder = Path(tempfile.mkdtemp(prefix="domainlens-shipped-"))
            for name, payload in self.files.items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(payload)
            model: str | Path = folder
        else:
            model = Path(self.model) if self.checkpoint else self.model
        predictor = registry.open_predictor(domain, model, pick_device(self.device))
        return lambda frame: scored_rows(predictor.predict, frame)


def ship(folder: Path) -> dict[str, bytes]:
    """A checkpoint folder as bytes by relative path, to travel with the job."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def predict_on_ray(domain_key: str, model: str | Path, source: str, output: Path, options: RayOptions, *,
                   device: str = "auto", ship_checkpoint: bool | None = None,
                   on_progress: ProgressFn | None = None) -> int:
    """Score ``source`` on Ray into ``output`` with the domain's model; returns rows written.
    A checkpoint is shipped to the workers with the job when joining a cluster (any
    ``address``: its other nodes do not see this machine's disk) unless ``ship_checkpoint``
    is False (a path on storage every node mounts, read in place)."""
    checkpoint = isinstance(model, Path)
    if checkpoint and not Path(model).is_dir():
        raise DataError(f"{model}: no such checkpoint folder")
    if ship_checkpoint is None:
        ship_checkpoint = checkpoint and options.address is not None
    files = ship(Path(model)) if checkpoint and ship_checkpoint else {}
    recipe = OpenPredictor(domain_key, str(model), checkpoint, device, files)
    # Opened once here: a bad model, or input without the columns it needs, fails before any
    # cluster work; a menu entry fitted on first use is fitted once, not in every actor.
    first_rows = head(source)
    scorer = recipe()
    if first_rows is not None:
        scorer(first_rows)
    return score(source, output, recipe, options, env={k: os.environ[k] for k in ENV if k in os.environ},
                 on_progress=on_progress)
