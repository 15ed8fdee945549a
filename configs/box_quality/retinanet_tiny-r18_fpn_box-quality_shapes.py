# The box-quality head (iou_aware/models/box_quality) on a *trained*, frozen shapes RetinaNet:
# the BCCD config's model (configs/box_quality/retinanet_tiny-r18_fpn_box-quality_bccd.py) on the
# shapes benchmark's data and schedule.
#   python tools/train.py configs/box_quality/retinanet_tiny-r18_fpn_box-quality_shapes.py \
#       --cfg-options model.checkpoint=work_dirs/retinanet/epoch_12.pth
_base_ = '../retinanet/retinanet_tiny-r18_fpn_shapes.py'
model = dict(_delete_=True, type='BoxQualityRetrofit', detector={{_base_.model}},
             quality_head=dict(type='BoxQualityHead'), checkpoint=None,
             refine=dict(steps=0, step_size=0.5, omega1=0.001, omega2=-0.01))
# A third of the detector's 12 epochs, as on BCCD (12 of 36).
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=300),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, by_epoch=True,
         eta_min_ratio=0.01, convert_to_iter_based=True),
]
