# COCO baseline (for GPU users): mmdet's RetinaNet R50-FPN 1x with iou_aware registered
# and AP80/AP90 reported next to the standard COCO metrics.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)
val_evaluator = dict(type='StrictIoUCocoMetric')
test_evaluator = val_evaluator
