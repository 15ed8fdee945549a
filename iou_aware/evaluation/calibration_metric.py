"""The field's calibration figures as an mmdet metric, for ``val_evaluator`` /
``test_evaluator`` beside ``CocoMetric``:

    val_evaluator = [dict(type='CocoMetric', ann_file=ANN, metric='bbox'),
                     dict(type='DetectionCalibrationMetric', ann_file=ANN)]

For each confidence the detections carry (``scores``; ``cls_scores`` and ``pred_ious`` where
the model has them) it reports, over every emitted detection: LaECE_0 and LaACE_0
(Kuzucu et al. 2024), LRP_0 and oLRP at 0.5 (Oksuz et al.), in %, as
``calibration/<confidence>_<figure>``. The protocol with thresholds fitted on val needs two
splits and lives in benchmarks/analysis/calibration_protocol.py. Ground truth is read from the
COCO file, as CocoMetric does (no JSON round trip of the predictions).
"""
import contextlib
import io

import numpy as np
from mmengine.evaluator import BaseMetric
from mmdet.registry import METRICS

from iou_aware.analysis import detection_calibration as dc
from iou_aware.analysis.ground_truth import load_ground_truth

FIELDS = {'scores': 'score', 'cls_scores': 'cls', 'pred_ious': 'iou'}


@METRICS.register_module()
class DetectionCalibrationMetric(BaseMetric):
    default_prefix = 'calibration'

    def __init__(self, ann_file, collect_device='cpu', prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file

    def process(self, data_batch, data_samples):
        for sample in data_samples:
            pred = sample['pred_instances']
            row = dict(img_id=sample['img_id'], bboxes=pred['bboxes'].cpu().numpy(),
                       labels=pred['labels'].cpu().numpy())
            for field in FIELDS:
                if field in pred:
                    row[field] = pred[field].detach().float().cpu().numpy()
            self.results.append(row)

    def compute_metrics(self, results):
        from pycocotools.coco import COCO
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(self.ann_file)
        classes = self.dataset_meta['classes']
        gt, _, _ = load_ground_truth(coco, classes, self.ann_file)
        dets = dict(img_id=np.concatenate([np.full(len(r['labels']), r['img_id']) for r in results]),
                    label=np.concatenate([r['labels'] for r in results]).astype(int),
                    bbox=np.concatenate([r['bboxes'] for r in results]).reshape(-1, 4))
        out = {}
        for field, short in FIELDS.items():
            if not all(field in r for r in results):
                continue
            scores = np.clip(np.concatenate([r[field] for r in results]).astype(float), 0, 1)
            match = dc.match_detections(dets, gt, scores, 0.0, len(classes))
            figures = dict(
                laece_0=dc.laece(dets, gt, scores, 0.0, num_classes=len(classes), match=match)['laece'],
                laace_0=dc.laace(dets, gt, scores, 0.0, num_classes=len(classes), match=match)['laace'],
                lrp_0=dc.lrp(dets, gt, scores, 0.0, len(classes), match=match)['lrp'],
                olrp=dc.optimal_lrp(dets, gt, scores, 0.5, len(classes))['olrp'])
            out.update({f'{short}_{k}': round(100 * v, 2) for k, v in figures.items()})
        return out
