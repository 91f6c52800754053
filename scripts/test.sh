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
if [ "$workers" != 0 ]; then parallel=(-n "$workers" --dist loadscope); fi
.venv/bin/python -m pytest -q "${parallel[@]}" --durations=15 "$@"
