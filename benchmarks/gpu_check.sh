#!/usr/bin/env bash
# The one prepared GPU check: CUDA tests and the speed benchmarks on the device,
# in a single `device` call of well under 10 minutes. Results go to $OUT.
#
# The GPU image has torch, scikit-learn and pytest but not skorch: carry it.
# Here, once:   echo /.whl/ >> .git/info/exclude
#               python3 -m pip download --no-deps -d .whl skorch==1.4.0
# Then call the device tool with carry [".whl"] and the command
#               bash benchmarks/gpu_check.sh
# and copy what comes back into benchmarks/results/gpu/.
set -uo pipefail
OUT=${OUT:-benchmarks/results/gpu}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD"

{ nvidia-smi; python3 -c "import torch, sklearn, skorch; print(torch.__version__, sklearn.__version__, skorch.__version__)"; } \
    > "$OUT/device.txt" 2>&1
# -o addopts=: the image lacks pytest-xdist, which pyproject's addopts use
timeout 240 python3 -m pytest -o addopts= -q -rs -p no:cacheprovider -m cuda tests 2>&1 | tee "$OUT/cuda_tests.txt"
timeout 120 python3 benchmarks/bench_loss.py --device cuda --rounds 7 \
    --out "$OUT/loss_speed_cuda.md" 2>&1 | tail -20
timeout 150 python3 benchmarks/bench_training.py --device cuda --rounds 3 \
    --out "$OUT/training_speed_cuda.md" 2>&1 | tail -20
