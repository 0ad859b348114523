#!/usr/bin/env bash
# The whole Table 1 grid on one GPU, with the course's `efficient` recipe: 40 cells with seed 0,
# then seeds 1 and 2 in a second run, several cells at a time (`table1 --jobs`).
#
#   bash benchmarks/gpu_table1.sh OUT_DIR [JOBS]
#
# Writes OUT_DIR/table1/*.json (one record per cell, with provenance), table1.md/.csv, the
# float16 weights of the transformer models, and OUT_DIR/gpu_table1.log; prints the GPU, the
# wall minutes of each run and the grid's training throughput. MNIST: see gpu_common.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:?usage: gpu_table1.sh OUT_DIR [JOBS]}"
jobs="${2:-10}"
mkdir -p "$out/table1"
log="$out/gpu_table1.log"
# shellcheck source=benchmarks/gpu_common.sh
. benchmarks/gpu_common.sh

grid() {  # grid <label> <seed arguments...>
  local label="$1"; shift
  local t0; t0=$(date +%s)
  python -m stn_course.benchmark table1 --schedule efficient --device cuda --jobs "$jobs" --threads 1 \
    --save-weights --no-progress --out "$out/table1" "$@" 2>&1 | tee -a "$log"
  echo "$label: $(( ($(date +%s) - t0) / 60 )) min $(( ($(date +%s) - t0) % 60 )) s wall, $jobs cells at a time" \
    | tee -a "$log"
}

grid "grid, seed 0" --seed-list 0
grid "grid, seeds 1 and 2" --seed-list 1 2

python - "$out/table1" <<'EOF' | tee -a "$log"
import json, sys
from pathlib import Path
runs = [json.loads(p.read_text()) for p in Path(sys.argv[1]).glob("*.json")]
images = sum(r["images_seen"] for r in runs)
busy = sum(r["train_time_s"] for r in runs)
print(f"{len(runs)} cells, {images / 1e6:.1f}M training images; per-cell rate {images / busy:.0f} images/s "
      f"(mean over cells, while {len(runs)} shared the GPU in groups)")
EOF
