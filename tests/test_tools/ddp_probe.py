"""Test-only mmengine hook: each rank records a digest of its weights after every step."""
import hashlib
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def weights_digest(named_tensors):
    h = hashlib.sha256()
    for name, t in sorted(named_tensors):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().double().numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class WeightDigestHook(Hook):

    def before_train(self, runner):
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.records.append(dict(
            digest=weights_digest(model.named_parameters()),
            loss=float(outputs['loss']),
            threads=torch.get_num_threads()))

    def after_train(self, runner):
        with open(osp.join(runner.work_dir, f'digests_rank{get_rank()}.json'), 'w') as f:
            json.dump(self.records, f)
