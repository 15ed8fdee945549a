#!/usr/bin/env bash
# Distributed training with torchrun, as in OpenMMLab projects:
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py options]
# Without CUDA, train.py runs DDP on CPU: gloo backend, see iou_aware/utils/cpu_distributed.py.
set -euo pipefail
CONFIG=$1; NPROC=$2; shift 2
PYTHON=${PYTHON:-python}
NNODES=${NNODES:-1}; NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}; PORT=${PORT:-29500}
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
