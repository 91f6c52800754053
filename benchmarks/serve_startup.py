"""Time from `domainlens serve` to the first page being served, and the server's peak
memory (VmHWM) after the Credit Risk page has loaded its model in a real browser.

Run: .venv/bin/python benchmarks/serve_startup.py   (needs /usr/bin/chromium for the memory part)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    """Peak resident memory of the server process (the Streamlit runtime)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    port = _port()
    env = {**os.environ, "DOMAINLENS_HOME": tempfile.mkdtemp(prefix="dl-bench-")}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200 and b"<html" in response.read(4096).lower():
                        break
            except OSError:
                time.sleep(0.05)
            if time.perf_counter() - started > 120:
                raise SystemExit("server did not come up in 120 s")
        first_page = time.perf_counter() - started
        print(f"serve -> first page served: {first_page:.2f} s")
        print(f"server peak memory after start-up: {_peak_rss_mb(proc.pid):.0f} MB")
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        if not Path(chromium).exists():
            print("chromium not installed: skipping the Credit Risk page load")
            return
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            t0 = time.perf_counter()
            page.goto(f"{url}/credit_risk")
            metric = page.locator('[data-testid="stMetric"]').filter(has_text="p_bad").first
            metric.wait_for(state="attached", timeout=180_000)
            print(f"Credit Risk page to first score (model fitted on first use): {time.perf_counter() - t0:.2f} s")
            browser.close()
        print(f"server peak memory after Credit Risk loaded its model: {_peak_rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
