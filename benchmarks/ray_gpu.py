"""Ray with GPUs on one machine: ``domainlens predict --backend ray --gpus-per-actor`` and GPU
replicas of the model server (``serve-models --num-gpus``), each checked against the same
checkpoint scored on the CPU, with the processes that held GPU memory while they ran.

An imaging CNN is trained on the GPU (``domainlens train``, two epochs), then:

1. ``predict --backend ray --actors 2 --gpus-per-actor 0.5`` scores the test images; the
   result is joined to a local CPU ``predict`` of the same file (largest gap in confidence).
2. ``serve-models --replicas 2 --num-gpus 0.5`` serves the domain; ``/v1/models`` says which
   device each answering replica holds its model on, and the checkpoint's answers over HTTP
   are compared with the CPU's.

``nvidia-smi`` is sampled throughout, so the GPU's users are seen from outside DomainLens too.
Without a GPU it runs the same steps with 0 GPUs (a dry run of this script).

Run: python -m benchmarks.ray_gpu [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

CLI = [sys.executable, "-m", "dashboard.cli"]


class GpuUsers(threading.Thread):
    """Samples ``nvidia-smi``'s compute processes every half second: pid -> largest MiB seen."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, int] = {}
        self.stop = threading.Event()
        self.available = shutil.which("nvidia-smi") is not None

    def run(self) -> None:
        while self.available and not self.stop.is_set():
            query = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]
            out = subprocess.run(query, capture_output=True, text=True, check=False).stdout
            for line in out.strip().splitlines():
                pid, mib = (part.strip() for part in line.split(","))
                if pid.isdigit() and mib.isdigit():
                    self.seen[int(pid)] = max(self.seen.get(int(pid), 0), int(mib))
            self.stop.wait(0.5)

    def users(self) -> dict[int, int]:
        return dict(self.seen)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(args[2:] if args[:2] == CLI[:2] else args), flush=True)
    done = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", flush=True)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(args)}")
    return done


def confidence_gap(left: pl.DataFrame, right: pl.DataFrame) -> float:
    joined = left.select("id", "confidence").join(right.select("id", "confidence"), on="id", suffix="_cpu")
    assert joined.height == left.height, (joined.height, left.height, right.height)
    return float((joined["confidence"] - joined["confidence_cpu"]).abs().max())  # type: ignore[arg-type]


def ray_predict(checkpoint: Path, images: Path, work: Path, gpus: float, cpu: pl.DataFrame) -> dict[str, Any]:
    watcher = GpuUsers()
    watcher.start()
    started = time.perf_counter()
    run([*CLI, "predict", "medical_imaging", "--checkpoint", str(checkpoint), "--input", str(images),
         "--output", str(work / "scored"), "--backend", "ray", "--actors", "2", "--gpus-per-actor", str(gpus)])
    seconds = time.perf_counter() - started
    watcher.stop.set()
    scored = pl.read_parquet(work / "scored")
    return {"rows": scored.height, "seconds": round(seconds, 1), "gpus_per_actor": gpus,
            "max_confidence_gap_vs_cpu": confidence_gap(scored, cpu), "gpu_processes_mib": watcher.users()}


def serve(checkpoint_id: str, frame: pl.DataFrame, cpu: pl.DataFrame, gpus: float, home: Path) -> dict[str, Any]:
    from domains.client import ModelServerClient
    from tests.model_server import free_port

    port = free_port()
    watcher = GpuUsers()
    watcher.start()
    server = subprocess.Popen([*CLI, "serve-models", "--domains", "medical_imaging", "--replicas", "2",
                               "--num-gpus", str(gpus), "--port", str(port), "--ingress", "python",
                               "--no-prediction-log"], env={**os.environ, "DOMAINLENS_HOME": str(home)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    client = ModelServerClient(f"http://127.0.0.1:{port}", timeout_s=120)
    started = time.perf_counter()
    try:
        while not _ready(client):
            if server.poll() is not None or time.perf_counter() - started > 300:
                said = server.stdout.read() if server.stdout else ""
                raise SystemExit(f"the model server did not become ready:\n{said}")
            time.sleep(2)
        ready_s = time.perf_counter() - started
        devices = set()
        for _ in range(8):  # requests spread over the replicas; each says where its model is
            devices.add(client.models()["medical_imaging"]["stats"]["device"])
        answers = [client.predict("medical_imaging", frame.slice(i, 16), model=checkpoint_id)
                   for i in range(0, frame.height, 16)]
        served = pl.concat(answers).with_columns(pl.Series("id", frame["id"]))
        return {"ready_s": round(ready_s, 1), "replica_devices": sorted(devices), "rows": served.height,
                "max_confidence_gap_vs_cpu": confidence_gap(served, cpu), "gpu_processes_mib": watcher.users()}
    finally:
        watcher.stop.set()
        if server.poll() is None:
            os.killpg(server.pid, 2)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)


def _ready(client: Any) -> bool:
    try:
        return bool(client.ready())
    except Exception:  # not listening yet
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--images", type=int, default=600)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="dl-ray-gpu-"))
    shutil.rmtree(work / "scored", ignore_errors=True)
    gpus = 0.5 if torch.cuda.is_available() else 0.0
    home = work / "artifacts"
    os.environ["DOMAINLENS_HOME"] = str(home)
    checkpoint = home / "medical_imaging" / "cnn" / "v1"
    device = "cuda" if gpus else "cpu"
    started = time.perf_counter()
    if not (checkpoint / "metadata.json").is_file():  # a --work folder of an earlier run keeps its model
        run([*CLI, "train", "medical_imaging", "--model", "cnn", "--epochs", "2", "--device", device,
             "--out", str(checkpoint)])
        print(json.dumps({"trained_on": device, "seconds": round(time.perf_counter() - started, 1)}), flush=True)

    from domains import registry
    from domains.medical_imaging.data import find_medmnist

    # The bundled images as the CLI reads the .npz in-process, and the same rows as Ray reads them.
    npz = find_medmnist()
    rows = registry.get("medical_imaging").read_input(npz)  # type: ignore[attr-defined]
    images = work / "images.parquet"
    rows.write_parquet(images)
    run([*CLI, "predict", "medical_imaging", "--checkpoint", str(checkpoint), "--input", str(npz),
         "--output", str(work / "cpu.parquet"), "--device", "cpu"])
    cpu = pl.read_parquet(work / "cpu.parquet")
    on_ray = ray_predict(checkpoint, images, work, gpus, cpu)
    print(json.dumps({"ray_predict": on_ray}), flush=True)
    result = {"ray_predict": on_ray,
              "serve": serve("cnn/v1", rows.head(args.images), cpu, gpus, home)}
    print(json.dumps(result, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)), flush=True)


if __name__ == "__main__":
    main()
