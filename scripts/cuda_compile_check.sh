#!/usr/bin/env bash
# Compile the CUDA build of iou_aware._C (FORCE_CUDA=1, one arch) into a scratch directory
# and load it, so a .cu that does not compile fails CI even though no GPU is present.
set -euo pipefail
PY=$1
cd "$(dirname "$0")/.."
say() { printf '[cuda-check] %s\n' "$*"; }

# torch derives CUDA_HOME from the nvcc it finds on PATH, which may be a wrapper script
# outside the toolkit (then linking fails with `cannot find -lcudart`). Use the toolkit
# root that holds lib64/libcudart.so: $CUDA_HOME, the TOP nvcc itself reports, or the
# usual install location.
find_cuda_home() {
  local cand top
  top=$(nvcc --dryrun -x cu -c /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -n 1 || true)
  for cand in "${CUDA_HOME:-}" "$top" /usr/local/cuda; do
    [ -n "$cand" ] && [ -e "$cand/lib64/libcudart.so" ] && { (cd "$cand" && pwd -P); return 0; }
  done
  return 1
}
command -v nvcc >/dev/null 2>&1 || { say "ERROR: nvcc not found; install the CUDA toolkit to compile the CUDA kernels"; exit 1; }
CUDA_HOME=$(find_cuda_home) || { say "ERROR: no CUDA toolkit root with lib64/libcudart.so (set CUDA_HOME)"; exit 1; }
export CUDA_HOME
say "nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), CUDA_HOME=$CUDA_HOME"

out=${CUDA_CHECK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/iou-aware-cuda.XXXXXX")}
mkdir -p "$out"
log="$out/build.log"
say "compiling with FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} (a few minutes); log: $log"
start=$(date +%s)
if ! FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-2} \
     "$PY" setup.py build_ext --build-temp "$out/temp" --build-lib "$out/lib" >"$log" 2>&1; then
  say "FAILED: CUDA build of iou_aware._C does not compile. Compiler errors:"
  # The first few compiler errors, each cut short: template errors expand whole macros.
  grep -E 'error( [A-Z0-9#]+)?:' "$log" | cut -c1-400 | head -n 20 >&2
  exit 1
fi
so=$(ls "$out"/lib/iou_aware/_C*.so)
say "compiled in $(( $(date +%s) - start )) s: $so"
# Load it into a fresh interpreter: the CUDA kernels must register (no GPU is needed).
"$PY" - "$so" <<'PY'
import sys
import torch
torch.ops.load_library(sys.argv[1])
ops = ['prroi_pool_forward', '_prroi_pool_backward_input', '_prroi_pool_backward_rois',
       'iou_guided_nms', '_iou_guided_nms_masked']
missing = [op for op in ops
           if not torch._C._dispatch_has_kernel_for_dispatch_key(f'iou_aware::{op}', 'CUDA')]
if missing:
    sys.exit(f'[cuda-check] FAILED: no CUDA kernel registered for {missing}')
print(f'[cuda-check] ok: CUDA kernels registered for {len(ops)} ops')
PY
