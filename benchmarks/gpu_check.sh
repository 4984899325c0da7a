#!/usr/bin/env bash
# One prepared check on a CUDA GPU, run from the repository root (see BENCHMARKS.md):
#   1. the CUDA tests (tests/training/test_device.py; they skip on machines without a GPU) and
#      benchmarks/gpu_fit_check.py (fit on CUDA, save, load, score on the CPU),
#   2. the speed benchmark's needmap and DeepCTR-Torch cases training on the GPU, 1M Criteo-shaped rows made
#      there by benchmarks/make_criteo_like.py (preprocessing and scoring stay on the CPU).
# The GPU machine has torch but neither duckdb nor deepctr-torch: their wheels travel in .whl/ (see
# BENCHMARKS.md for the pip download line). Results land in $OUT (or benchmarks/results/gpu).
set -uo pipefail
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD/src:$PWD"
out="${OUT:-benchmarks/results/gpu}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
python3 -c "import torch, duckdb; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(), 'duckdb', duckdb.__version__, 'cores', __import__('os').cpu_count())"
python3 -m pytest -q -p no:cacheprovider tests/training/test_device.py tests/training/test_optimizers.py tests/training/test_trainer.py 2>&1 | tee "$out/pytest.log" | tail -8
python3 benchmarks/gpu_fit_check.py 2>&1 | tee "$out/fit_check.log" | tail -4
python3 benchmarks/make_criteo_like.py --rows "${ROWS:-1000000}" --out benchmarks/data/criteo_like_1m.parquet
python3 -m benchmarks.bench_speed --rows 1m --threads "${THREADS:-16}" --device cuda --timeout 240 --out "$out" \
  --cases "${CASES:-needmap:deepfm:fp32,needmap:deepfm:bf16,needmap:dcnv2:fp32,needmap:dcnv2:bf16,deepctr:deepfm:fp32,deepctr:dcn:fp32}"
