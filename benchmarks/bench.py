"""`make bench`: every hot-path benchmark with a target, as one table (name, ours, the
baseline measured in the same process, ratio, target, met).

    python -m benchmarks.bench [--only credit imaging recs text live]

Each row comes from the ``bench_rows()`` of its benchmark module, which also runs on its own
with more options (e.g. ``python -m benchmarks.credit_stream --rows 2000000``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from benchmarks.results import Row, table

MODULES = {
    "credit": "benchmarks.credit_stream",
    "imaging": "benchmarks.imaging_throughput",
    "recs": "benchmarks.recs_topk",
    "text": "benchmarks.text_throughput",
    "live": "benchmarks.live_soak",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(MODULES), default=list(MODULES))
    args = parser.parse_args()
    rows: list[Row] = []
    for name in args.only:
        started = time.perf_counter()
        print(f"running {name}...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(MODULES[name]).bench_rows())
        print(f"  {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    missed = [r.name for r in rows if not r.met]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} targets met.")


if __name__ == "__main__":
    main()
