"""IoUBranchRetrofit: a trained RetinaNet checkpoint (mmdet's own model) gets an IoU branch
trained alone; the detector's every tensor stays bitwise as loaded."""
import os.path as osp

import mmdet
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401
from iou_aware.models.retrofit import RetrofitError, frozen_tensors

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINANET = osp.join(ROOT, 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py')
IOU_AWARE = osp.join(ROOT, 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py')
init_default_scope('mmdet')


def retinanet_checkpoint(tmp_path, num_classes=6, seed=3):
    cfg = Config.fromfile(RETINANET)
    cfg.model.bbox_head.num_classes = num_classes
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = str(tmp_path / f'retinanet_{num_classes}.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path, model.state_dict()


def retrofit(checkpoint):
    cfg = Config.fromfile(IOU_AWARE)
    return MODELS.build(dict(type='IoUBranchRetrofit', detector=cfg.model,
                             checkpoint=checkpoint)), cfg


def test_only_the_branch_trains_and_the_detector_stays_bitwise(tmp_path):
    path, trained = retinanet_checkpoint(tmp_path)
    model, cfg = retrofit(path)
    before = frozen_tensors(model)
    assert set(before) == set(trained)  # only branch keys were missing
    assert all(torch.equal(before[k], trained[k]) for k in trained)
    branch_before = {k: v.clone() for k, v in model.state_dict().items() if k not in trained}
    assert branch_before and all('iou' in k for k in branch_before)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)  # AdamW with weight decay
    model.train()
    assert not model.backbone.training and model.bbox_head.retina_iou.training
    torch.manual_seed(0)
    packed = demo_mm_inputs(2, image_shapes=(3, 128, 128), num_items=[3, 2], num_classes=6)
    for _ in range(3):
        data = model.data_preprocessor(packed, True)
        losses = model(**data, mode='loss')
        optim.update_params(model.parse_losses(losses)[0])
    after = frozen_tensors(model)
    # parameters and buffers (BatchNorm running statistics) alike
    assert all(torch.equal(after[k], before[k]) for k in before)
    changed = [k for k, v in model.state_dict().items()
               if k in branch_before and not torch.equal(v, branch_before[k])]
    assert changed
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(packed, False)
        res = model.predict(data['inputs'], data['data_samples'])
    assert 'pred_ious' in res[0].pred_instances


def test_a_checkpoint_with_another_class_count_is_named(tmp_path):
    path, _ = retinanet_checkpoint(tmp_path, num_classes=3)
    with pytest.raises(RetrofitError, match='another shape.*retina_cls.*another class count'):
        retrofit(path)


def test_a_checkpoint_of_another_detector_is_named(tmp_path):
    path, state = retinanet_checkpoint(tmp_path)
    state = {k: v for k, v in state.items() if not k.startswith('neck.')}
    torch.save(dict(state_dict=state), path)
    with pytest.raises(RetrofitError, match='detector weights missing.*neck'):
        retrofit(path)


def test_mmdets_own_r50_retinanet_fits_our_r50_default_but_for_the_branch():
    """Keys and shapes of mmdet's COCO RetinaNet (its own config) against our R50 default:
    exactly the branch's keys are new (a zoo checkpoint would load)."""
    theirs = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                                      'retinanet', 'retinanet_r50_fpn_1x_coco.py')).model
    ours = Config.fromfile(osp.join(
        ROOT, 'configs/iou_aware_retinanet/iou-aware-retinanet_r50_fpn_1x_coco.py')).model
    theirs.backbone.init_cfg = ours.backbone.init_cfg = None  # no download
    a, b = MODELS.build(theirs).state_dict(), MODELS.build(ours).state_dict()
    assert set(a) <= set(b) and all(a[k].shape == b[k].shape for k in a)
    assert {k.split('.')[1] for k in set(b) - set(a)} == {'iou_convs', 'retina_iou'}


def test_a_faster_rcnn_checkpoint_gets_iou_nets_head_and_stays_bitwise(tmp_path):
    base = Config.fromfile(osp.join(ROOT, 'configs/faster_rcnn/faster-rcnn_tiny-r18_fpn_shapes.py'))
    torch.manual_seed(4)
    detector = MODELS.build(base.model)
    detector.init_weights()
    path = str(tmp_path / 'faster_rcnn.pth')
    torch.save(dict(state_dict=detector.state_dict()), path)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py'))
    model = MODELS.build(dict(type='IoUBranchRetrofit', detector=cfg.model, checkpoint=path))
    before = frozen_tensors(model)
    assert set(before) == set(detector.state_dict())
    head_before = {k: v.clone() for k, v in model.roi_head.iou_head.state_dict().items()}
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    torch.manual_seed(0)
    packed = demo_mm_inputs(2, image_shapes=(3, 128, 128), num_items=[3, 2], num_classes=6)
    for _ in range(2):
        losses = model(**model.data_preprocessor(packed, True), mode='loss')
        optim.update_params(model.parse_losses(losses)[0])
    after = frozen_tensors(model)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert any(not torch.equal(v, head_before[k])
               for k, v in model.roi_head.iou_head.state_dict().items())
