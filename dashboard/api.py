"""The HTTP prediction API on Ray Serve (``domainlens serve-models``): one application per
domain at ``/v1/{domain}``, wrapping the same ``Predictor`` the pages and the CLI open
(``registry.open_predictor`` through ``domains.serving.open_model``), and a small front
application at ``/`` for health, readiness, the model list and the combined docs.

- Each domain's deployment is its own HTTP ingress: the proxy hands a request straight to the
  replica that scores it (no second hop through a gateway, which cost a third of the
  throughput on 2 cores).
- Dynamic batching: concurrent requests for one model are scored as one ``predict`` call
  (``@serve.batch``), off the replica's event loop; ``max_ongoing_requests`` is kept above the
  batch size, or Serve would cap every batch at its default of 5.
- Many checkpoints per replica: ``@serve.multiplexed`` loads a model by id (a menu key or
  ``<model>/<version>``, from ``?model=`` or the ``serve_multiplexed_model_id`` header) and
  evicts the least recently used. A request goes to a replica that has its model loaded:
  behind HAProxy by a consistent hash of the header (``dashboard.ingress``), behind Serve's
  Python proxy by Serve's router reading it. Each answer names its replica (``x-domainlens-replica``).
- Request and response schemas (``/docs``) are built from the columns each domain declares.
- Errors are JSON ``{"error", "field"}`` with the status a caller can act on, never a traceback.
- Optional API keys (``DOMAINLENS_API_KEYS``, see ``domains.access``): a Bearer key on every
  call but health and readiness, and per-key request-per-minute limits counted in one place.

No streamlit here: this face shares the dashboard package with the CLI, not its pages.
"""


import asyncio
import dataclasses
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from domains import registry
from domains.access import ApiKeys, RateBuckets, RateLimited
from domains.base import DomainLensError, Predictor
from domains.capabilities import Translator
from domains.columns import Column, json_schema
from domains.distributed import ENV
from domains.serving import (
    MAX_EXPLAIN_ROWS,
    MAX_ROWS,
    RequestError,
    checkpoint_ids,
    explanations,
    json_rows,
    open_model,
    rows_frame,
)
from domains.traffic import Answered, TrafficLog, TrafficLogError
from models.control import CancelToken
from models.device import describe_device, pick_device

ROOT_APP = "domainlens"  # the front application's name; each domain's application is named by its key
MAX_BODY_BYTES = 32 * 1024 * 1024  # a request body's size limit (an imaging batch of a few hundred images)
REPLICA_HEADER = "x-domainlens-replica"  # which replica answered (the routing tests read it)
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
    keys: ApiKeys | None = None  # None: open (and then only on loopback)
    log: bool = True  # every prediction into the prediction log (domains.traffic)
    access_log: bool = False  # one log line per request costs the replicas time under load

    def batching(self, domain: str) -> tuple[int, float]:
        return self.batch.get(domain) or BATCH.get(domain, DEFAULT_BATCH)


# Helpers the ingress classes call are defined above them: Serve serializes those classes.
@dataclass(frozen=True)
class Asked:
    """One predict request on its way into a batch."""

    model_id: str
    threshold: float | None
    frame: pl.DataFrame
    request_id: str
    key_id: str | None
    arrived: float  # perf_counter when the request came in


def _error(status: int, message: str, field_name: str | None = None, retry_after_s: float = 5.0) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(retry_after_s)))} if status in (429, 503) else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": message, "field": field_name}, status_code=status, headers=headers)


def _refusal(exc: RequestError) -> JSONResponse:
    wait = exc.retry_after_s if isinstance(exc, RateLimited) else 5.0
    return _error(exc.status, str(exc), exc.field, wait)


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


def _rows_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    rows = body.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise RequestError("the body must be {\"rows\": [{column: value, ...}, ...]}", 422, "rows")
    return rows


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own checks (a query parameter of the wrong type) in the API's error shape."""
    first = exc.errors()[0] if exc.errors() else {}
    where = first.get("loc", ["", ""])[-1]
    return _error(422, f"{where}: {first.get('msg', 'invalid value')}", str(where) or None)


async def _not_found(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """An unknown path or method in the API's error shape."""
    if exc.status_code == 404:
        return _error(404, f"no such endpoint: {request.method} {request.url.path}; see /docs", "path")
    return _error(exc.status_code, str(exc.detail))


def _api(title: str, description: str, **docs: Any) -> FastAPI:
    app = FastAPI(title=title, version="1", description=description, **docs)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _not_found)  # type: ignore[arg-type]
    return app


