"""The GFL/VFNet/PAA peers: configs that keep mmdet's method settings, and heads that only
add each detection's quality estimate."""
import inspect
import os.path as osp

import mmdet
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

import iou_aware  # noqa: F401
from iou_aware.models.peers.quality_heads import TorchvisionDeformConv2d

PEERS = {'atss': 'atss/atss_r50_fpn_1x_coco.py', 'gfl': 'gfl/gfl_r50_fpn_1x_coco.py', 'vfnet': 'vfnet/vfnet_r50_fpn_1x_coco.py',
         'paa': 'paa/paa_r50_fpn_1x_coco.py'}
# What the tiny configs change on purpose: the model's size, and the anchor scale (halved,
# as the tiny RetinaNet halves its own, for 12 px objects).
RESIZED = {'type', 'num_classes', 'in_channels', 'stacked_convs', 'feat_channels',
           'norm_cfg', 'anchor_generator'}


@pytest.mark.parametrize('name', sorted(PEERS))
def test_tiny_peer_keeps_mmdet_method_settings(name):
    ours = Config.fromfile(f'configs/peers/{name}_tiny-r18_fpn_shapes.py').model
    theirs = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                                      PEERS[name])).model
    assert ours.type == theirs.type
    head, ref = ours.bbox_head.to_dict(), theirs.bbox_head.to_dict()
    assert head['type'] == ref['type'] + 'WithQuality'
    for key in set(head) | set(ref):
        if key not in RESIZED:
            assert head.get(key) == ref.get(key), key
    # VFNet's config leaves the anchors (used by its ATSS assigner) to the head's default
    head_cls = MODELS.get(ref['type'])
    ref_anchors = dict(ref.get('anchor_generator') or inspect.signature(
        head_cls.__init__).parameters['anchor_generator'].default)
    anchors = dict(head['anchor_generator'])
    assert anchors.pop('octave_base_scale') * 2 == ref_anchors.pop('octave_base_scale')
    assert anchors == ref_anchors
    assert ours.train_cfg.to_dict() == theirs.train_cfg.to_dict()
    assert ours.test_cfg.to_dict() == theirs.test_cfg.to_dict()
    tiny = Config.fromfile('configs/retinanet/retinanet_tiny-r18_fpn_shapes.py').model
    assert ours.backbone == tiny.backbone and ours.neck == tiny.neck


def test_torchvision_deform_conv_equals_mmcv():
    from mmcv.ops import DeformConv2d
    g = torch.Generator().manual_seed(0)
    ref = DeformConv2d(8, 6, 3, padding=1)
    ours = TorchvisionDeformConv2d(8, 6, 3, padding=1)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 8, 9, 11, generator=g)
    offset = torch.randn(2, 18, 9, 11, generator=g) * 2
    outs, grads = [], []
    for m in (ref, ours):
        xi, oi = x.clone().requires_grad_(), offset.clone().requires_grad_()
        out = m(xi, oi)
        out.pow(2).sum().backward()
        outs.append(out.detach())
        grads.append((xi.grad, oi.grad, m.weight.grad))
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    for a, b in zip(grads[1], grads[0]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert outs[0].abs().max() > 0.1
