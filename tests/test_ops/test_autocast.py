"""Mixed precision: under torch.autocast the ops compute in float32 (as torchvision's
roi_align) and keep the boxes' precision. CPU bfloat16 here; CUDA float16 in the GPU check."""
import pytest
import torch

from iou_aware.ops import iou_guided_nms, prroi_pool

from ..conftest import DEVICES

LOW = {'cpu': torch.bfloat16, 'cuda': torch.float16}


def feature_and_rois(device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 16, 16, generator=g).to(device)
    rois = torch.tensor([[0, 1.3, 2.7, 9.1, 12.45], [1, 0.2, 0.3, 15.5, 7.77],
                         [0, 3.33, 3.33, 3.9, 14.1]], device=device)
    return x, rois


@pytest.mark.parametrize('device', DEVICES)
def test_prroi_pool_under_autocast_is_float32_math_on_float32_boxes(device):
    low = LOW[device]
    x, rois = feature_and_rois(device)
    x_low = x.to(low)
    boxes = rois.clone().requires_grad_(True)
    with torch.autocast(device, dtype=low):
        out = prroi_pool(x_low, boxes, 3, 1.0)
        assert out.dtype == low  # the input's dtype, as torchvision's roi_align
        (out.float() * torch.arange(out.numel(), device=device).view_as(out)).sum().backward()
    ref_boxes = rois.clone().requires_grad_(True)
    ref = prroi_pool(x_low.float(), ref_boxes, 3, 1.0)
    torch.testing.assert_close(out, ref.to(low), rtol=0, atol=0)
    assert boxes.grad.dtype == torch.float32
    (ref.to(low).float() * torch.arange(ref.numel(), device=device).view_as(ref)).sum().backward()
    torch.testing.assert_close(boxes.grad, ref_boxes.grad)


def test_mixed_dtypes_outside_autocast_are_still_refused():
    x, rois = feature_and_rois('cpu')
    with pytest.raises(TypeError, match='rois must have the dtype of input'):
        prroi_pool(x.to(torch.bfloat16), rois, 3, 1.0)


def test_boxes_in_bfloat16_would_lose_sub_pixel_precision():
    """Why the boxes stay float32: bfloat16 has 8 significant bits, so a coordinate near
    250 px moves by up to 0.5 px (IoU-Net's refinement steps are smaller than that)."""
    coords = torch.linspace(200, 256, 1000)
    assert (coords.to(torch.bfloat16).float() - coords).abs().max() > 0.4


@pytest.mark.parametrize('device', DEVICES)
def test_iou_guided_nms_under_autocast_matches_float32(device):
    low = LOW[device]
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(60, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=g) * 20], 1).to(device)
    scores, ious = torch.rand(60, generator=g).to(device), torch.rand(60, generator=g).to(device)
    with torch.autocast(device, dtype=low):
        keep, cluster = iou_guided_nms(boxes.to(low), scores.to(low), ious.to(low), 0.5)
    ref_keep, ref_cluster = iou_guided_nms(boxes.to(low).float(), scores.to(low).float(),
                                           ious.to(low).float(), 0.5)
    assert torch.equal(keep, ref_keep)
    torch.testing.assert_close(cluster.float(), ref_cluster)