class Guard:
    """The API-key check and rate limit every keyed route runs first (a no-op without keys)."""

    def __init__(self, keys: ApiKeys | None) -> None:
        self.keys = keys
        self.limits: Any = None  # the shared counter, looked up on first use

    async def __call__(self, request: Request) -> str | None:
        """The caller's key id (a short digest, what the prediction log records), None without keys."""
        if self.keys is None:
            return None
        key = self.keys.check(request.headers.get("authorization"))
        per_minute = self.keys.limits[key]
        if per_minute is not None:
            if self.limits is None:
                self.limits = serve.get_deployment_handle("limits", app_name=ROOT_APP)
            wait = await self.limits.take.remote(key, per_minute)
            if wait > 0:
                raise RateLimited(wait)
        return key[:12]


def _column(column: Column) -> dict[str, Any]:
    return {"name": column.name, "type": column.type, "meaning": column.meaning, "choices": list(column.choices),
            "required": column.required, "nullable": column.nullable}


def _documented(app: FastAPI, title: str, inputs: list[Column], outputs: list[Column]) -> dict[str, Any]:
    """The app's OpenAPI document with the domain's declared rows as request and response schemas."""
    schema = app.openapi()
    name = title.replace(" ", "")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[f"{name}Input"] = json_schema(inputs, f"{title} input row")
    components[f"{name}Output"] = json_schema(outputs, f"{title} output row")
    row = {"$ref": f"#/components/schemas/{name}Input"}
    rows = {"type": "array", "minItems": 1, "maxItems": MAX_ROWS, "items": row}
    answer = {"type": "object", "properties": {
        "model": {"type": "string", "description": "the model that answered"},
        "batch_rows": {"type": "integer", "description": "rows in the batch this request was scored in"},
        "rows": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}Output"}}}}
    for path, limit in (("/predict", MAX_ROWS), ("/explain", MAX_EXPLAIN_ROWS)):
        operation = schema["paths"].get(path, {}).get("post")
        if operation is None:
            continue
        body = {"type": "object", "required": ["rows"], "properties": {"rows": {**rows, "maxItems": limit}}}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        if path == "/predict":
            operation["responses"]["200"] = {"description": "one output row per input row, in order",
                                             "content": {"application/json": {"schema": answer}}}
    app.openapi_schema = schema
    return schema


def domain_application(key: str, options: ServeOptions) -> Any:
    """One domain's Serve application: its FastAPI routes on a deployment that holds its models."""
    domain = registry.get(key)
    app = _api(f"DomainLens {domain.title} API", f"{domain.title} predictions: {domain.description}")
    size, wait = options.batching(key)

    class DomainModels:
        def __init__(self, domain_key: str, max_batch_size: int, batch_wait_timeout_s: float,
                     keys: ApiKeys | None, log: bool) -> None:
            self.domain = registry.get(domain_key)
            self.device = pick_device()
            self.guard = Guard(keys)
            self.log = TrafficLog(domain_key) if log else None
            self.default = open_model(self.domain, "", self.device)  # ready means this one is loaded
            self.reference = self.domain.load_data()  # what declared input ranges are read from
            self.declared: dict[str, list[Column]] = {}  # each model's declared inputs, worked out once
            self.loads, self.batches, self.rows, self.streams_stopped = 0, 0, 0, 0
            self.replica = serve.get_replica_context().replica_id.unique_id  # named in each answer
            # Serve's batch wrapper has these setters; its type hints do not show them.
            self.score.set_max_batch_size(max_batch_size)  # type: ignore[attr-defined]
            self.score.set_batch_wait_timeout_s(batch_wait_timeout_s)  # type: ignore[attr-defined]
            self.schema = _documented(app, self.domain.title, self.domain.inputs(self.default, self.reference),
                                      self.domain.outputs(self.default))
            self._warm()

        def _warm(self) -> None:
            """One real prediction before the replica says it is ready: what starts on first use
            (translation's engine processes: 1.7 s) starts now, not on a caller's first request."""
            try:
                self.default.predict(self.domain.stream(self.reference).head(2))
            except Exception as exc:  # the first caller waits instead; the server still starts
                print(f"{self.domain.key}: warming the default model failed ({exc})", file=sys.stderr)

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

        async def _frame(self, request: Request, model_id: str, threshold: float | None,
                         ) -> tuple[Predictor, pl.DataFrame, str | None]:
            """The caller checked, the body read and its rows typed as the model declares them;
            with the caller's key id."""
            key_id = await self.guard(request)
            rows = _rows_of(await _json_body(request))
            predictor = await self._predictor(model_id, threshold)
            if model_id not in self.declared:
                self.declared[model_id] = self.domain.inputs(predictor, self.reference)
            return predictor, rows_frame(self.domain, self.declared[model_id], rows), key_id

        @app.post("/predict")
        async def predict(self, request: Request, model: str = "", threshold: float | None = None) -> JSONResponse:
            """``{"rows": [{...}, ...]}`` in, ``{"model": ..., "rows": [...]}`` out: the columns the
            CLI's ``predict`` writes first. ``model``: a menu key or ``<model>/<version>``."""
            model_id = model or serve.get_multiplexed_model_id()
            arrived = time.perf_counter()
            try:
                _, frame, key_id = await self._frame(request, model_id, threshold)
                answer = await self.score(Asked(model_id, threshold, frame, uuid.uuid4().hex, key_id, arrived))
            except RequestError as exc:
                return _refusal(exc)
            if "error" in answer:
                return _error(int(answer["status"]), str(answer["error"]), answer.get("field"))
            return JSONResponse(answer, headers={REPLICA_HEADER: self.replica})

        @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
        async def score(self, requests: list[Asked]) -> list[dict[str, Any]]:
            """Requests for one model (and threshold) scored in one ``predict`` call, off the loop,
            and queued for the prediction log before any is answered."""
            answers: list[dict[str, Any]] = [{} for _ in requests]
            groups: dict[tuple[str, float | None], list[int]] = {}
            for i, asked in enumerate(requests):
                groups.setdefault((asked.model_id, asked.threshold), []).append(i)
            self.batches += len(groups)
            for (model_id, threshold), members in groups.items():
                predictor = await self._predictor(model_id, threshold)
                frames = [requests[i].frame for i in members]
                try:
                    scored = await asyncio.to_thread(predictor.predict, pl.concat(frames, how="diagonal_relaxed"))
                except DomainLensError as exc:
                    for i in members:
                        answers[i] = {"error": str(exc), "status": 422, "field": None}
                    continue
                self.rows += scored.height
                name = model_id or predictor.model_key
                done = time.perf_counter()
                parts, starts, start = [], [], 0
                for frame in frames:
                    parts.append(scored.slice(start, frame.height))
                    starts.append(start)
                    start += frame.height
                try:
                    if self.log is not None:
                        self.log.append([Answered(requests[i].request_id, name, requests[i].key_id,
                                                1000 * (done - requests[i].arrived), requests[i].frame, part)
                                         for i, part in zip(members, parts, strict=True)])
                except TrafficLogError as exc:  # never serve what cannot be logged
                    for i in members:
                        answers[i] = {"error": str(exc), "status": 503, "field": None}
                    continue
                rows = json_rows(scored)  # once for the batch: per request it cost more than the model
                for i, part, first in zip(members, parts, starts, strict=True):
                    answers[i] = {"model": name, "request_id": requests[i].request_id, "batch_rows": scored.height,
                                  "rows": rows[first:first + part.height]}
            return answers

        @app.post("/explain")
        async def explain(self, request: Request, model: str = "") -> JSONResponse:
            """Why the model said what it did, per row (at most 16): feature contributions (credit),
            word attributions (text) or a Grad-CAM heatmap as a PNG data URL (imaging)."""
            model_id = model or serve.get_multiplexed_model_id()
            try:
                predictor, frame, _ = await self._frame(request, model_id, None)
                explained = await asyncio.to_thread(explanations, self.domain, predictor, frame)
            except RequestError as exc:
                return _refusal(exc)
            except DomainLensError as exc:
                return _error(422, str(exc))
            return JSONResponse({"model": model_id or predictor.model_key, "explanations": explained})

        @app.post("/stream")
        async def stream(self, request: Request, model: str = "") -> Any:
            """``{"text": ..., "src": optional, "tgt": optional}`` in; the translation streamed out
            as newline-delimited JSON events (pair and detection, then pieces, then ``done``)."""
            model_id = model or serve.get_multiplexed_model_id()
            try:
                await self.guard(request)
                body = await _json_body(request)
                text = body.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise RequestError("the body must be {\"text\": \"...\"} with some text", 422, "text")
                predictor = await self._predictor(model_id, None)
                if not isinstance(predictor, Translator):
                    raise RequestError(f"{self.domain.title} does not translate; stream from /v1/translation", 404,
                                       "domain")
                detection = predictor.detect(text)
                detected = detection.language if detection.language in {a for a, _ in predictor.pairs()} else None
                translator = self.domain.configure(predictor, {"src": body.get("src") or detected,
                                                               "tgt": body.get("tgt")})
            except RequestError as exc:
                return _refusal(exc)
            except DomainLensError as exc:
                return _error(422, str(exc), "src")
            opening = {"src": translator.src, "tgt": translator.tgt, "detected": detection.language,
                       "detected_confidence": detection.confidence}
            return StreamingResponse(self._pieces(translator, text, opening), media_type="application/x-ndjson")

        async def _pieces(self, translator: Any, text: str, opening: dict[str, Any]) -> AsyncIterator[str]:
            """One JSON line per event. A caller that goes away cancels this at its next ``await``
            (Serve raises only there), and the engine stops at once."""
            yield json.dumps(opening) + "\n"
            stop = CancelToken()
            pieces = translator.stream_text(text, stop=stop)
            finished = False
            try:
                while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
                    yield json.dumps({"piece": piece}) + "\n"
                finished = True
                yield json.dumps({"done": True}) + "\n"
            finally:
                if not finished:
                    self.streams_stopped += 1
                stop.cancel("the caller went away")

        async def columns(self, model_id: str) -> dict[str, Any]:
            predictor = await self._predictor(model_id, None)
            return {"inputs": [_column(c) for c in self.domain.inputs(predictor, self.reference)],
                    "outputs": [_column(c) for c in self.domain.outputs(predictor)]}

        def openapi(self) -> dict[str, Any]:
            return self.schema

        def stats(self) -> dict[str, Any]:
            return {"loads": self.loads, "batches": self.batches, "rows": self.rows,
                    "streams_stopped": self.streams_stopped, "pid": os.getpid(),
                    "device": describe_device(self.device),
                    "logged": self.log.rows_written if self.log else None,
                    "log_problem": self.log.failure if self.log else None}

        def __del__(self) -> None:
            """Serve's graceful stop: whatever the log still holds is written."""
            log = getattr(self, "log", None)
            if log is not None:
                log.close()

    deployment = serve.deployment(
        name=key, max_ongoing_requests=max(4 * size, 32), **_scaling(options),
        ray_actor_options={"num_cpus": options.num_cpus, "num_gpus": options.num_gpus or 0.0,
                           "runtime_env": _environment()})(serve.ingress(app)(DomainModels))
    return deployment.bind(key, size, wait, options.keys, options.log)


def _scaling(options: ServeOptions) -> dict[str, Any]:
    if options.replicas == "auto":
        return {"num_replicas": "auto",
                "autoscaling_config": {"min_replicas": options.min_replicas, "max_replicas": options.max_replicas}}
    return {"num_replicas": options.replicas}


def _environment() -> dict[str, Any]:
    return {"env_vars": {k: os.environ[k] for k in ENV if k in os.environ}}


class Limits:
    """The one place request counts are kept, so a key's limit holds across replicas and domains."""

    def __init__(self) -> None:
        self.buckets = RateBuckets()

    def take(self, key: str, per_minute: int) -> float:
        return self.buckets.take(key, per_minute, time.monotonic())


front = _api("DomainLens model API", "Predictions from DomainLens models: the same models, columns and "
             "checkpoints as the dashboard and the CLI. Each domain's routes are under /v1/{domain}.",
             docs_url=None, openapi_url=None, redoc_url=None)


@serve.ingress(front)
class Front:
    """Health, readiness, the model list and the combined docs; a path under a domain that is not
    (or not yet) served lands here too."""

    def __init__(self, domains: list[str], keys: ApiKeys | None, limits: Any) -> None:
        self.domains = domains
        self.guard = Guard(keys)
        self.started = time.time()
        self.handles: dict[str, Any] = {}
        del limits  # bound only so the counter is deployed with this application

    def _handle(self, key: str) -> Any:
        if key not in self.handles:
            self.handles[key] = serve.get_deployment_handle(key, app_name=key)
        return self.handles[key]

    @front.get("/v1/health")
    async def health(self) -> dict[str, Any]:
        """Live: the server answers."""
        return {"status": "live", "uptime_s": round(time.time() - self.started, 1)}

    @front.get("/v1/ready")
    async def ready(self) -> JSONResponse:
        """Ready: every domain's default model is loaded (its replica has started)."""
        try:
            await asyncio.wait_for(asyncio.gather(*(self._handle(k).stats.remote() for k in self.domains)), 10)
        except Exception as exc:  # not deployed yet, starting, or gone
            return _error(503, f"not ready: {type(exc).__name__}")
        return JSONResponse({"status": "ready", "domains": self.domains})

    @front.get("/v1/models")
    async def models(self, request: Request) -> JSONResponse:
        """Each served domain: its menu, its checkpoints and the default model's declared columns."""
        try:
            await self.guard(request)
        except RequestError as exc:
            return _refusal(exc)
        listed = {}
        for key in self.domains:
            domain = registry.get(key)
            try:
                columns, stats = await asyncio.gather(self._handle(key).columns.remote(""),
                                                      self._handle(key).stats.remote())
            except Exception as exc:
                return _error(503, f"the {key} model is not available right now ({type(exc).__name__})")
            listed[key] = {"title": domain.title,
                           "models": [{"id": s.key, "title": s.title} for s in domain.models()],
                           "checkpoints": checkpoint_ids(key), "columns": columns, "stats": stats}
        return JSONResponse({"domains": listed})

    @front.get("/openapi.json", include_in_schema=False)
    async def openapi(self) -> JSONResponse:
        """The front's routes and every domain's, with the domains' declared row schemas."""
        document = front.openapi()
        merged = {**document, "paths": dict(document.get("paths", {})),
                  "components": {"schemas": dict(document.get("components", {}).get("schemas", {}))}}
        for key in self.domains:
            try:
                part = await self._handle(key).openapi.remote()
            except Exception:
                continue  # a domain still starting is listed once it is up
            for path, operations in part.get("paths", {}).items():
                merged["paths"][f"/v1/{key}{path}"] = operations
            merged["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
        return JSONResponse(merged)

    @front.get("/docs", include_in_schema=False)
    async def docs(self) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="DomainLens model API")

    @front.api_route("/v1/{domain}/{action:path}", methods=["GET", "POST"], include_in_schema=False)
    async def elsewhere(self, domain: str, action: str) -> JSONResponse:
        if domain in self.domains:  # its application is deploying or restarting
            return _error(503, f"the {domain} model is starting; retry shortly")
        return _error(404, f"unknown domain '{domain}'; served here: {', '.join(self.domains)}", "domain")


def applications(options: ServeOptions) -> list[Any]:
    """The Serve applications: the front at ``/`` and one per domain at ``/v1/{domain}``."""
    keys = list(options.domains or registry.domain_keys())
    for key in keys:
        registry.get(key)  # an unknown domain fails here, before anything starts
    logging = {"enable_access_log": options.access_log}
    limits = serve.deployment(name="limits", ray_actor_options={"num_cpus": 0.05})(Limits).bind()
    gateway = serve.deployment(name="front", max_ongoing_requests=1000,
                               ray_actor_options={"num_cpus": 0.05, "runtime_env": _environment()})(Front)
    targets = [serve.RunTarget(gateway.bind(keys, options.keys, limits), name=ROOT_APP, route_prefix="/",
                               logging_config=logging)]
    targets += [serve.RunTarget(domain_application(key, options), name=key, route_prefix=f"/v1/{key}",
                                logging_config=logging) for key in keys]
    return targets


def serve_until_interrupted(options: ServeOptions, address: str | None = None, ingress: str = "python") -> None:
    """Deploy on the cluster at ``address`` (or a local Ray sized to this machine) and keep the
    API up until Ctrl-C, then take it down. ``ingress`` only names what takes HTTP in (set up
    by ``dashboard.ingress`` before Ray started) for the start-up line."""
    import ray

    from models.distributed import connect

    connect(address)
    if options.num_gpus is None:
        options = dataclasses.replace(options, num_gpus=1.0 if ray.cluster_resources().get("GPU", 0) else 0.0)
    serve.start(http_options={"host": options.host, "port": options.port})
    started = time.perf_counter()
    serve.run_many(applications(options))
    keyed = "API keys required" if options.keys else "open (no API keys)"
    print(f"DomainLens model API on http://{options.host}:{options.port}/v1 (docs at /docs; {keyed}; {ingress} "
          f"ingress), ready in {time.perf_counter() - started:.0f} s; Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()
