#!/usr/bin/env bash
# The GPU training benchmark for a lent machine (device tool): one short run, one JSON line.
# Reports samples/s in float32 and bfloat16 autocast side by side, the mixed-precision speed-up
# and the peak GPU memory of each (avu.bench.train). Uses the machine's own Python and torch;
# installs nothing from the network. Usage: bash scripts/bench_train_gpu.sh [BATCH] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${1:-256}
STEPS=${2:-20}
python3 - "$BATCH" "$STEPS" <<'PY'
import json, sys
sys.path.insert(0, ".")
import torch
from avu.bench.train import bench_train
if not torch.cuda.is_available():
    sys.exit("no CUDA device visible to torch")
for model in ("avshapes_fused", "avshapes_student"):
    print(json.dumps(bench_train(model=model, batch=int(sys.argv[1]), steps=int(sys.argv[2]))), flush=True)
PY
