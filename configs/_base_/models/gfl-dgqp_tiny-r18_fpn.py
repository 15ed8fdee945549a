# GFLv2's distribution-guided quality predictor (DGQP) on the tiny GFL peer
# (./gfl_tiny-r18_fpn.py): the same detector, losses, assigner and test settings, with the
# joint score multiplied by a quality read from the sharpness of the four edge distributions
# (iou_aware/models/peers/dgqp_gfl_head.py). DGQP settings as GFLv2's (top-4 + mean, 64 hidden).
_base_ = './gfl_tiny-r18_fpn.py'
model = dict(bbox_head=dict(type='DGQPGFLHead', reg_topk=4, reg_channels=64, add_mean=True))
