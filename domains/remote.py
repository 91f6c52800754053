"""A model that scores on the model server (``DOMAINLENS_MODEL_SERVER=http://host:8000``) behind
the same ``Predictor`` protocol, so the pages and the CLI do not change.

The remote model is the in-process one with its ``predict`` sent to the server: everything
else (labels, explanations, charts, its threshold) stays with the local copy, which is also
what a page falls back to when the server is down. Its class is a subclass made on the fly
of the local model's class, so every ``isinstance`` check a domain makes still holds."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from domains import registry
from domains.base import Predictor
from domains.capabilities import Thresholded
from domains.client import ModelServerClient, request_rows
from domains.serving import POLARS_TYPES
from models.checkpoints import artifacts_root

SERVER_ENV = "DOMAINLENS_MODEL_SERVER"
KEY_ENV = "DOMAINLENS_API_KEY"  # the key a client sends when the server has keys on


def server_url() -> str | None:
    """The model server the faces score through, or None to score in-process (the default)."""
    return os.environ.get(SERVER_ENV, "").strip().rstrip("/") or None


def client_for(url: str, timeout_s: float = 60.0) -> ModelServerClient:
    return ModelServerClient(url, api_key=os.environ.get(KEY_ENV) or None, timeout_s=timeout_s, retries=1)


def model_id(domain_key: str, model: str | Path) -> str:
    """The id the server knows a model by: a menu key as it is, a checkpoint folder under the
    artifacts as ``<model>/<version>`` (the server reads the same artifacts folder)."""
    if isinstance(model, str) and "/" not in model and not Path(model).is_dir():
        return model.removeprefix("spec:")
    folder = Path(model).resolve()
    base = (artifacts_root() / domain_key).resolve()
    if base not in folder.parents:
        raise ValueError(f"{folder} is not under {base}: the model server cannot open it")
    return folder.relative_to(base).as_posix()


def served(predictor: Predictor, domain_key: str, model: str, client: ModelServerClient) -> Predictor:
    """``predictor`` with its scoring done by the server's copy of ``model``."""
    remote = copy.copy(predictor)
    object.__setattr__(remote, "__class__", _remote_class(type(predictor)))  # frozen dataclasses too
    remote.__dict__["_served"] = (domain_key, model, client)
    return remote


def local_of(predictor: Predictor) -> Predictor:
    """The in-process model behind a served one (itself when it is not served)."""
    if "_served" not in getattr(predictor, "__dict__", {}):
        return predictor
    local = copy.copy(predictor)
    object.__setattr__(local, "__class__", type(predictor).__mro__[1])
    del local.__dict__["_served"]
    return local


def where(predictor: Predictor) -> str | None:
    """The server URL a model scores on, or None for in-process."""
    found = getattr(predictor, "__dict__", {}).get("_served")
    return found[2].url if found else None


@cache
def _remote_class(base: type) -> type:
    def predict(self: Any, frame: pl.DataFrame) -> pl.DataFrame:
        domain_key, model, client = self.__dict__["_served"]
        threshold = self.threshold if isinstance(self, Thresholded) else None
        rows = client.predict_json(domain_key, request_rows(frame), model=model, threshold=threshold)["rows"]
        domain = registry.get(domain_key)
        # JSON loses the difference between 1 and 1.0: scalars are typed as declared; lists as inferred.
        schema = {c.name: POLARS_TYPES[c.type] for c in domain.outputs(self) if c.type not in ("list", "struct")}
        answer = pl.DataFrame(rows, infer_schema_length=None)
        return answer.with_columns(pl.col(n).cast(t, strict=False) for n, t in schema.items() if n in answer.columns)

    def with_threshold(self: Any, threshold: float) -> Predictor:
        domain_key, model, client = self.__dict__["_served"]
        local: Any = local_of(self)
        return served(local.with_threshold(threshold), domain_key, model, client)

    members: dict[str, Any] = {"predict": predict, "__doc__": f"{base.__name__}, scored on the model server"}
    if hasattr(base, "with_threshold"):
        members["with_threshold"] = with_threshold
    return type(f"Served{base.__name__}", (base,), members)
