"""Load on the model API: 32 concurrent clients sending single-row requests, with Serve's dynamic
batching as deployed (``domainlens serve-models``) against the same server with
``max_batch_size=1``, and against Ray Serve's Python proxy in place of HAProxy, in one run on
one machine.

    python -m benchmarks.api_load [--clients 32] [--seconds 15] [--domains credit_risk text_classification]

Prints requests/s, p50/p95 latency and the mean batch a request was scored in, per domain and
setting, the ratio of requests/s batching gives, what the prediction log costs (the same
server with ``--no-prediction-log``) and what HAProxy gives (``--ingress python``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from domains.client import ModelServerClient


def start(home: Path, domains: list[str], batch: list[str], extra: tuple[str, ...] = (),
          ) -> tuple[subprocess.Popen[bytes], ModelServerClient]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    flags = [arg for spec in batch for arg in ("--batch", spec)]
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve-models", "--port", str(port),
                             "--domains", *domains, *flags, *extra], env={**os.environ, "DOMAINLENS_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    client = ModelServerClient(f"http://127.0.0.1:{port}", timeout_s=120)
    deadline = time.monotonic() + 600
    while not client.ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the model server did not start")
        time.sleep(1.0)
    return proc, client


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def sample_rows(domain: str, n: int = 200) -> list[dict[str, Any]]:
    from domains import registry

    events = registry.get(domain).stream(registry.get(domain).load_data()).head(n)
    if domain == "text_classification":
        events = events.select("text")
    return events.select(pl.exclude(pl.Binary)).to_dicts()


def load(url: str, domain: str, rows: list[dict[str, Any]], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` callers, each sending one single-row request after the other over its own
    kept-alive connection (one event loop, so the load generator itself stays cheap)."""
    return asyncio.run(_load(url, domain, rows, clients, seconds))


async def _load(url: str, domain: str, rows: list[dict[str, Any]], clients: int,
                seconds: float) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    batches: list[int] = []
    bodies = [json.dumps({"rows": [row]}).encode() for row in rows]
    target = f"{url}/v1/{domain}/predict"
    headers = {"Content-Type": "application/json"}

    async def caller(session: aiohttp.ClientSession, offset: int, end: float) -> None:
        i = offset
        while time.monotonic() < end:
            started = time.perf_counter()
            async with session.post(target, data=bodies[i % len(bodies)], headers=headers) as answer:
                payload = await answer.json()
                if answer.status != 200:
                    raise SystemExit(f"{domain}: {answer.status} {payload}")
            latencies.append(time.perf_counter() - started)
            batches.append(int(payload["batch_rows"]))
            i += clients

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        await caller(session, 0, time.monotonic() + 2.0)  # warm the path (code, caches, connections)
        latencies.clear()
        batches.clear()
        started = time.perf_counter()
        end = time.monotonic() + seconds
        await asyncio.gather(*(caller(session, k, end) for k in range(clients)))
        wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests_per_s": len(latencies) / wall, "p50_ms": 1000 * statistics.median(ordered),
            "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))], "mean_batch": statistics.mean(batches),
            "requests": float(len(latencies))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--domains", nargs="+", default=["credit_risk", "text_classification"])
    parser.add_argument("--home", type=Path, default=None, help="artifacts folder (default: a new one)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="domainlens-api-load-"))
    os.environ["DOMAINLENS_HOME"] = str(home)
    rows = {d: sample_rows(d) for d in args.domains}
    results: dict[str, dict[str, dict[str, float]]] = {d: {} for d in args.domains}
    settings: list[tuple[str, list[str], tuple[str, ...]]] = [
        ("dynamic batching", [], ()), ("max_batch_size=1", [f"{d}=1:0" for d in args.domains], ()),
        ("batching, no log", [], ("--no-prediction-log",)),  # what writing the prediction log costs
        ("python proxy", [], ("--ingress", "python"))]  # Ray Serve's Python HTTP proxy instead of HAProxy
    for setting, batch, extra in settings:
        proc, client = start(home, args.domains, batch, extra)
        try:
            for domain in args.domains:
                results[domain][setting] = load(client.url, domain, rows[domain], args.clients, args.seconds)
        finally:
            stop(proc)
    print(f"{args.clients} concurrent clients, single-row requests, {args.seconds:.0f} s each, "
          f"{os.cpu_count()} CPU cores")
    for domain, by_setting in results.items():
        for setting, r in by_setting.items():
            print(f"{domain:>20} {setting:>17}: {r['requests_per_s']:7.1f} req/s, p50 {r['p50_ms']:6.1f} ms, "
                  f"p95 {r['p95_ms']:6.1f} ms, mean batch {r['mean_batch']:5.1f} rows ({r['requests']:.0f} requests)")
        batched = by_setting["dynamic batching"]["requests_per_s"]
        print(f"{domain:>20} batching gives {batched / by_setting['max_batch_size=1']['requests_per_s']:.2f}x the "
              f"requests/s; with the prediction log {batched / by_setting['batching, no log']['requests_per_s']:.2f}x "
              "of the requests/s without it")
        print(f"{domain:>20} HAProxy gives {batched / by_setting['python proxy']['requests_per_s']:.2f}x the "
              "requests/s of Ray Serve's Python proxy")


if __name__ == "__main__":
    main()
