"""Distributed training without GPUs: what mmengine 0.10.7 needs to run DDP on CPU.

mmengine's pytorch launcher calls ``torch.cuda.set_device`` before creating the process
group, and its runner wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; PyTorch
refuses both on a CPU-only machine. Rather than patching mmengine we (1) create the gloo
process group ourselves, which mmengine then reuses, and (2) wrap with a DDP subclass that
drops ``device_ids`` for CPU modules. Everything else (samplers, hooks, checkpointing on
rank 0) is mmengine's own.
"""
import os

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that accepts mmengine's ``device_ids`` for CPU modules."""

    def __init__(self, module, device_ids=None, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        super().__init__(module=module, device_ids=None if on_cpu else device_ids, **kwargs)


def has_sync_bn(cfg):
    return bool(cfg.get('sync_bn')) or "'SyncBN'" in repr(cfg.get('model'))


def prepare_cpu_distributed(cfg, fail):
    """For a distributed launch without CUDA: gloo process group and the CPU DDP wrapper.

    ``fail(message)`` reports a configuration that cannot work on CPU (SyncBN).
    """
    if torch.cuda.is_available():
        return
    if has_sync_bn(cfg):
        fail('SyncBN needs GPUs: PyTorch\'s SyncBatchNorm only runs on CUDA/XPU devices. '
             'On CPU use norm_cfg=dict(type="BN") (per-process statistics) or "GN" and drop '
             'sync_bn')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or {}
    if wrapper.get('type', 'MMDistributedDataParallel') in ('MMDistributedDataParallel',
                                                            'DistributedDataParallel'):
        cfg.model_wrapper_cfg = dict(wrapper, type='CPUDistributedDataParallel',
                                     broadcast_buffers=wrapper.get('broadcast_buffers', False))
    if cfg.get('launcher') == 'pytorch' and not torch.distributed.is_initialized():
        if 'RANK' not in os.environ:
            fail('--launcher pytorch needs the RANK/WORLD_SIZE environment of torchrun; '
                 'start it with tools/dist_train.sh CONFIG NUM_PROCS')
        torch.distributed.init_process_group(backend='gloo')


def finish_distributed():
    """Destroy the process group before the interpreter exits, as PyTorch asks. Left to
    interpreter shutdown, gloo's worker threads were occasionally torn down mid-flight
    (a 2-process CPU run aborting with "terminate called without an active exception")."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
