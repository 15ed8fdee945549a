# COCO baseline (for GPU users): mmdet's RetinaNet R50-FPN 1x with iou_aware registered
# and AP80/AP90 reported next to the standard COCO metrics.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)
val_evaluator = dict(type='StrictIoUCocoMetric')
test_evaluator = val_evaluator
# The project's training guarantees (iou_aware.engine, iou_aware.datasets): exact resume,
# a stop at the first non-finite loss, flawed boxes dropped or clipped with a warning.
train_cfg = dict(type='ResumableEpochBasedTrainLoop')
custom_hooks = [dict(type='FiniteLossHook')]
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = val_dataloader
