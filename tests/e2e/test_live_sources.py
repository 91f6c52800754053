"""The Live tab on real traffic, in chromium: the model server's answers (1,000 loans sent by
``domainlens send`` at 200 a second, counted exactly and found by request id in the log), a
folder of 20 arriving files with one malformed, and a Redis stream read across a restart of
the watching dashboard (no event lost, none counted twice)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from domains.traffic import read_traffic
from tests.e2e.conftest import Served
from tests.e2e.ui import expect, metric_number, open_page, open_tab, settled
from tests.model_server import start_model_server, stop_model_server
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e


def _send(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", "send", "credit_risk", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def _watch(page: Any, source: str) -> None:
    open_page(page, "Credit Risk")
    open_tab(page, "Live")
    page.get_by_text(source, exact=True).first.click()
    expect()(page.get_by_role("radio", name=source)).to_be_checked(timeout=30_000)
    settled(page)  # the source's settings replace the replay's: a click before that may land on the old layout


def _start(page: Any) -> None:
    page.get_by_role("button", name="Start", exact=True).click()
    expect()(page.get_by_role("button", name="Stop", exact=True)).to_be_enabled(timeout=60_000)


def _count(page: Any, name: str, target: int, timeout_s: float = 120) -> None:
    """Wait until the metric ``name`` reads ``target`` (and check it does not go past it)."""
    page.wait_for_function(f"""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.startsWith({name!r}) && m.innerText.split('\\n').pop().replace(/,/g, '') ===
        '{target}')""", timeout=timeout_s * 1000)


def _stop(page: Any) -> None:
    page.get_by_role("button", name="Stop", exact=True).click()
    expect()(page.locator('[data-testid="stMetric"]').filter(has_text="stopped").first).to_be_visible(timeout=30_000)


@pytest.mark.slow  # default suite: tests/domains/test_traffic.py reads a real log (this one starts a server)
def test_live_counts_the_model_servers_traffic_exactly(served: Served, synthetic_data_dir: Path,
                                                       german_credit_csv: Path, browser_page: Any,
                                                       tmp_path: Path) -> None:
    loans = tmp_path / "loans.csv"
    pl.read_csv(german_credit_csv).drop("creditability").write_csv(loans)  # 1,000 applications
    proc, client = start_model_server(served.artifacts, synthetic_data_dir, "--domains", "credit_risk")
    try:
        page = browser_page
        _watch(page, "Model server traffic")
        _start(page)
        ids_file = tmp_path / "ids.txt"
        _send("--input", str(loans), "--rate", "50", "--to", client.url, "--ids", str(ids_file))  # 20 s of traffic
        _count(page, "Events seen", 1000)
        assert metric_number(page, "Server latency p50") > 0
        expect()(page.get_by_text("Events from: Model server traffic")).to_be_visible()
        expect()(page.locator(".js-plotly-plot").filter(has_text="Population stability vs training").first
                 ).to_be_visible(timeout=30_000)
        _stop(page)
        # More traffic, and the server stopped gracefully in the middle of it.
        late_ids = tmp_path / "late-ids.txt"
        sender = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "send", "credit_risk", "--input", str(loans),
                                   "--rate", "100", "--to", client.url, "--ids", str(late_ids)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while sender.poll() is None and client.models()["credit_risk"]["stats"]["rows"] < 1100:
            time.sleep(0.2)  # stop once about 100 more have been answered
    finally:
        stop_model_server(proc)  # a graceful stop: whatever the log still held is written
    sender.wait(180)
    sent = ids_file.read_text().split()
    late = late_ids.read_text().split()
    logged = read_traffic("credit_risk", root=served.artifacts / "_traffic")
    assert len(sent) == 1000 and set(sent) <= set(logged["request_id"])
    assert 0 < len(late) < 1000  # the stop came mid-traffic
    answered = set(sent) | set(late)
    assert answered <= set(logged["request_id"])  # no row that got a 200 is missing
    unseen = set(logged["request_id"]) - answered  # scored and logged, but the stop cut the answer off
    assert logged["request_id"].n_unique() == logged.height  # each logged once
    print(f"graceful stop mid-traffic: {len(late)} requests answered before it, all in the log; {len(unseen)} more "
          "were logged whose answers the stop cut off")


def test_live_scores_arriving_files_and_names_the_malformed_one(served: Served, german_credit_csv: Path,
                                                                browser_page: Any, tmp_path: Path) -> None:
    inbox = served.artifacts / "_inbox" / "credit_risk"
    inbox.mkdir(parents=True, exist_ok=True)
    rows = pl.read_csv(german_credit_csv).drop("creditability")
    good = tmp_path / "loans.csv"
    rows.head(950).write_csv(good)
    page = browser_page
    _watch(page, "A folder of arriving files")
    _start(page)
    _send("--input", str(good), "--rate", "500", "--to-folder", str(inbox), "--rows-per-file", "50")  # 19 files
    broken = rows.tail(50).with_columns(pl.col("age_in_years").cast(pl.String))
    broken = broken.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("forty"))
                                 .otherwise(pl.col("age_in_years")).alias("age_in_years"))
    broken.write_csv(inbox / ".late.csv")
    (inbox / ".late.csv").rename(inbox / "late.csv")  # the 20th file, written then renamed
    expect()(page.get_by_text(re.compile(r"late\.csv was skipped, nothing of it scored: line 5: 'age_in_years'"))
             ).to_be_visible(timeout=60_000)
    _count(page, "Events scored", 950)
    _stop(page)


@pytest.mark.slow  # default suite: tests/domains/test_sources.py reads a real redis-server in the default suite
def test_live_reads_a_redis_stream_across_a_restart(redis_server: RedisServer, served: Served,
                                                    german_credit_csv: Path, browser_page: Any,
                                                    tmp_path: Path) -> None:
    loans = tmp_path / "loans.csv"
    pl.read_csv(german_credit_csv).drop("creditability").head(400).write_csv(loans)
    page = browser_page
    _watch(page, "A Redis stream")
    url_box = page.get_by_role("textbox", name="Redis URL")
    url_box.fill(redis_server.url)
    url_box.press("Enter")
    _start(page)
    sender = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "send", "credit_risk", "--input", str(loans),
                               "--rate", "40", "--to-redis", redis_server.url], stderr=subprocess.PIPE, text=True)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => m.innerText.startsWith('Events scored') &&
                   Number(m.innerText.split('\\n').pop().replace(/,/g, '')) >= 100)""", timeout=120_000)
    _stop(page)  # the dashboard stops watching mid-stream; the sender goes on
    first = int(metric_number(page, "Events scored"))
    _start(page)  # the same consumer again: it resumes where it stopped
    assert sender.wait(120) == 0, sender.stderr.read() if sender.stderr else ""
    _count(page, "Events scored", 400 - first)
    _stop(page)
