"""Soak: each domain's Live monitor fed a million events (100,000 for imaging and translation),
measuring what one Live refresh costs the server and the process memory at 1% and at 100% of
the events. A refresh is what the page's fragment does each second, short of Streamlit's own
sending: the monitor's alerts, charts and table, each chart through readable_figure and
serialised as st.plotly_chart does (plotly.io.to_json), the table through display_frame.

    python -m benchmarks.live_soak [--domains credit_risk ...] [--scale 1.0]

The events are a pool of the domain's own stream scored once by its default model, fed again
and again (imaging studies get new ids each pass, as new patients would): what is measured is
the monitor's state, not the model. Targets: a refresh at 100% costs under 50 ms and at most
1.5x what it cost at 1%, and memory grows less than 50 MB between the two.
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import plotly.io as pio
import polars as pl
import torch

from benchmarks.results import Row
from domains import registry
from domains.base import LiveMonitor
from domains.charts import readable_figure
from domains.labels import display_frame

EVENTS = {"credit_risk": 1_000_000, "text_classification": 1_000_000, "recommendations": 1_000_000,
          "medical_imaging": 100_000, "translation": 100_000}
BATCH = 64  # events per update: the Live tab's default micro-batch
POOL = 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def refresh_ms(monitor: LiveMonitor, domain: str, arrive: Callable[[], None], repeats: int = 7) -> float:
    """The median refresh, each one after a batch has arrived (``arrive``), as on the page:
    a second of a live stream brings events, so nothing cached from the last refresh holds."""
    times = []
    for _ in range(repeats):
        arrive()
        started = time.perf_counter()
        monitor.alerts()
        for fig in monitor.charts().values():
            pio.to_json(readable_figure(fig, domain), validate=False)
        display_frame(monitor.table(), domain)
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def soak(key: str, events: int) -> dict[str, float]:
    domain = registry.get(key)
    data = domain.load_data()
    predictor = registry.open_predictor(domain, domain.models()[0], torch.device("cpu"))
    pool = domain.stream(data).head(POOL)
    batches = [(pool.slice(i, BATCH), predictor.predict(pool.slice(i, BATCH))) for i in range(0, pool.height, BATCH)]
    monitor = domain.monitor(predictor, data)
    fed, passes, measured = 0, 0, {}
    checkpoints = {"1%": events // 100, "100%": events}
    started = time.perf_counter()
    while fed < events:
        for inputs, outputs in batches:
            if "id" in inputs.columns and key == "medical_imaging":
                inputs = inputs.with_columns(pl.format("{}-{}", pl.col("id"), pl.lit(passes)).alias("id"))
            monitor.update(inputs, outputs)
            fed += inputs.height
            for name, at in checkpoints.items():
                if name not in measured and fed >= at:
                    gc.collect()
                    measured[name] = (refresh_ms(monitor, key, functools.partial(monitor.update, inputs, outputs)),
                                      rss_mb())
            if fed >= events:
                break
        passes += 1
    (early_ms, early_mb), (late_ms, late_mb) = measured["1%"], measured["100%"]
    return {"events": float(fed), "refresh_1pct_ms": early_ms, "refresh_100pct_ms": late_ms,
            "ratio": late_ms / early_ms, "rss_growth_mb": late_mb - early_mb,
            "feed_s": time.perf_counter() - started}


def bench_rows(events: int = 100_000) -> list[Row]:
    """Each domain's Live refresh after ``events`` events, against the same monitor's refresh
    at 1% of them (what it cost before its state grew)."""
    rows = []
    for key in EVENTS:
        r = soak(key, events)
        rows.append(Row(f"Live refresh after {events:,} events: {registry.get(key).title}", r["refresh_100pct_ms"],
                        r["refresh_1pct_ms"], "ms", "< 50 ms", r["refresh_100pct_ms"] < 50, lower_is_better=True,
                        note="baseline: the refresh at 1% of the events"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(EVENTS))
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the events to feed (a quick look)")
    args = parser.parse_args()
    print(f"{'domain':>20} {'events':>10} {'refresh @1%':>12} {'@100%':>9} {'ratio':>6} {'memory +MB':>10} "
          f"{'met':>4} {'fed in':>7}")
    for key in args.domains:
        r = soak(key, int(EVENTS[key] * args.scale))
        met = r["refresh_100pct_ms"] < 50 and r["ratio"] <= 1.5 and r["rss_growth_mb"] < 50
        print(f"{key:>20} {r['events']:>10,.0f} {r['refresh_1pct_ms']:>10.1f}ms {r['refresh_100pct_ms']:>7.1f}ms "
              f"{r['ratio']:>5.2f}x {r['rss_growth_mb']:>10.1f} {'yes' if met else 'no':>4} {r['feed_s']:>6.0f}s",
              flush=True)


if __name__ == "__main__":
    main()
