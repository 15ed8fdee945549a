# Tiny RetinaNet: mmdet's RetinaNet with a ResNet-18 at 1/4 width trained from scratch and a
# 64-channel FPN; the leaf configs set num_classes.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must be learned
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    bbox_head=dict(
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        # GroupNorm in the head: from scratch it converges markedly faster (as in FCOS/ATSS).
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        # Objects from 12 px: anchors start at 16 px on stride 8 (mmdet's COCO base is 32).
        anchor_generator=dict(octave_base_scale=2)))
