"""Precise RoI Pooling (Jiang et al., ECCV 2018): functional op and nn.Module."""
import torch
from torch import nn

from ._library import has_extension, warn_fallback
from .prroi_pool_reference import prroi_pool_reference
from .roi_format import check_rois, check_scale, pair, rois_to_tensor

OP = 'prroi_pool'
LOW_PRECISION = (torch.float16, torch.bfloat16)


def prroi_pool(input, rois, output_size, spatial_scale=1.0):
    """Precise RoI Pooling.

    Each output bin is the exact integral, over the bin, of the bilinear interpolant of the
    feature map (zero outside it), divided by the bin's area; 0 for a zero-area bin.
    Differentiable with respect to ``input`` and to the box coordinates in ``rois``.

    Args:
        input (Tensor[N, C, H, W]): feature maps.
        rois (Tensor[K, 5] or list[Tensor[L, 4]]): boxes ``(batch_index, x1, y1, x2, y2)``,
            or one ``(x1, y1, x2, y2)`` tensor per image, in input-image coordinates.
            A reversed box (x2 < x1 or y2 < y1) has zero width or height.
        output_size (int or (int, int)): bins per RoI, ``(ph, pw)``.
        spatial_scale (float): feature-map size / image size (finite, > 0), e.g. 1/4 for
            stride 4. Coordinates are scaled with no -0.5 shift (as the original and mmcv).

    Returns:
        Tensor[K, C, ph, pw]

    Under ``torch.autocast`` (mixed precision) it computes in float32 and returns the
    input's dtype, as torchvision's ``roi_align`` does: the box coordinates, and their
    gradient (what IoU-Net's refinement steps are made of), keep float32 precision
    whatever the features' dtype; a bfloat16 box on a 250 px object is off by up to 0.5 px.
    """
    rois = rois_to_tensor(rois)
    if (isinstance(input, torch.Tensor) and isinstance(rois, torch.Tensor)
            and torch.is_autocast_enabled(input.device.type)
            and (input.dtype in LOW_PRECISION or rois.dtype in LOW_PRECISION)):
        with torch.autocast(input.device.type, enabled=False):
            out = prroi_pool(input.float(), rois.float(), output_size, spatial_scale)
        return out.to(input.dtype)
    check_rois(input, rois, OP)
    ph, pw = pair(output_size, OP)
    scale = check_scale(spatial_scale, OP)
    if has_extension():
        return torch.ops.iou_aware.prroi_pool_forward(input, rois, ph, pw, scale)
    warn_fallback(OP)
    return prroi_pool_reference(input, rois, ph, pw, scale)


class PrRoIPool2d(nn.Module):
    """Module form of :func:`prroi_pool`, usable as an mmdet RoI layer."""

    def __init__(self, output_size, spatial_scale=1.0):
        super().__init__()
        self.output_size = pair(output_size, 'PrRoIPool2d')
        self.spatial_scale = check_scale(spatial_scale, 'PrRoIPool2d')

    def forward(self, input, rois):
        return prroi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return (f'{self.__class__.__name__}(output_size={self.output_size}, '
                f'spatial_scale={self.spatial_scale})')


def _register_autograd_and_fake():
    lib = 'iou_aware::'

    @torch.library.register_fake(lib + 'prroi_pool_forward')
    def _forward_fake(input, rois, pooled_height, pooled_width, spatial_scale):
        torch._check(input.dim() == 4, lambda: 'prroi_pool: input must be 4-D')
        torch._check(rois.dim() == 2 and rois.shape[1] == 5, lambda: 'prroi_pool: rois must be [K, 5]')
        return input.new_empty((rois.shape[0], input.shape[1], pooled_height, pooled_width))

    @torch.library.register_fake(lib + '_prroi_pool_backward_input')
    def _backward_input_fake(grad, rois, pooled_height, pooled_width, spatial_scale,
                             batch_size, channels, height, width):
        return grad.new_empty((batch_size, channels, height, width))

    @torch.library.register_fake(lib + '_prroi_pool_backward_rois')
    def _backward_rois_fake(grad, output, input, rois, pooled_height, pooled_width, spatial_scale):
        return rois.new_empty(rois.shape)

    def setup_context(ctx, inputs, output):
        input, rois, pooled_height, pooled_width, spatial_scale = inputs
        ctx.save_for_backward(input, rois, output)
        ctx.pooled = (pooled_height, pooled_width, spatial_scale)

    def backward(ctx, grad):
        input, rois, output = ctx.saved_tensors
        ph, pw, scale = ctx.pooled
        grad_input = grad_rois = None
        if ctx.needs_input_grad[0]:
            grad_input = torch.ops.iou_aware._prroi_pool_backward_input(
                grad, rois, ph, pw, scale, *input.shape)
        if ctx.needs_input_grad[1]:
            grad_rois = torch.ops.iou_aware._prroi_pool_backward_rois(
                grad, output, input, rois, ph, pw, scale)
        return grad_input, grad_rois, None, None, None

    torch.library.register_autograd(lib + 'prroi_pool_forward', backward,
                                    setup_context=setup_context)


if has_extension():
    _register_autograd_and_fake()
