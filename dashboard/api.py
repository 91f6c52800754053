"""The HTTP prediction API on Ray Serve (``domainlens serve-models``): one deployment per
domain wrapping the same ``Predictor`` the pages and the CLI open (``registry.open_predictor``
through ``domains.serving.open_model``), behind a FastAPI gateway.

- Dynamic batching: concurrent requests for one model are scored as one ``predict`` call
  (``@serve.batch``), off the replica's event loop; ``max_ongoing_requests`` is kept above the
  batch size, or Serve would cap every batch at its default of 5.
- Many checkpoints per replica: ``@serve.multiplexed`` loads a model by id (a menu key or
  ``<model>/<version>``) and evicts the least recently used beyond ``models_per_replica``.
- Errors are JSON ``{"error", "field"}`` with the status a caller can act on, never a traceback.

No streamlit here: this face shares the dashboard package with the CLI, not its pages.
"""


import asyncio
import dataclasses
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from ray import serve

from domains import registry
from domains.base import DomainLensError, Predictor
from domains.capabilities import Translator
from domains.columns import Column
from domains.distributed import ENV
from domains.serving import RequestError, checkpoint_ids, json_rows, open_model, rows_frame
from models.control import CancelToken
from models.device import pick_device

MAX_BODY_BYTES = 32 * 1024 * 1024  # a request body's size limit (an imaging batch of a few hundred images)
# Measured on 2 CPU cores (benchmarks/api_load.py): batches this size keep per-request latency low
# while the model runs far fewer, larger calls.
BATCH = {"credit_risk": (64, 0.005), "text_classification": (32, 0.01), "medical_imaging": (32, 0.01),
         "recommendations": (32, 0.005), "translation": (8, 0.01)}
DEFAULT_BATCH = (16, 0.01)


@dataclass(frozen=True)
class ServeOptions:
    """How the application is deployed; the defaults fit a 2-core machine."""

    domains: tuple[str, ...] = ()  # empty: every registered domain
    host: str = "127.0.0.1"
    port: int = 8000
    num_cpus: float = 0.2  # per replica: fractional, so five domains schedule on 2 cores
    num_gpus: float | None = 0.0  # None: 1 per replica when the cluster has GPUs
    replicas: int | str = 1  # or "auto" (autoscaling between min_replicas and max_replicas)
    min_replicas: int = 1
    max_replicas: int = 2
    models_per_replica: int = 3
    batch: dict[str, tuple[int, float]] = field(default_factory=dict)  # domain -> (max size, wait s)

    def batching(self, domain: str) -> tuple[int, float]:
        return self.batch.get(domain) or BATCH.get(domain, DEFAULT_BATCH)


def _error(status: int, message: str, field_name: str | None = None) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": message, "field": field_name}, status_code=status, headers=headers)


