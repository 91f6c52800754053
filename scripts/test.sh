#!/usr/bin/env bash
# Lint, type-check and run the default test suite (offline, CPU). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/mypy dashboard domains models
.venv/bin/python -m pytest -q "$@"
