#!/usr/bin/env bash
# Table 2 on the synthetic stand-in at the paper's width, on one GPU: CNN, ST-CNN Single and
# ST-CNN Multi on the tight (64 px) and the loose (128 px) crops, native sizes, `fast` schedule
# (6,000 SGD steps of 128), seed 0. Real SVHN is too large to carry to a device machine; with
# it prepared, drop --synthetic.
#
#   bash benchmarks/gpu_table2.sh OUT_DIR
#
# Writes OUT_DIR/table2/*.json (one record per run, with provenance), table2.md/.csv, the
# float16 weights, and OUT_DIR/gpu_table2.log with the wall minutes. MNIST: see gpu_common.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:?usage: gpu_table2.sh OUT_DIR}"
mkdir -p "$out/table2"
log="$out/gpu_table2.log"
# shellcheck source=benchmarks/gpu_common.sh
. benchmarks/gpu_common.sh

t0=$(date +%s)
python -m stn_course.benchmark table2 --synthetic --arch paper --schedule fast --device cuda --save-weights \
  --no-progress --out "$out/table2" 2>&1 | tee -a "$log"
echo "stand-in grid at paper width: $(( ($(date +%s) - t0) / 60 )) min $(( ($(date +%s) - t0) % 60 )) s wall" \
  | tee -a "$log"