def domain_deployment(options: ServeOptions) -> Any:
    """The per-domain deployment class, sized by ``options`` (multiplexing's LRU size is fixed
    when the class is made)."""

    class DomainModels:
        def __init__(self, domain_key: str, max_batch_size: int, batch_wait_timeout_s: float) -> None:
            self.domain = registry.get(domain_key)
            self.device = pick_device()
            self.default = open_model(self.domain, "", self.device)  # ready means this one is loaded
            self.reference = self.domain.load_data()  # what declared input ranges are read from
            self.declared: dict[str, list[Column]] = {}  # each model's declared inputs, worked out once
            self.loads, self.batches, self.rows, self.streams_stopped = 0, 0, 0, 0
            # Serve's batch wrapper has these setters; its type hints do not show them.
            self.score.set_max_batch_size(max_batch_size)  # type: ignore[attr-defined]
            self.score.set_batch_wait_timeout_s(batch_wait_timeout_s)  # type: ignore[attr-defined]

        @serve.multiplexed(max_num_models_per_replica=options.models_per_replica)
        async def model(self, model_id: str) -> Predictor:
            """A named model, loaded on first use (off the loop) and kept while recently used."""
            self.loads += 1
            return await asyncio.to_thread(open_model, self.domain, model_id, self.device)

        async def _predictor(self, model_id: str, threshold: float | None) -> Predictor:
            predictor = await self.model(model_id) if model_id else self.default
            if threshold is None:
                return predictor
            try:
                return registry.decide_at(self.domain, predictor, threshold)
            except DomainLensError as exc:
                raise RequestError(str(exc), 422, "threshold") from exc

        async def predict(self, model_id: str, threshold: float | None, rows: list[dict[str, Any]]) -> dict[str, Any]:
            """One request: its rows checked and typed here, then scored in a batch with others."""
            try:
                predictor = await self._predictor(model_id, threshold)
                if model_id not in self.declared:
                    self.declared[model_id] = self.domain.inputs(predictor, self.reference)
                frame = rows_frame(self.domain, self.declared[model_id], rows)
            except RequestError as exc:
                return {"error": str(exc), "status": exc.status, "field": exc.field}
            except DomainLensError as exc:
                return {"error": str(exc), "status": 422, "field": None}
            return await self.score((model_id, threshold, frame))

        @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
        async def score(self, requests: list[tuple[str, float | None, pl.DataFrame]]) -> list[dict[str, Any]]:
            """Requests for one model (and threshold) scored in one ``predict`` call, off the loop."""
            answers: list[dict[str, Any]] = [{} for _ in requests]
            groups: dict[tuple[str, float | None], list[int]] = {}
            for i, (model_id, threshold, _) in enumerate(requests):
                groups.setdefault((model_id, threshold), []).append(i)
            self.batches += len(groups)
            for (model_id, threshold), members in groups.items():
                predictor = await self._predictor(model_id, threshold)
                frames = [requests[i][2] for i in members]
                try:
                    scored = await asyncio.to_thread(predictor.predict, pl.concat(frames, how="diagonal_relaxed"))
                except DomainLensError as exc:
                    for i in members:
                        answers[i] = {"error": str(exc), "status": 422, "field": None}
                    continue
                self.rows += scored.height
                start = 0
                for i, frame in zip(members, frames, strict=True):
                    answers[i] = {"model": model_id or predictor.model_key, "batch_rows": scored.height,
                                  "rows": json_rows(scored.slice(start, frame.height))}
                    start += frame.height
            return answers

        async def columns(self, model_id: str) -> dict[str, Any]:
            predictor = await self._predictor(model_id, None)
            return {"inputs": [_column(c) for c in self.domain.inputs(predictor, self.reference)],
                    "outputs": [_column(c) for c in self.domain.outputs(predictor)]}

        async def stream(self, model_id: str, text: str, src: str | None, tgt: str | None) -> AsyncIterator[str]:
            """A translation as it is produced, one JSON line per event: the pair and the detected
            language first, then each piece, then ``done``. A caller that goes away cancels this
            at its next ``await`` (Serve raises only there), and the engine stops at once."""
            try:
                predictor = await self._predictor(model_id, None)
            except RequestError as exc:
                yield json.dumps({"error": str(exc), "status": exc.status, "field": exc.field})
                return
            if not isinstance(predictor, Translator):
                yield json.dumps({"error": f"{self.domain.title} does not translate", "status": 404})
                return
            detection = predictor.detect(text)
            try:
                detected = detection.language if detection.language in {a for a, _ in predictor.pairs()} else None
                translator = self.domain.configure(predictor, {"src": src or detected, "tgt": tgt})
            except DomainLensError as exc:
                yield json.dumps({"error": str(exc), "status": 422, "field": "src"})
                return
            yield json.dumps({"src": translator.src, "tgt": translator.tgt, "detected": detection.language,
                              "detected_confidence": detection.confidence})
            stop = CancelToken()
            pieces = translator.stream_text(text, stop=stop)
            finished = False
            try:
                while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
                    yield json.dumps({"piece": piece})
                finished = True
                yield json.dumps({"done": True})
            finally:
                if not finished:
                    self.streams_stopped += 1
                stop.cancel("the caller went away")

        def stats(self) -> dict[str, int]:
            return {"loads": self.loads, "batches": self.batches, "rows": self.rows,
                    "streams_stopped": self.streams_stopped}

    return DomainModels


def _column(column: Any) -> dict[str, Any]:
    return {"name": column.name, "type": column.type, "meaning": column.meaning, "choices": list(column.choices),
            "required": column.required, "nullable": column.nullable}


app = FastAPI(title="DomainLens model API", version="1",
              description="Predictions from DomainLens models: the same models, columns and checkpoints as the "
                          "dashboard and the CLI.")


def _unavailable(domain: str, exc: Exception) -> JSONResponse:
    """A replica that died, is restarting or turns requests away: 503 with Retry-After (Serve
    starts a new replica by itself); the cause's type only, never a traceback."""
    return _error(503, f"the {domain} model is not available right now ({type(exc).__name__}); retry shortly")


# Helpers the gateway calls are defined above it: Serve serializes the ingress class when it is made.
async def _json_body(request: Request) -> dict[str, Any]:
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY_BYTES:
        raise RequestError(f"the body is {size:,} bytes; at most {MAX_BODY_BYTES:,}", 413)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise RequestError(f"the body is {len(raw):,} bytes; at most {MAX_BODY_BYTES:,}", 413)
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise RequestError(f"malformed JSON: {exc}", 400) from exc
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object: {\"rows\": [...]}", 400)
    return body


@app.exception_handler(RequestValidationError)
async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own checks (a query parameter of the wrong type) in the API's error shape."""
    first = exc.errors()[0] if exc.errors() else {}
    where = first.get("loc", ["", ""])[-1]
    return _error(422, f"{where}: {first.get('msg', 'invalid value')}", str(where) or None)


