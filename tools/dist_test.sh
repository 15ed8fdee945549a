#!/usr/bin/env bash
# Distributed testing with torchrun, as in OpenMMLab projects:
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options]
# Without CUDA, test.py runs on CPU with the gloo backend (iou_aware/utils/cpu_distributed.py).
set -euo pipefail
CONFIG=$1; CHECKPOINT=$2; NPROC=$3; shift 3
PYTHON=${PYTHON:-python}
NNODES=${NNODES:-1}; NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}; PORT=${PORT:-29500}
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
