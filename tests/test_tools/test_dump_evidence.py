"""benchmarks/analysis/dump_evidence.py: the detections it keeps are the detector's own (same
boxes in the original image, scores and labels as ``detector.predict``), each with its
evidence, and the file reads back as the benchmark's detections.npz."""
import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401
from iou_aware.analysis.report import predictions_from_raw_detections
from iou_aware.models.box_quality.evidence import EVIDENCE_FEATURES

from .tool_helpers import load_tool

init_default_scope('mmdet')


def test_dumped_detections_are_the_detectors_own_with_evidence(tmp_path):
    tool = load_tool('benchmarks/analysis/dump_evidence.py')
    cfg = Config.fromfile('configs/retinanet/retinanet_tiny-r18_fpn_shapes.py')
    torch.manual_seed(0)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    torch.nn.init.zeros_(detector.bbox_head.retina_cls.bias)  # an untrained head emits boxes
    detector.eval()
    torch.manual_seed(1)
    packed = demo_mm_inputs(2, image_shapes=(3, 128, 128), num_items=[3, 1], num_classes=6)
    for i, sample in enumerate(packed['data_samples']):  # isotropic: NMS commutes with it
        sample.set_metainfo(dict(img_id=10 + i, scale_factor=(1.25, 1.25), ori_shape=(102, 102)))
    with torch.no_grad():
        ours = tool.predict_with_evidence(detector, packed)
        data = detector.data_preprocessor(packed, False)
        ref = detector.predict(data['inputs'], data['data_samples'])
    assert [o['img_id'] for o in ours] == [10, 11]
    for o, r in zip(ours, ref):
        inst, pred = o['pred_instances'], r.pred_instances
        assert len(pred) > 5
        np.testing.assert_array_equal(inst['labels'], pred.labels.numpy())
        np.testing.assert_allclose(inst['scores'], pred.scores.numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(inst['bboxes'], pred.bboxes.numpy(), rtol=1e-6, atol=1e-4)
        assert inst['evidence'].shape == (len(pred), len(EVIDENCE_FEATURES))
        np.testing.assert_array_equal(inst['evidence'][:, 0], inst['scores'])  # 'score' column
    tool.dump(ours, tmp_path / 'e.npz')
    back = predictions_from_raw_detections(tmp_path / 'e.npz')
    assert [b['img_id'] for b in back] == [10, 11]
    for b, o in zip(back, ours):
        np.testing.assert_allclose(b['pred_instances']['bboxes'], o['pred_instances']['bboxes'])
    assert len(np.load(tmp_path / 'e.npz')['evidence']) == sum(len(o['pred_instances']['labels']) for o in ours)
