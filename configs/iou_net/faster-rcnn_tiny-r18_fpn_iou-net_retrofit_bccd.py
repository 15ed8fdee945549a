# IoU-Net's IoU head added to a *trained* Faster R-CNN (BCCD): the detector is loaded from
# `model.checkpoint` and frozen (weights and BatchNorm statistics), only the IoU head trains
# (iou_aware/models/retrofit.py), for a third of the detector's epochs:
#   python tools/train.py configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_retrofit_bccd.py \
#       --cfg-options model.checkpoint=work_dirs/faster-rcnn/epoch_36.pth
# The paper's IoU head training (jittered ground truths), as its results were made.
_base_ = './faster-rcnn_tiny-r18_fpn_iou-net_gt-jitter_bccd.py'
model = dict(_delete_=True, type='IoUBranchRetrofit', detector={{_base_.model}},
             checkpoint=None)
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=300),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, by_epoch=True,
         eta_min_ratio=0.01, convert_to_iter_based=True),
]
