"""A Python client for the DomainLens model API (``domainlens serve-models``): what the tests,
the dashboard and notebooks use to call a served model. Rows go in as a polars frame or a list
of dicts and come back as a polars frame; a 503 (starting, overloaded) is retried after the
server's ``Retry-After``; any other error raises ``ApiError`` with the server's message."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl
import polars.selectors as cs

from domains.base import DomainLensError

MODEL_HEADER = "serve_multiplexed_model_id"  # Ray Serve's name for a request's model id


class ApiError(DomainLensError):
    """The server refused a request: its status, message and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.field = status, message, field


class ModelServerClient:
    def __init__(self, url: str = "http://127.0.0.1:8000", *, api_key: str | None = None, timeout_s: float = 60.0,
                 retries: int = 3) -> None:
        self.url, self.api_key, self.timeout_s, self.retries = url.rstrip("/"), api_key, timeout_s, retries

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health")

    def ready(self) -> bool:
        try:
            return self._call("GET", "/v1/ready", retries=0).get("status") == "ready"
        except (ApiError, OSError):
            return False

    def ready_domains(self) -> list[str]:
        """The domains served, once every one has its default model loaded; ``ApiError`` (503)
        while the server starts or when it does not answer."""
        return list(self._call("GET", "/v1/ready", retries=0)["domains"])

    def models(self) -> dict[str, Any]:
        """Every served domain: its menu, checkpoints and the default model's declared columns."""
        return dict(self._call("GET", "/v1/models")["domains"])

    def predict(self, domain: str, rows: pl.DataFrame | Sequence[Mapping[str, Any]], *, model: str = "",
                threshold: float | None = None) -> pl.DataFrame:
        """The model's output rows for ``rows`` (``model``: a menu key or ``<model>/<version>``)."""
        return pl.DataFrame(self.predict_json(domain, rows, model=model, threshold=threshold)["rows"])

    def predict_json(self, domain: str, rows: pl.DataFrame | Sequence[Mapping[str, Any]], *, model: str = "",
                     threshold: float | None = None) -> dict[str, Any]:
        """The server's whole answer: ``model``, ``rows`` and ``batch_rows`` (the batch it was scored in)."""
        query = {k: v for k, v in (("model", model), ("threshold", threshold)) if v not in ("", None)}
        listed = request_rows(rows) if isinstance(rows, pl.DataFrame) else [dict(r) for r in rows]
        path = f"/v1/{urllib.parse.quote(domain)}/predict" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return self._call("POST", path, {"rows": listed}, model=model)

    def explain(self, domain: str, rows: pl.DataFrame | Sequence[Mapping[str, Any]], *,
                model: str = "") -> list[dict[str, Any]]:
        """Why the model said what it did, one object per row (at most 16): feature contributions
        (credit), word attributions (text) or a Grad-CAM heatmap as a PNG data URL (imaging)."""
        query = f"?{urllib.parse.urlencode({'model': model})}" if model else ""
        listed = request_rows(rows) if isinstance(rows, pl.DataFrame) else [dict(r) for r in rows]
        return list(self._call("POST", f"/v1/{urllib.parse.quote(domain)}/explain{query}", {"rows": listed},
                               model=model)["explanations"])

    def stream_translation(self, text: str, *, src: str | None = None, tgt: str | None = None,
                           model: str = "") -> Iterator[dict[str, Any]]:
        """The translation's events as the server produces them: ``{"src", "tgt", "detected", ...}``
        first, then ``{"piece": ...}`` each, then ``{"done": true}``. Closing the iterator early
        closes the connection, and the server stops translating."""
        path = "/v1/translation/stream" + (f"?{urllib.parse.urlencode({'model': model})}" if model else "")
        body = json.dumps({"text": text, "src": src, "tgt": tgt}).encode()
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers=self._headers(model))
        try:
            answer = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            payload = _error_payload(exc)
            raise ApiError(exc.code, str(payload.get("error") or exc.reason), payload.get("field")) from None
        with answer:
            for line in answer:
                if line.strip():
                    yield dict(json.loads(line))

    def _headers(self, model: str = "") -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if model:  # besides ?model=: Serve's Python proxy routes by this header to a replica that has it
            headers[MODEL_HEADER] = model
        return headers

    def _call(self, method: str, path: str, body: Any = None, retries: int | None = None,
              model: str = "") -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            request = urllib.request.Request(self.url + path, data=data, method=method, headers=self._headers(model))
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                    return dict(json.loads(answer.read()))
            except urllib.error.HTTPError as exc:
                payload = _error_payload(exc)
                # 503: starting or overloaded. A 500 without the API's error shape is Serve's own
                # answer when a replica died mid-request; a prediction is safe to ask again.
                if attempt < retries and (exc.code == 503 or (exc.code == 500 and "error" not in payload)):
                    time.sleep(float(exc.headers.get("Retry-After") or 1))
                    continue
                raise ApiError(exc.code, str(payload.get("error") or exc.reason), payload.get("field")) from None
            except (ConnectionError, urllib.error.URLError) as exc:  # refused or reset: the server is down
                if attempt < retries and isinstance(getattr(exc, "reason", exc), ConnectionResetError):
                    time.sleep(1.0)
                    continue
                raise ApiError(503, f"the model server at {self.url} did not answer ({exc}); is it running?") from None
        raise AssertionError("unreachable")  # the loop returns or raises


def request_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame as the API reads rows: JSON values, raw bytes (an image's pixels) as base64."""
    encoded = frame.with_columns(cs.binary().map_elements(lambda b: base64.b64encode(b).decode(),
                                                          return_dtype=pl.String),
                                 cs.temporal().cast(pl.String))
    return encoded.to_dicts()


def _error_payload(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        found = json.loads(exc.read() or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
