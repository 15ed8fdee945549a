"""This project's default IoU-aware RetinaNet head: the predicted IoU as a pure estimator,
trained to hold over every detection (chosen on the shapes benchmark, confirmed on BCCD;
docs/localization.md, docs/calibration.md)."""
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor

from .decoupled_iou_branch import (build_branch, check_iou_convs, init_weights_apart,
                                   other_pairs_iou_loss)
from .iou_aware_retina_head import IoUAwareRetinaHead

BRANCH_MODULES = ('iou_convs', 'retina_iou')  # the IoU branch's own layers


@MODELS.register_module()
class DecoupledIoURetinaHead(IoUAwareRetinaHead):
    """The paper's detector and scoring with a different IoU branch; no settings to choose.

    - **Class-aware, trained on every (anchor, class).** One IoU output per class, as
      IoU-Net's head: a detection is judged by its IoU with objects of its own class. The
      positives train their label's output on IoU(decoded box, assigned object), as in the
      paper; every other (anchor, class) trains its output towards the IoU of the anchor's
      decoded box with the best object of that class (0 where none overlaps), weighted by
      that class's score, so the boxes that become detections dominate. The paper's branch,
      trained on positives only, scored boxes at true IoU 0.3 at 0.6-0.85 on shapes.
    - **Decoupled.** The branch reads the regression tower's features detached and its
      targets are detached: the IoU loss trains only the branch's own ``iou_convs`` (two 3x3
      convs with the towers' norm and ReLU) and output conv, so the detector's gradients are
      exactly RetinaNet's. Letting these targets reach the shared tower collapsed box
      regression in some shapes runs.
    - **Isolated.** The branch is built and initialized on a fork of the RNG stream and its
      parameters are tagged for ``SeparateClipOptimWrapper`` (set that wrapper in the
      schedule: a model config cannot hold an optim_wrapper), so for a seed the detector is
      RetinaNet's bit for bit (a paired control; tested end to end).

    The branch's parts are shared with the same recipe on ATSS (:mod:`.decoupled_iou_branch`).

    Args:
        loss_iou (dict): BCE on the IoU logits (soft targets in [0, 1]).
        iou_convs (int): the branch's own conv layers (2, the measured setting).
    """

    IOU_BRANCH = BRANCH_MODULES  # trained by IoUBranchRetrofit on a frozen detector

    score_weight_gamma = 1.0  # the other (anchor, class) terms' weight: score ** gamma

    def __init__(self, *args, iou_convs=2, **kwargs):
        check_iou_convs('DecoupledIoURetinaHead', iou_convs)
        if 'detach_iou_target' in kwargs:
            raise ValueError('DecoupledIoURetinaHead: its IoU targets are always detached; '
                             'remove detach_iou_target (it is the paper head\'s setting)')
        self.num_iou_convs = iou_convs  # read by _init_layers
        super().__init__(*args, detach_iou_target=True, **kwargs)

    def _init_branch(self, in_channels):
        self.iou_channels = self.cls_out_channels
        self.iou_convs, self.retina_iou = build_branch(
            in_channels, self.num_iou_convs, self.num_base_priors * self.iou_channels,
            self.conv_cfg, self.norm_cfg)

    def init_weights(self):
        init_weights_apart(self, BRANCH_MODULES, super().init_weights)

    def _iou_logits(self, reg_feat):
        return self.retina_iou(self.iou_convs(reg_feat.detach()))

    def loss_iou_by_feat(self, cls_scores, bbox_preds, iou_preds, anchors, labels,
                         bbox_targets, batch_gt_instances, avg_factor):
        """The positives' term (as the paper's head, target detached) plus every other
        (anchor, class), targets and weights detached."""
        loss = super().loss_iou_by_feat(cls_scores, bbox_preds, iou_preds, anchors, labels,
                                        bbox_targets, batch_gt_instances, avg_factor)
        pos = (labels >= 0) & (labels < self.num_classes)
        probs = cls_scores.detach().sigmoid()
        with torch.no_grad():
            boxes = [get_box_tensor(self.bbox_coder.decode(anchors[i], bbox_preds[i].detach()))
                     for i in range(len(batch_gt_instances))]
        # (loss_weight 1.0 kept as a factor: the committed golden traces were made with it)
        return loss + 1.0 * other_pairs_iou_loss(self.loss_iou, iou_preds, boxes, probs, labels,
                                                 pos, batch_gt_instances, avg_factor,
                                                 self.score_weight_gamma)
