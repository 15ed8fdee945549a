# The box-quality head (iou_aware/models/box_quality) on a *trained* Faster R-CNN (BCCD): as
# ./retinanet_tiny-r18_fpn_box-quality_bccd.py, the detector loaded from `model.checkpoint`
# and frozen, its own final detections (RPN, box head, multiclass NMS) re-scored by the
# head's expected IoU:
#   python tools/train.py configs/box_quality/faster-rcnn_tiny-r18_fpn_box-quality_bccd.py \
#       --cfg-options model.checkpoint=work_dirs/faster-rcnn/epoch_36.pth
_base_ = '../faster_rcnn/faster-rcnn_tiny-r18_fpn_bccd.py'
model = dict(_delete_=True, type='BoxQualityRetrofit', detector={{_base_.model}},
             quality_head=dict(type='BoxQualityHead'), checkpoint=None,
             refine=dict(steps=0, step_size=0.5, omega1=0.001, omega2=-0.01))
# As the other retrofits: a third of the detector's 36 epochs.
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=300),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, by_epoch=True,
         eta_min_ratio=0.01, convert_to_iter_based=True),
]
