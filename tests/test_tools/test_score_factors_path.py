"""benchmarks/analysis/score_factors_path.py's premise: with nothing cut by the fused threshold or
the top-k, mmdet's score-factor path and ours keep the same boxes in the same order (the
measured AP difference is then the thresholds' and top-k's alone)."""
import os.path as osp

import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401

from .tool_helpers import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER = osp.join(ROOT, 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_paper_shapes.py')


def _load_tool():
    return load_tool('benchmarks/analysis/score_factors_path.py')


def _predict(head_type, test_cfg):
    init_default_scope('mmdet')
    cfg = Config.fromfile(PAPER)
    cfg.model.bbox_head.type = head_type
    cfg.model.test_cfg.update(test_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.nn.init.constant_(model.bbox_head.retina_cls.bias, -1.0)
    model.eval()
    torch.manual_seed(1)
    packed = demo_mm_inputs(1, image_shapes=(3, 128, 128), num_items=[2], num_classes=6)
    with torch.no_grad():
        data = model.data_preprocessor(packed, False)
        return model.predict(data['inputs'], data['data_samples'])[0].pred_instances


def _rows(pred, square=False):
    import numpy as np
    scores = pred.scores ** 2 if square else pred.scores  # ours: sqrt(cls x IoU)
    rows = torch.cat([pred.bboxes, pred.labels[:, None].float(), scores[:, None]], 1).double()
    order = np.lexsort(rows.numpy().T[::-1])
    return rows[torch.from_numpy(order)]


def test_both_paths_keep_the_same_boxes_when_nothing_is_cut():
    _load_tool()  # registers MMDetScoreFactorsIoURetinaHead
    wide = dict(nms_pre=100000, max_per_img=100000)
    ours = _predict('IoUAwareRetinaHead', dict(wide, score_thr=0.0, cls_score_thr=0.05))
    theirs = _predict('MMDetScoreFactorsIoURetinaHead', dict(wide, score_thr=0.05))
    assert len(ours) > 10
    # the same (box, label, score) rows; boxes of equal score may come out in either order
    a, b = _rows(ours, square=True), _rows(theirs)
    torch.testing.assert_close(a, b)
    # and the fused threshold is what can differ: at the shipped 0.05 on sqrt(cls x IoU) ours
    # keeps no more boxes than mmdet's path
    shipped = _predict('IoUAwareRetinaHead', dict(wide))
    assert len(shipped) <= len(theirs)


def test_the_tool_refuses_the_class_aware_default_head(capsys):
    import pytest
    tool = _load_tool()
    default = osp.join(ROOT, 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py')
    with pytest.raises(SystemExit):
        tool.main([default, 'missing.pth'])
    assert 'cannot select a class-aware IoU' in capsys.readouterr().err
