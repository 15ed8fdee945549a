"""IoU-Net's IoU predictor: RoI features -> one IoU logit per class."""
import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import nn


@MODELS.register_module()
class IoUHead(BaseModule):
    """Two shared FC layers and a class-aware linear output, trained with BCE.

    Args:
        num_classes (int): foreground classes; the output has one IoU per class.
        in_channels (int): channels of the RoI features.
        roi_feat_size (int): side of the pooled RoI features.
        fc_out_channels (int): width of the two FC layers.
        num_fcs (int): number of shared FC layers (the paper uses 2).
        loss_iou (dict): a sigmoid loss taking soft targets in [0, 1]; mmdet's
            ``CrossEntropyLoss(use_sigmoid=True)`` does (the public mmdet 2.x
            reimplementation found BCE better than the paper's smooth L1).
    """

    def __init__(self, num_classes, in_channels=256, roi_feat_size=7, fc_out_channels=1024,
                 num_fcs=2, loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                          loss_weight=1.0),
                 init_cfg=(dict(type='Xavier', distribution='uniform', layer='Linear',
                                override=dict(type='Normal', name='fc_iou', std=0.01)))):
        super().__init__(init_cfg=init_cfg)
        if num_fcs < 1:
            raise ValueError(f'IoUHead: num_fcs must be >= 1, got {num_fcs}')
        self.num_classes = num_classes
        dims = [in_channels * roi_feat_size * roi_feat_size] + [fc_out_channels] * num_fcs
        self.shared_fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.relu = nn.ReLU(inplace=True)
        self.fc_iou = nn.Linear(fc_out_channels, num_classes)
        self.loss_iou = MODELS.build(loss_iou)

    def forward(self, roi_feats):
        """Tensor[K, C, S, S] -> IoU logits Tensor[K, num_classes]."""
        x = roi_feats.flatten(1)
        for fc in self.shared_fcs:
            x = self.relu(fc(x))
        return self.fc_iou(x)

    def loss(self, iou_logits, labels, iou_targets):
        """BCE between the logit of each box's class and its IoU target, averaged over boxes."""
        logits = iou_logits[torch.arange(len(labels), device=labels.device), labels]
        avg = max(len(labels), 1)
        return dict(loss_iou=self.loss_iou(logits, iou_targets.to(logits.dtype), avg_factor=avg))
