"""The detectors' own parts under CPU bfloat16 autocast. mmcv's CPU nms and roi_align have
no bfloat16 kernels, so the paths through them (RetinaNet's plain NMS, Faster R-CNN's RPN
proposals and box head) cannot run under CPU autocast; what is ours is tested here."""
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401
from iou_aware.models.roi_heads import refine_boxes

from .test_iou_net_roi_head import IOU_NET

init_default_scope('mmdet')
IOU_AWARE = 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py'
BF16 = dict(device_type='cpu', dtype=torch.bfloat16)


def packed():
    torch.manual_seed(0)
    return demo_mm_inputs(2, image_shapes=(3, 128, 128), num_items=[3, 2], num_classes=6)


def test_iou_aware_retinanet_loss_backward_and_predict_under_autocast():
    cfg = Config.fromfile(IOU_AWARE)
    cfg.model.test_cfg.nms = dict(type='iou_guided_nms', iou_threshold=0.5)  # ours: bf16 ok
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(packed(), True)
    with torch.autocast(**BF16):
        losses = model(**data, mode='loss')
    total = sum(sum(v) if isinstance(v, list) else v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total) and float(losses['loss_iou']) > 0
    total.backward()
    grads = [p.grad for p in model.bbox_head.retina_iou.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    model.eval()
    data = model.data_preprocessor(packed(), False)
    with torch.no_grad(), torch.autocast(**BF16):
        (res,) = model.predict(data['inputs'][:1], data['data_samples'][:1])
    pred = res.pred_instances
    assert len(pred) > 0 and ((pred.pred_ious >= 0) & (pred.pred_ious <= 1)).all()
    assert torch.isfinite(pred.scores.float()).all()


def test_iou_net_refinement_under_autocast_keeps_float32_boxes():
    """The IoU head on PrRoIPool features and Algorithm 2's gradient ascent, once in float32
    and once under autocast: the boxes stay float32 and move about as far."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(IOU_NET).model).eval()
    with torch.no_grad():
        model.roi_head.iou_head.fc_iou.weight.mul_(200)  # sharpen random IoUs (as the head tests)
    data = model.data_preprocessor(packed(), False)
    boxes = torch.tensor([[10.3, 12.7, 60.1, 70.9], [30.0, 5.5, 90.25, 40.75],
                          [64.2, 64.2, 120.6, 110.3]])
    img_inds, labels = torch.zeros(3, dtype=torch.long), torch.tensor([0, 2, 5])
    moved = {}
    for name, ctx in (('float32', torch.autocast('cpu', enabled=False)),
                      ('autocast', torch.autocast(**BF16))):
        with ctx:
            feats = model.extract_feat(data['inputs'])
            feats = [f.detach() for f in feats]

            def score_fn(b, idx):
                return model.roi_head.predict_ious(feats, img_inds[idx], b, labels[idx])

            refined, scores, steps = refine_boxes(boxes, score_fn, steps=3, step_size=0.5)
        assert refined.dtype == torch.float32 and steps.sum() > 0
        moved[name] = refined - boxes
    assert moved['float32'].abs().max() > 0.1
    # bf16 features move the result a little; float32 boxes keep sub-pixel steps
    diff = (moved["autocast"] - moved["float32"]).abs().max().item()
    print(f"refinement: float32 moves boxes by up to {moved['float32'].abs().max():.3f} px; "
          f"under autocast the result differs by up to {diff:.3f} px")
    assert diff < 0.5 * moved['float32'].abs().max().item(), diff
