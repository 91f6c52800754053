#!/usr/bin/env bash
# Lint, type-check and run the default test suite (offline, CPU). Extra args go to pytest.
# Two workers (pytest-xdist), each taking whole modules, so a module's server starts once:
# the browser tests spend a third of their time waiting on pages, which the other worker uses.
# DOMAINLENS_TEST_WORKERS=0 runs everything in this process (one test at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/mypy dashboard domains models
workers=${DOMAINLENS_TEST_WORKERS:-2}
parallel=()
if [ "$workers" != 0 ]; then
  parallel=(-n "$workers" --dist loadscope)
  # Each worker (and the dashboards, model servers and Ray workers it starts) gets its share of
  # the cores for OpenMP/BLAS pools: two workers each spinning two-thread pools on 2 cores wait
  # on each other (measured: 2.8x slower for the credit, imaging and recommendations tests).
  share=$(( $(nproc) / workers )); [ "$share" -ge 1 ] || share=1
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$share} MKL_NUM_THREADS=${MKL_NUM_THREADS:-$share}
  export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$share}
fi
.venv/bin/python -m pytest -q "${parallel[@]}" --durations=15 "$@"
