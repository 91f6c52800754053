"""Server time of one Predict rerun on every domain page, with 50 saved checkpoints listed:
the page as it is (only the open tab is drawn) against every tab drawn on each rerun (the
page before lazy tabs), in the same process, with the ratio.

A rerun is what a slider move or a click costs the server: the page script runs again from
the top. The checkpoint folder holds 10 real checkpoints per domain (one cheap model trained
per domain through the CLI, then copied under 10 versions), so whatever the page does per
checkpoint on every rerun shows in the time. Each page is opened once on its Predict tab
(the model is loaded and cached), then rerun ``--reruns`` times; the median is printed per
page, with the total.

    python -m benchmarks.rerun_cost [--reruns 7] [--home DIR]

Run it on two revisions to compare (the numbers depend on the machine; the ratio does not much).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
VERSIONS = 10
# One cheap model per domain and how to train it from the CLI.
TRAIN = {
    "credit_risk": ["--model", "scorecard"],
    "recommendations": ["--model", "popularity"],
    "text_classification": ["--model", "tfidf_lr"],
    "medical_imaging": ["--model", "cnn", "--epochs", "1"],
    "translation": ["--model", "marian_scratch", "--epochs", "1"],
}


def _pairs_file(folder: Path) -> Path:
    """120 Bible verse pairs (en -> pt) for a tiny translation checkpoint."""
    from domains.translation import data as mt_data

    frame = mt_data.bible("en", "pt").frame.head(120)
    path = folder / "pairs.tsv"
    path.write_text("\n".join(f"{s}\t{r}" for s, r in zip(frame["source"], frame["reference"], strict=True)) + "\n",
                    encoding="utf-8")
    return path


def fill(home: Path) -> None:
    """10 checkpoints per domain under ``home`` (skipped where they are already there)."""
    env = {**os.environ, "DOMAINLENS_HOME": str(home), "DOMAINLENS_NO_PROGRESS": "1"}
    for domain, args in TRAIN.items():
        if (home / domain).is_dir() and len(list((home / domain).glob("*/*/metadata.json"))) >= VERSIONS:
            continue
        extra = ["--data", str(_pairs_file(home)), "--src", "en", "--tgt", "pt"] if domain == "translation" else []
        out = home / domain / args[1] / "v00"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dashboard.cli", "train", domain, *args, *extra, "--out", str(out)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"trained {domain}/{args[1]} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for i in range(1, VERSIONS):
            shutil.copytree(out, out.with_name(f"v{i:02d}"))


def measure(domain: str, reruns: int, every_tab: bool = False) -> list[float]:
    """Seconds per Predict rerun; ``every_tab`` draws all five tabs on each run (the baseline)."""
    from unittest import mock

    from streamlit.testing.v1 import AppTest

    from dashboard import domain_page

    drawn = (lambda tabs: list(domain_page.RENDER_ORDER)) if every_tab else domain_page.open_tabs
    with mock.patch.object(domain_page, "open_tabs", drawn):
        return _timed(AppTest, domain, reruns)


def _timed(app_test: Any, domain: str, reruns: int) -> list[float]:  # AppTest, imported lazily
    at = app_test.from_file(APP, default_timeout=600).run()
    at.session_state["tab"] = "Predict"
    at.switch_page(f"screens/{domain}.py").run()
    deadline = time.monotonic() + 600
    while any("being fitted" in i.value for i in at.info) and time.monotonic() < deadline:
        time.sleep(1.0)  # a menu model still preparing: wait, the rerun should measure a ready page
        at.run()
    if at.exception:
        raise RuntimeError(f"{domain}: {at.exception[0].message}")
    times = []
    for _ in range(reruns):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None, help="artifacts folder to fill and reuse")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="domainlens-rerun-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DOMAINLENS_HOME"] = str(home)
    fill(home)
    total = sum(1 for _ in home.glob("*/*/*/metadata.json"))
    print(f"{total} checkpoints under {home}")
    ours: dict[str, float] = {}
    every: dict[str, float] = {}
    for domain in TRAIN:
        every[domain] = statistics.median(measure(domain, args.reruns, every_tab=True))
        times = measure(domain, args.reruns)
        ours[domain] = statistics.median(times)
        print(f"{domain:>20}: Predict rerun median {1000 * ours[domain]:7.1f} ms "
              f"(min {1000 * min(times):.1f}, max {1000 * max(times):.1f}; {len(times)} reruns); "
              f"every tab drawn {1000 * every[domain]:7.1f} ms; {every[domain] / ours[domain]:.1f}x less")
    seconds, baseline = sum(ours.values()), sum(every.values())
    print(f"{'all pages':>20}: {1000 * seconds:7.1f} ms; every tab drawn {1000 * baseline:7.1f} ms; "
          f"{baseline / seconds:.1f}x less")


if __name__ == "__main__":
    main()