@serve.ingress(app)
class Gateway:
    """Routes, checks and limits; the models live in the per-domain deployments."""

    def __init__(self, handles: dict[str, Any]) -> None:
        self.handles = handles
        self.started = time.time()

    def _handle(self, domain: str) -> Any:
        if domain not in self.handles:
            raise RequestError(f"unknown domain '{domain}'; served here: {', '.join(self.handles)}", 404, "domain")
        return self.handles[domain]

    @app.get("/v1/health")
    async def health(self) -> dict[str, Any]:
        """Live: the gateway answers."""
        return {"status": "live", "uptime_s": round(time.time() - self.started, 1)}

    @app.get("/v1/ready")
    async def ready(self) -> JSONResponse:
        """Ready: every domain's default model is loaded (its replica has started)."""
        try:
            await asyncio.gather(*(h.stats.remote() for h in self.handles.values()))
        except Exception as exc:
            return _error(503, f"not ready: {type(exc).__name__}")
        return JSONResponse({"status": "ready", "domains": list(self.handles)})

    @app.get("/v1/models")
    async def models(self) -> dict[str, Any]:
        """Each served domain: its menu, its checkpoints and the default model's declared columns."""
        listed = {}
        for key, handle in self.handles.items():
            domain = registry.get(key)
            listed[key] = {"title": domain.title,
                           "models": [{"id": s.key, "title": s.title} for s in domain.models()],
                           "checkpoints": checkpoint_ids(key),
                           "columns": await handle.columns.remote(""),
                           "stats": await handle.stats.remote()}
        return {"domains": listed}

    @app.post("/v1/{domain}/predict")
    async def predict(self, domain: str, request: Request, model: str = "",
                      threshold: float | None = None) -> JSONResponse:
        """``{"rows": [{...}, ...]}`` in, ``{"model": ..., "rows": [...]}`` out: the columns the
        CLI's ``predict`` writes first. ``model``: a menu key or ``<model>/<version>``."""
        try:
            handle = self._handle(domain)
            body = await _json_body(request)
            rows = body.get("rows")
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise RequestError("the body must be {\"rows\": [{column: value, ...}, ...]}", 422, "rows")
        except RequestError as exc:
            return _error(exc.status, str(exc), exc.field)
        try:
            answer = await handle.options(multiplexed_model_id=model).predict.remote(model, threshold, rows)
        except Exception as exc:  # the replica is gone or overloaded: the caller may retry
            return _unavailable(domain, exc)
        if "error" in answer:
            return _error(int(answer["status"]), str(answer["error"]), answer.get("field"))
        return JSONResponse(answer)

    @app.post("/v1/{domain}/stream")
    async def stream(self, domain: str, request: Request, model: str = "") -> Any:
        """``{"text": ..., "src": optional, "tgt": optional}`` in; the translation streamed out as
        newline-delimited JSON events (pair and detection, then pieces, then ``done``)."""
        try:
            handle = self._handle(domain)
            body = await _json_body(request)
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                raise RequestError("the body must be {\"text\": \"...\"} with some text", 422, "text")
        except RequestError as exc:
            return _error(exc.status, str(exc), exc.field)
        events = handle.options(stream=True, multiplexed_model_id=model).stream.remote(
            model, text, body.get("src"), body.get("tgt"))
        try:
            first = await events.__anext__()
        except Exception as exc:
            return _unavailable(domain, exc)
        if "error" in (opening := json.loads(first)):
            return _error(int(opening["status"]), str(opening["error"]), opening.get("field"))

        async def lines() -> AsyncIterator[str]:
            yield first + "\n"
            async for event in events:
                yield event + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")


def application(options: ServeOptions) -> Any:
    """The Serve application: one deployment per domain and the gateway in front of them."""
    keys = options.domains or tuple(registry.domain_keys())
    for key in keys:
        registry.get(key)  # an unknown domain fails here, before anything starts
    env = {"env_vars": {k: os.environ[k] for k in ENV if k in os.environ}}
    scaling: dict[str, Any] = {"num_replicas": options.replicas}
    if options.replicas == "auto":
        scaling["autoscaling_config"] = {"min_replicas": options.min_replicas, "max_replicas": options.max_replicas}
    models = domain_deployment(options)
    handles = {}
    for key in keys:
        size, wait = options.batching(key)
        deploy = serve.deployment(name=key, max_ongoing_requests=max(4 * size, 32), **scaling,
                                  ray_actor_options={"num_cpus": options.num_cpus, "num_gpus": options.num_gpus or 0.0,
                                                     "runtime_env": env})
        handles[key] = deploy(models).bind(key, size, wait)
    gateway = serve.deployment(name="gateway", max_ongoing_requests=1000,
                               ray_actor_options={"num_cpus": 0.1, "runtime_env": env})(Gateway)
    return gateway.bind(handles)


def serve_until_interrupted(options: ServeOptions, address: str | None = None) -> None:
    """Deploy on the cluster at ``address`` (or a local Ray sized to this machine) and keep the
    API up until Ctrl-C, then take it down."""
    import ray

    from models.distributed import connect

    connect(address)
    if options.num_gpus is None:
        options = dataclasses.replace(options, num_gpus=1.0 if ray.cluster_resources().get("GPU", 0) else 0.0)
    serve.start(http_options={"host": options.host, "port": options.port})
    started = time.perf_counter()
    serve.run(application(options), name="domainlens", route_prefix="/")
    print(f"DomainLens model API on http://{options.host}:{options.port}/v1 (docs at /docs), ready in "
          f"{time.perf_counter() - started:.0f} s; Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
