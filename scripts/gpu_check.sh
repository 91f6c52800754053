#!/usr/bin/env bash
# The GPU checks, in two parts that each fit one call to the GPU machine
# (scripts/gpu_pack.sh packs what that machine lacks into .gpu/a and .gpu/b):
#   a: versions, the gpu tests (tests/gpu), benchmarks.gpu_vs_cpu (the same code on CPU and GPU)
#   b: benchmarks.ray_scaling with 1, 4 and 8 actors, benchmarks.ray_gpu (Ray's GPU paths);
#      needs part a's packages, unpacked by a run of part a on the same machine
# Logs and the tables go to $OUT. Dry run here, on the CPU, with the packed site on the path:
#   DOMAINLENS_GPU_DRY_RUN=1 PY=.venv/bin/python scripts/gpu_check.sh a
set -uo pipefail
cd "$(dirname "$0")/.."
part=${1:?usage: scripts/gpu_check.sh a|b}
PY=${PY:-python3}
OUT=${OUT:-$(mktemp -d)}
SITE=${SITE:-/tmp/dl-site}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DOMAINLENS_NO_PROGRESS=1
export DOMAINLENS_HOME=${DOMAINLENS_HOME:-/tmp/dl-home} DOMAINLENS_DATA=$SITE/data
mkdir -p "$SITE/data" "$OUT"
if [ -f ".gpu/$part/site.tar.xz" ]; then
  tar -xJf ".gpu/$part/site.tar.xz" -C "$SITE" || exit 2
  cp .gpu/$part/*.npz "$SITE/data/" 2>/dev/null || true
fi
export PYTHONPATH=$SITE:$PWD
started=$(date +%s)
step() { echo "== $(( $(date +%s) - started )) s: $*"; }

if [ "$part" = a ]; then
  step versions
  nvidia-smi -L 2>&1 | tee "$OUT/versions.txt"
  $PY - <<'EOF' 2>&1 | tee -a "$OUT/versions.txt"
import os, platform
import polars, torch, transformers
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"transformers {transformers.__version__}, polars {polars.__version__}, {os.cpu_count()} CPU cores")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, "
          f"bf16 {torch.cuda.is_bf16_supported()}")
EOF
  step "gpu tests"
  $PY -m pytest -p no:cacheprovider -o addopts="" -m gpu tests/gpu -v -s --durations=0 2>&1 | tee "$OUT/gpu-tests.log"
  step "CPU and GPU, same code"
  $PY -m benchmarks.gpu_vs_cpu --mpnet .gpu/a/mpnet --markdown "$OUT/gpu-vs-cpu.md" 2>&1 \
    | grep -v -E "UNEXPECTED|MISSING|^Notes:|can be ignored|^- |Key +\||^-+\+|classifier\." | tee "$OUT/gpu-bench.log"
elif [ "$part" = b ]; then
  $PY -c "import polars, ray, grpc_reflection" || { echo "part a's packages are not here: run part a on this machine first"; exit 3; }
  step "Ray: in-process against 1, 4 and 8 actors"
  $PY -m benchmarks.ray_scaling --actors 1,4,8 2>&1 | grep -v -E "^\(|Warning|warn" | tee "$OUT/ray-scaling.log"
  step "Ray with GPUs: predict --backend ray --gpus-per-actor, serve-models --num-gpus"
  $PY -m benchmarks.ray_gpu 2>&1 | tee "$OUT/ray-gpu.log"
fi
step done
