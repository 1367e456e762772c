#!/usr/bin/env bash
# The CUDA path: one surface shard of a BERT-large-sized model in fp32, TF32, bf16 and the multi-point fp32 engine (points/s, MFU
# against the GPU's datasheet peak, error vs fp32). Run from the repository root on a GPU node:
#   bash benchmarks/gpu_check.sh            # <= 8 minutes on one H100/H200/A100
#   bash benchmarks/gpu_check.sh --tiny     # seconds, on a CPU: checks that it runs
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [[ " $* " != *" --tiny "* ]]; then
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader || echo "nvidia-smi: not available"
fi
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
timeout 480 python benchmarks/gpu_check.py "$@"
