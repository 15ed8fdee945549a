"""Shared by the dense-head tests (ATSS family, DGQP on GFL): a detector built from a tiny
config with head overrides, its losses and its predictions on mmdet's demo inputs."""
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401

init_default_scope('mmdet')


def build(config, head_type=None, seed=0, **head):
    cfg = Config.fromfile(config)
    if head_type:
        cfg.model.bbox_head.type = head_type
    cfg.model.bbox_head.update(head)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def losses_of(model, num_items=(3, 1), seed=1):
    torch.manual_seed(seed)
    packed = demo_mm_inputs(len(num_items), image_shapes=(3, 128, 128), num_items=list(num_items),
                            num_classes=6)
    data = model.data_preprocessor(packed, True)
    return model(**data, mode='loss')


def predict_one(model, cls_conv='atss_cls'):
    """Detections of one demo image by ``model`` in eval mode (the bias of its head's
    ``cls_conv`` zeroed, so an untrained head emits boxes); returns (pred_instances, the
    preprocessed inputs)."""
    torch.nn.init.zeros_(getattr(model.bbox_head, cls_conv).bias)
    model.eval()
    torch.manual_seed(0)
    packed = demo_mm_inputs(1, image_shapes=(3, 128, 128), num_items=[2], num_classes=6)
    with torch.no_grad():
        data = model.data_preprocessor(packed, False)
        pred = model.predict(data['inputs'], data['data_samples'])[0].pred_instances
    return pred, data['inputs']


def total(losses):
    return sum(v.sum() if torch.is_tensor(v) else sum(x.sum() for x in v) for v in losses.values())
