# Sourced by the GPU scripts: unpack MNIST carried beside the tree and check for a CUDA device.
#
# MNIST comes from $STN_COURSE_DATA, or from a gzipped copy carried in .gpu_data/MNIST/raw/
# (the device machine has no network): `mkdir -p .gpu_data/MNIST/raw && gzip -c ... > ...`.
# Needs $out (the output folder) and $log (the log file) to be set.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ -z "${STN_COURSE_DATA:-}" ] && [ -d .gpu_data/MNIST/raw ]; then
  export STN_COURSE_DATA="$out/data"
  mkdir -p "$STN_COURSE_DATA/MNIST/raw"
  for f in .gpu_data/MNIST/raw/*.gz; do gunzip -c "$f" > "$STN_COURSE_DATA/MNIST/raw/$(basename "$f" .gz)"; done
fi

python - <<'PY' | tee "$log"
import torch
if not torch.cuda.is_available():
    raise SystemExit("no CUDA device: this script trains on a GPU (see README for the CPU commands)")
print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, bf16 {torch.cuda.is_bf16_supported()}")
PY
