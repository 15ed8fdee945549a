"""SeparateClipOptimWrapper against torch's clip_grad_norm_ applied to each set by hand."""
import pytest
import torch
from mmengine.logging import MessageHub
from torch import nn

from iou_aware.engine import SeparateClipOptimWrapper, tag_clip_group


def model_with_grads(seed=0):
    torch.manual_seed(seed)
    model = nn.ModuleDict(dict(body=nn.Linear(4, 3), addon=nn.Linear(3, 2)))
    tag_clip_group(model['addon'], 'iou_branch')
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 10  # norms far above max_norm
    return model


def test_tagged_parameters_are_clipped_apart_from_the_rest():
    MessageHub.get_instance('separate_clip_test')
    model = model_with_grads()
    reference = {k: p.grad.clone() for k, p in model.named_parameters()}
    body = [reference[k] for k in reference if k.startswith('body')]
    addon = [reference[k] for k in reference if k.startswith('addon')]
    expected_norms = [torch.linalg.vector_norm(torch.cat([g.flatten() for g in s]))
                      for s in (body, addon)]
    for grads, norm in zip((body, addon), expected_norms):  # by hand: max_norm / own norm
        for g in grads:
            g.mul_(1.0 / (norm + 1e-6))
    wrapper = SeparateClipOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                                       clip_grad=dict(max_norm=1.0))
    wrapper._clip_grad()
    for k, p in model.named_parameters():
        torch.testing.assert_close(p.grad, reference[k])
    logged = wrapper.message_hub.log_scalars
    assert logged['train/grad_norm'].current() == pytest.approx(float(expected_norms[0]))
    assert logged['train/grad_norm_iou_branch'].current() == pytest.approx(
        float(expected_norms[1]))


def test_without_tags_it_is_mmengines_global_clip():
    from mmengine.optim import OptimWrapper
    grads = []
    for wrapper_type in (SeparateClipOptimWrapper, OptimWrapper):
        model = model_with_grads()
        for p in model.parameters():
            p.__dict__.pop('clip_group', None)
        wrapper_type(torch.optim.SGD(model.parameters(), lr=0.1),
                     clip_grad=dict(max_norm=1.0))._clip_grad()
        grads.append([p.grad for p in model.parameters()])
    for ours, theirs in zip(*grads):
        assert torch.equal(ours, theirs)
