"""mmdet's detection visualizer, labelling each box with its predicted IoU as well."""
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer


@VISUALIZERS.register_module()
class IoUDetLocalVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` whose predicted boxes read ``class score | IoU x.xx`` when the
    model predicts an IoU (``pred_ious``), e.g. ``RBC 0.91 | IoU 0.83``; otherwise (ground
    truth, models without an IoU branch) exactly mmdet's drawing."""

    def _draw_instances(self, image, instances, classes, palette):
        if 'pred_ious' in instances and 'scores' in instances and len(instances):
            instances = instances.clone()
            names = [classes[int(label)] if classes is not None else f'class {int(label)}'
                     for label in instances.labels]
            instances.label_names = [
                f'{name} {float(score):.2f} | IoU {float(iou):.2f}'
                for name, score, iou in zip(names, instances.scores, instances.pred_ious)]
            del instances.scores  # already in the label; mmdet would append it again
        return super()._draw_instances(image, instances, classes, palette)
