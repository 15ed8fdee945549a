"""COCO bbox metric that also reports AP at strict IoU thresholds (AP80, AP90)."""
import contextlib
import io
import os.path as osp
import tempfile

import numpy as np
from mmdet.datasets.api_wrappers import COCOeval
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.fileio import load
from mmengine.logging import MMLogger

from iou_aware.datasets.annotation_checks import sanitize_coco_api


def ap_at_iou_thresholds(coco_eval):
    """AP (all areas, the last maxDets) at each of ``coco_eval.params.iouThrs``, from an
    evaluated and accumulated COCOeval; -1 where no ground truth exists."""
    precision = coco_eval.eval['precision'][:, :, :, 0, -1]  # [T, R, K]
    aps = []
    for t in range(precision.shape[0]):
        valid = precision[t][precision[t] > -1]
        aps.append(float(np.mean(valid)) if valid.size else -1.0)
    return aps


@METRICS.register_module()
class StrictIoUCocoMetric(CocoMetric):
    """``CocoMetric`` plus ``bbox_mAP_80`` and ``bbox_mAP_90``.

    COCOeval's summary reports AP50 and AP75 only, and mmdet's CocoMetric keeps its COCOeval
    local, so after the standard evaluation the bbox results are evaluated once more over
    the same thresholds (a few seconds on a small val set) to read AP at every threshold.

    The ground truth read from ``ann_file`` goes through the same annotation check as the
    training data (:class:`~iou_aware.datasets.CheckedCocoDataset`): a zero-size box would
    otherwise count as an object no detection can ever match.

    Args:
        strict_iou_thrs (Sequence[float]): extra thresholds reported as ``bbox_mAP_<100*t>``.
    """

    def __init__(self, *args, strict_iou_thrs=(0.8, 0.9), **kwargs):
        super().__init__(*args, **kwargs)
        self.strict_iou_thrs = tuple(strict_iou_thrs)
        if self._coco_api is not None:
            report = sanitize_coco_api(self._coco_api, kwargs.get('ann_file') or args[0])
            if report:
                MMLogger.get_current_instance().warning('evaluation ground truth: ' +
                                                        report.describe())

    def compute_metrics(self, results):
        eval_results = super().compute_metrics(results)
        if self.format_only or 'bbox' not in self.metrics or not results:
            return eval_results
        preds = [pred for _, pred in results]
        with tempfile.TemporaryDirectory() as tmp:
            result_files = self.results2json(preds, osp.join(tmp, 'results'))
            detections = load(result_files['bbox'])
        if not detections:
            # mmdet logs an error and returns no bbox keys; with no detections every AP is
            # 0, and a complete report keeps tables and scripts working.
            MMLogger.get_current_instance().warning(
                'the model made no detections on the whole dataset: every AP is 0')
            keys = ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
            keys += [f'mAP_{round(t * 100)}' for t in self.strict_iou_thrs]
            for key in keys:
                eval_results.setdefault(f'bbox_{key}', 0.0)
            return eval_results
        coco_eval = COCOeval(self._coco_api, self._coco_api.loadRes(detections), 'bbox')
        coco_eval.params.catIds = self.cat_ids
        coco_eval.params.imgIds = self.img_ids
        coco_eval.params.maxDets = list(self.proposal_nums)
        coco_eval.params.iouThrs = np.array(self.iou_thrs)
        with contextlib.redirect_stdout(io.StringIO()):  # the first pass already logged
            coco_eval.evaluate()
            coco_eval.accumulate()
        aps = ap_at_iou_thresholds(coco_eval)
        for thr in self.strict_iou_thrs:
            idx = np.flatnonzero(np.isclose(coco_eval.params.iouThrs, thr))
            eval_results[f'bbox_mAP_{round(thr * 100)}'] = round(aps[idx[0]], 3) if idx.size else -1.0
        MMLogger.get_current_instance().info(
            'bbox AP by IoU threshold: ' + ' '.join(
                f'{t:.2f}:{ap:.3f}' for t, ap in zip(coco_eval.params.iouThrs, aps)))
        return eval_results
