"""mmdet's DetInferencer, keeping each detection's predicted IoU and classification score."""
import os
import os.path as osp

from mmdet.apis import DetInferencer
from mmengine.fileio import dump

EXTRA_KEYS = ('pred_ious', 'cls_scores')


class IoUDetInferencer(DetInferencer):
    """``DetInferencer`` whose per-image prediction JSON (and returned dicts) carry
    ``pred_ious`` and ``cls_scores`` beside mmdet's ``labels``, ``scores`` and ``bboxes``
    (mmdet writes only its own three), and whose pictures are drawn by
    :class:`IoUDetLocalVisualizer` (a config's ``visualizer`` is switched to it)."""

    def _init_visualizer(self, cfg):
        cfg.visualizer = dict(cfg.get('visualizer') or {}, type='IoUDetLocalVisualizer')
        return super()._init_visualizer(cfg)

    def pred2dict(self, data_sample, pred_out_dir=''):
        result = super().pred2dict(data_sample, '')  # written below, with our keys
        pred = data_sample.get('pred_instances')
        if pred is not None:
            for key in EXTRA_KEYS:
                if key in pred:
                    result[key] = pred[key].detach().cpu().tolist()
        if pred_out_dir:
            name = (osp.splitext(osp.basename(data_sample.img_path))[0]
                    if 'img_path' in data_sample else f'{self.num_predicted_imgs}')
            if 'img_path' not in data_sample:
                self.num_predicted_imgs += 1
            os.makedirs(osp.join(pred_out_dir, 'preds'), exist_ok=True)
            dump(result, osp.join(pred_out_dir, 'preds', f'{name}.json'))
        return result
