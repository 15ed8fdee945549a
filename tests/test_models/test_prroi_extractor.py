"""PrRoIExtractor extracts FPN RoI features with our PrRoIPool on CPU."""
import pytest
import torch
from mmdet.registry import MODELS

import iou_aware  # noqa: F401
from iou_aware.ops import PrRoIPool2d, prroi_pool


def build(roi_layer):
    return MODELS.build(dict(type='PrRoIExtractor', roi_layer=roi_layer, out_channels=8,
                             featmap_strides=[4, 8, 16, 32]))


def test_extracts_each_roi_from_its_fpn_level_with_prroi_pool():
    extractor = build(dict(type='PrRoIPool2d', output_size=7))
    assert all(isinstance(m, PrRoIPool2d) for m in extractor.roi_layers)
    feats = tuple(torch.randn(2, 8, 256 // s, 256 // s) for s in (4, 8, 16, 32))
    # Boxes of 20 to 250 px, so every FPN level gets some (mmdet's scale rule).
    rois = torch.tensor([[0, 10, 10, 30, 30], [1, 5, 5, 80, 60], [0, 20, 30, 150, 170],
                         [1, 0, 0, 250, 240], [0, 100.5, 60.25, 140.75, 90.5]])
    out = extractor(feats, rois)
    assert out.shape == (5, 8, 7, 7)
    levels = extractor.map_roi_levels(rois, len(feats))
    assert len(set(levels.tolist())) >= 3
    for k, level in enumerate(levels.tolist()):
        stride = 4 * 2 ** level
        want = prroi_pool(feats[level], rois[k:k + 1], 7, 1.0 / stride)
        torch.testing.assert_close(out[k:k + 1], want)


def test_gradient_reaches_features_and_boxes():
    extractor = build(dict(type='PrRoIPool2d', output_size=(3, 3)))
    feats = tuple(torch.randn(1, 8, 64 // s, 64 // s, requires_grad=True) for s in (4, 8, 16, 32))
    rois = torch.tensor([[0, 4.0, 6.0, 30.0, 28.0]], requires_grad=True)
    extractor(feats, rois).square().sum().backward()
    assert rois.grad[0, 1:].abs().sum() > 0
    assert sum(f.grad.abs().sum() for f in feats) > 0


def test_roi_align_settings_merged_from_a_base_config_are_dropped_or_refused():
    extractor = build(dict(type='PrRoIPool2d', output_size=7, sampling_ratio=0))
    assert isinstance(extractor.roi_layers[0], PrRoIPool2d)
    with pytest.raises(ValueError, match='no aligned=True'):
        build(dict(type='PrRoIPool2d', output_size=7, aligned=True))


def test_other_roi_layers_still_come_from_mmcv():
    from mmcv.ops import RoIAlign
    extractor = build(dict(type='RoIAlign', output_size=7, sampling_ratio=0))
    assert isinstance(extractor.roi_layers[0], RoIAlign)


def test_unknown_roi_layer_is_a_clear_error():
    with pytest.raises(ValueError, match="roi_layer type 'NoSuchPool' is neither"):
        build(dict(type='NoSuchPool', output_size=7))


def test_pool_at_levels_equals_forward_on_mapped_levels_and_honours_given_levels():
    extractor = build(dict(type='PrRoIPool2d', output_size=3))
    feats = tuple(torch.randn(2, 8, 256 // s, 256 // s) for s in (4, 8, 16, 32))
    rois = torch.tensor([[0, 10, 10, 30, 30], [1, 5, 5, 80, 60], [0, 20, 30, 150, 170],
                         [1, 0, 0, 250, 240.0]])
    levels = extractor.map_roi_levels(rois, len(feats))
    torch.testing.assert_close(extractor.pool_at_levels(feats, rois, levels), extractor(feats, rois))
    # Every box forced onto level 1 (one level: the single-call path) and onto mixed levels.
    for forced in (torch.ones(4, dtype=torch.long), torch.tensor([3, 0, 0, 2])):
        out = extractor.pool_at_levels(feats, rois, forced)
        for k, level in enumerate(forced.tolist()):
            want = prroi_pool(feats[level], rois[k:k + 1], 3, 1.0 / (4 * 2 ** level))
            torch.testing.assert_close(out[k:k + 1], want)


def test_pool_at_levels_passes_box_gradients():
    extractor = build(dict(type='PrRoIPool2d', output_size=3))
    feats = tuple(torch.randn(1, 8, 128 // s, 128 // s) for s in (4, 8, 16, 32))
    rois = torch.tensor([[0, 4.0, 6.0, 30.0, 28.0], [0, 10.0, 12.0, 120.0, 100.0]], requires_grad=True)
    extractor.pool_at_levels(feats, rois, torch.tensor([0, 2])).square().sum().backward()
    assert (rois.grad[:, 1:].abs().sum(1) > 0).all()
