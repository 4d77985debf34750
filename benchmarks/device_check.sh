#!/usr/bin/env bash
# The one prepared GPU check, run from the repo root on the device machine (about 4 minutes on an H100):
# the GPU tests, then benchmarks/gpu_study.py on the real CIFAR-10 images. FULL=1 adds the 1000-epoch study.
# Before: mkdir -p .gpudata && cp ../shared/data/cifar10-jpeg.tar.gz .gpudata/   (.gpudata is git-ignored;
# carry it). Logs and the JSON summary land in $OUT. Exits non-zero when any step fails: -e with pipefail makes
# a step's own status count, not tee's; a failing GPU test still lets the benchmarks run, then fails the check.
set -euo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-/tmp/device-check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" \
    | tee -a "$OUT/gpu.txt"
tests=0
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tee "$OUT/gpu_tests.log" || tests=$?
python3 benchmarks/gpu_study.py --tarball .gpudata/cifar10-jpeg.tar.gz --work /tmp/gpu-study --variants \
    ${FULL:+--full-study} 2>&1 | tee "$OUT/gpu_study.log"
python3 benchmarks/fused_step.py --device cuda 2>&1 | tee "$OUT/fused_step.log"
if [ "$tests" -ne 0 ]; then
    echo "device check: GPU tests failed (pytest exit $tests), see $OUT/gpu_tests.log" >&2
    exit "$tests"
fi
