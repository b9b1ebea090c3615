#!/usr/bin/env bash
# Ingest scaling with decode actors: 1, 2, 4 and 8 decode actors (one FFmpeg thread each, 4 embed
# actors) on 8 distinct stream copies of the four shared benchmark clips (32 videos, ~1,750 s),
# one local Ray, fresh indexes, no ASR. Prints one JSON object: rt_factor (x real time, first plan
# to last commit) and speedup_vs_first per decoder count. Target: speedup_vs_first["8"] >= 6.
#
# For a machine with >= 16 cores (8 decoders + 4 embedders + writer + driver need 14 cores free).
# On fewer cores the actors share them and the figures measure contention, not scaling: the
# script refuses unless FORCE=1.
#
#   scripts/bench_ingest_scaling.sh [--decoders 1 2 4 8] [--copies 8] [--files CLIP...]
#   (env: PYTHON, default .venv/bin/python; AVU_SHARED_DATA, the shared data folder)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
cores="$(nproc)"
if [ "$cores" -lt 16 ] && [ "${FORCE:-0}" != "1" ]; then
  echo "bench_ingest_scaling: $cores cores here; this benchmark needs >= 16 (FORCE=1 runs it anyway)" >&2
  exit 2
fi
command -v ffmpeg > /dev/null || { echo "bench_ingest_scaling: the ffmpeg binary is needed (stream copies)" >&2; exit 2; }
exec "$PYTHON" -m avu.bench.ingest scaling "$@"
