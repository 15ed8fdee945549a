"""An FPN RoI extractor whose RoI layer is our Precise RoI Pooling."""
import torch
from mmcv import ops as mmcv_ops
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch import nn

from iou_aware import ops


@MODELS.register_module()
class PrRoIExtractor(SingleRoIExtractor):
    """``SingleRoIExtractor`` that resolves ``roi_layer.type`` in ``iou_aware.ops`` first.

    mmdet looks a string ``type`` up in ``mmcv.ops`` only, where ``'PrRoIPool'`` is mmcv's
    CUDA-only, float32-only op; here ``roi_layer=dict(type='PrRoIPool2d', output_size=7)``
    gets our CPU+CUDA op with box-coordinate gradients. Other names (``'RoIAlign'``) still
    come from mmcv.ops, so the class is a drop-in replacement.
    """

    def __init__(self, roi_layer=dict(type='PrRoIPool2d', output_size=7), **kwargs):
        super().__init__(roi_layer=roi_layer, **kwargs)

    def build_roi_layers(self, layer_cfg, featmap_strides):
        cfg = dict(layer_cfg)
        layer_type = cfg.pop('type')
        if isinstance(layer_type, str):
            layer_cls = getattr(ops, layer_type, None) or getattr(mmcv_ops, layer_type, None)
            if layer_cls is None:
                raise ValueError(f'PrRoIExtractor: roi_layer type {layer_type!r} is neither in '
                                 'iou_aware.ops nor in mmcv.ops (use e.g. "PrRoIPool2d")')
        else:
            layer_cls = layer_type
        if layer_cls is ops.PrRoIPool2d:
            # Configs switch mmdet's RoIAlign layer to ours by merging, which carries its
            # sampling_ratio along; PrRoIPool integrates exactly and has no samples.
            cfg.pop('sampling_ratio', None)
            if cfg.pop('aligned', False):
                raise ValueError('PrRoIExtractor: PrRoIPool2d has no aligned=True (-0.5 '
                                 'pixel shift) mode; remove `aligned` from roi_layer')
        return nn.ModuleList([layer_cls(spatial_scale=1 / s, **cfg) for s in featmap_strides])

    def maps_for_repeated_pooling(self, feats):
        """The feature maps this extractor reads, detached and laid out for pooling them
        many times (IoU-Net scores candidates, then refines: two poolings per step).

        PrRoIPool's CPU kernels read channels-last maps (its CUDA kernels NCHW); converting
        once here spares a transpose in every call. Values are unchanged."""
        maps = [f.detach() for f in feats[:self.num_inputs]]
        if isinstance(self.roi_layers[0], ops.PrRoIPool2d):
            maps = [f.contiguous(memory_format=torch.channels_last) if f.device.type == 'cpu'
                    else f for f in maps]
        return maps

    def pool_at_levels(self, feats, rois, levels):
        """Pool each RoI on a given FPN level: ``levels`` Tensor[K] long, e.g. from
        ``map_roi_levels``; then this equals ``forward(feats, rois)``.

        IoU-Net's refinement pools the same boxes again after every step. Keeping each box
        on the level it started from keeps the optimized score continuous in the box
        (``forward`` would switch a box that crosses a level boundary to another map), and
        skips what ``forward`` adds for multi-GPU training (zero-weighted sums of the unused
        maps).
        """
        rois = rois.type_as(feats[0])  # as forward (mmdet casts for mixed precision)
        size = self.roi_layers[0].output_size
        used = levels.unique().tolist()
        if len(used) == 1:
            return self.roi_layers[used[0]](feats[used[0]], rois)
        out = feats[0].new_zeros(len(rois), self.out_channels, *size)
        for lvl in used:
            inds = torch.nonzero(levels == lvl).squeeze(1)
            out[inds] = self.roi_layers[lvl](feats[lvl], rois[inds])
        return out
