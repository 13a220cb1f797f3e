#!/usr/bin/env bash
# The GPU study (benchmarks/gpu_study.py) in one `device` call of at most 8
# minutes; outputs under $OUT (default benchmarks/results/gpu_study).
#
# The GPU image has torch and scikit-learn but neither skorch nor mnist1d
# (nor mnist1d's matplotlib and requests): carry skorch's wheel and the data,
# generated here. Here, once:
#   echo /.whl/ >> .git/info/exclude; echo /.gpu_data/ >> .git/info/exclude
#   python3 -m pip download --no-deps -d .whl skorch==1.4.0
#   python benchmarks/gpu_study.py --save-data .gpu_data/mnist1d-60000.npz
# Then call the device tool with carry [".whl", ".gpu_data"] and the command
#   bash benchmarks/gpu_study.sh
# It does not fit in the same call as benchmarks/gpu_check.sh (about 8
# minutes each; a call has at most 10).
set -uo pipefail
OUT=${OUT:-benchmarks/results/gpu_study}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD"
nvidia-smi > "$OUT/device.txt" 2>&1
timeout 480 python3 benchmarks/gpu_study.py "$OUT" \
    --data .gpu_data/mnist1d-60000.npz --device cuda --n-jobs 6 \
    --max-minutes 6.5 2>&1 | grep -v "^  " | tee "$OUT/log.txt"
