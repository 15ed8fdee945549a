"""Slow, exact pure-PyTorch Precise RoI Pooling.

It is the test oracle for the compiled kernels and the fallback when iou_aware._C is not
built. It deliberately integrates the way the original PrRoIPooling does, cell by cell from
the four corner values, rather than with the separable hat-weight form the kernels use, so
the two are independent derivations of the same integral. Autograd through it gives both
the feature and the box-coordinate gradients.
"""
import math

import torch


def _corner(plane, h, w):
    """plane[:, h, w] with zeros outside the map (the interpolant's boundary condition)."""
    _, height, width = plane.shape
    if 0 <= h < height and 0 <= w < width:
        return plane[:, h, w]
    return plane.new_zeros(plane.shape[0])


def _axis_moments(lo, hi, cell):
    """Integrals of (1 - t) and t for t = x - cell over x in [lo, hi] (within the cell)."""
    t0, t1 = lo - cell, hi - cell
    m1 = (t1 * t1 - t0 * t0) / 2
    return (t1 - t0) - m1, m1


def _at_least(v, bound):
    """max(v, bound) that keeps v's gradient when v == bound. torch.clamp zeroes it there,
    which broke the box gradient of every edge lying exactly on a grid line."""
    return v if v.item() >= bound else v.new_tensor(float(bound))


def _at_most(v, bound):
    return v if v.item() <= bound else v.new_tensor(float(bound))


def _bin_integral(plane, xs, xe, ys, ye):
    _, height, width = plane.shape
    total = plane.new_zeros(plane.shape[0])
    # Cells entirely beyond the one-cell ring around the map have four zero corners.
    h_first = max(math.floor(ys.item()), -1)
    h_end = min(math.ceil(ye.item()), height)
    w_first = max(math.floor(xs.item()), -1)
    w_end = min(math.ceil(xe.item()), width)
    for h in range(h_first, h_end):
        y0, y1 = _at_least(ys, h), _at_most(ye, h + 1)
        if y1.item() <= y0.item():
            continue
        v0, v1 = _axis_moments(y0, y1, h)
        for w in range(w_first, w_end):
            x0, x1 = _at_least(xs, w), _at_most(xe, w + 1)
            if x1.item() <= x0.item():
                continue
            u0, u1 = _axis_moments(x0, x1, w)
            total = total + (_corner(plane, h, w) * u0 * v0 + _corner(plane, h, w + 1) * u1 * v0
                             + _corner(plane, h + 1, w) * u0 * v1
                             + _corner(plane, h + 1, w + 1) * u1 * v1)
    return total


def prroi_pool_reference(input, rois, pooled_height, pooled_width, spatial_scale=1.0):
    """Reference PrRoIPool: input [N, C, H, W], rois [K, 5] -> [K, C, ph, pw]."""
    num_rois, channels = rois.shape[0], input.shape[1]
    outputs = []
    for k in range(num_rois):
        n = int(rois[k, 0].item())
        x1, y1, x2, y2 = (rois[k, i] * spatial_scale for i in range(1, 5))
        roi_w = torch.clamp(x2 - x1, min=0)
        roi_h = torch.clamp(y2 - y1, min=0)
        bin_w, bin_h = roi_w / pooled_width, roi_h / pooled_height
        area = bin_w * bin_h
        bins = []
        for i in range(pooled_height):
            for j in range(pooled_width):
                if area.item() <= 0:
                    bins.append(input.new_zeros(channels))
                    continue
                xs, ys = x1 + bin_w * j, y1 + bin_h * i
                bins.append(_bin_integral(input[n], xs, xs + bin_w, ys, ys + bin_h) / area)
        outputs.append(torch.stack(bins, dim=1).reshape(channels, pooled_height, pooled_width)
                       if bins else input.new_zeros(channels, pooled_height, pooled_width))
    if not outputs:
        return input.new_zeros(0, channels, pooled_height, pooled_width)
    return torch.stack(outputs)
