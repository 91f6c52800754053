"""Size and build time of a model report for each domain's default model, on the test split of
its bundled data (targets: under 5 MB and under 30 s on 2 cores).

The model is opened first (a default that must be fitted is fitted then, as the page does on a
first visit; that time is printed apart), then ``domains.report.model_report`` is timed: scoring
the split, the bootstrap intervals, every chart and the HTML with plotly.js inlined. The baseline
column is the Evaluate tab's own work for the same model (``Domain.evaluate`` + ``Domain.charts``),
so the ratio is what the report adds on top of what the page already does.

    python -m benchmarks.report_build [--domains credit_risk medical_imaging ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from domains import registry
from domains.report import model_report, write_report

SIZE_MB, SECONDS = 5.0, 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=registry.domain_keys())
    args = parser.parse_args()
    device = torch.device("cpu")
    print(f"{'domain':<22}{'model':<18}{'open s':>8}{'page s':>8}{'report s':>10}{'ratio':>7}{'MB':>7}  met")
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.domains:
            domain = registry.get(key)
            data = domain.load_data()
            split = next(iter(domain.evaluation_splits(data)))
            model = domain.models()[0].key
            started = time.perf_counter()
            predictor = registry.open_predictor(domain, model, device)
            opened = time.perf_counter() - started
            started = time.perf_counter()
            domain.charts(domain.evaluate(predictor, data, split=split))
            page = time.perf_counter() - started
            started = time.perf_counter()
            document = model_report(domain, [model], data, split, device=device)
            path = write_report(document, Path(tmp) / f"{key}.html")
            built = time.perf_counter() - started
            size = path.stat().st_size / 1e6
            met = "yes" if size < SIZE_MB and built < SECONDS else "no"
            print(f"{key:<22}{model:<18}{opened:>8.1f}{page:>8.1f}{built:>10.1f}{built / page:>7.2f}"
                  f"{size:>7.2f}  {met}")


if __name__ == "__main__":
    main()
