"""Start and stop a real ``domainlens serve-models`` for the tests (a subprocess on a free port)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domains.client import ModelServerClient

STARTUP_S = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_model_server(artifacts: Path, data_dir: Path, *flags: str, env: dict[str, str] | None = None,
                       api_key: str | None = None) -> tuple[subprocess.Popen[bytes], ModelServerClient]:
    """A model server on ``artifacts`` and ``data_dir``, ready (every default model loaded)."""
    port = free_port()
    environment = {**os.environ, "DOMAINLENS_HOME": str(artifacts), "DOMAINLENS_DATA": str(data_dir),
                   "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    log = artifacts.parent / f"serve-models-{port}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve-models", "--port", str(port), *flags],
                                env=environment, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    client = ModelServerClient(f"http://127.0.0.1:{port}", api_key=api_key, timeout_s=60)
    deadline = time.monotonic() + STARTUP_S
    while not client.ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_model_server(proc)
            pytest.fail(f"the model server did not become ready: {log.read_text()[-3000:]}")
        time.sleep(1.0)
    return proc, client


def stop_model_server(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it (Serve is taken down), then a kill if it hangs."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
