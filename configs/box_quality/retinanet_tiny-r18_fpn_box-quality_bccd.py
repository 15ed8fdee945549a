# A box-quality head (iou_aware/models/box_quality) on a *trained* RetinaNet (BCCD): the
# detector is loaded from `model.checkpoint` and frozen; the head learns, from the detector's
# own final detections and jittered ground truths, the IoU each detection can be expected to
# have with an object (0 for a duplicate or background), and that becomes the score:
#   python tools/train.py configs/box_quality/retinanet_tiny-r18_fpn_box-quality_bccd.py \
#       --cfg-options model.checkpoint=work_dirs/retinanet/epoch_36.pth
_base_ = '../retinanet/retinanet_tiny-r18_fpn_bccd.py'
model = dict(_delete_=True, type='BoxQualityRetrofit', detector={{_base_.model}},
             quality_head=dict(type='BoxQualityHead'), checkpoint=None,
             # IoU-Net's box refinement through the head's loc output: off (steps=0); the
             # benchmark's box-quality_refine run evaluates it with steps=5
             refine=dict(steps=0, step_size=0.5, omega1=0.001, omega2=-0.01))
# As the IoU-branch retrofit: a third of the detector's 36 epochs.
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=300),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, by_epoch=True,
         eta_min_ratio=0.01, convert_to_iter_based=True),
]
