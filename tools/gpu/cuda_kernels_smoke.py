"""Run every CUDA kernel of iou_aware._C once, on small inputs, through the public APIs.

Meant to run under compute-sanitizer (tools/gpu/gpu_check.py does: memcheck and racecheck), so
it is small, checks only that results are finite and shaped right (the tests compare
values), and exits non-zero on any failure. Needs torch with CUDA; not mmdet.

    python tools/gpu/cuda_kernels_smoke.py [--device cuda]   (--device cpu: to test this script)
"""
import argparse
import sys

import torch

from iou_aware.ops import batched_iou_guided_nms, has_extension, iou_guided_nms, prroi_pool


def prroi_pool_all_kernels(device, dtype, g):
    """Forward, backward w.r.t. the features and backward w.r.t. the boxes."""
    feats = torch.randn(2, 5, 13, 17, generator=g, dtype=torch.float64).to(device, dtype)
    k = 24
    xy = torch.rand(k, 2, generator=g, dtype=torch.float64) * 80 - 10  # some past the border
    wh = torch.rand(k, 2, generator=g, dtype=torch.float64) * 40
    rois = torch.cat([torch.randint(0, 2, (k, 1), generator=g).double(), xy, xy + wh], dim=1)
    rois[0, 3:] = rois[0, 1:3]  # a zero-area box
    rois = rois.to(device, dtype)
    feats.requires_grad_()
    rois.requires_grad_()
    out = prroi_pool(feats, rois, (7, 7), 0.25)
    out.backward(torch.randn(out.shape, generator=g, dtype=torch.float64).to(device, dtype))
    assert out.shape == (k, 5, 7, 7), out.shape
    for name, t in (('output', out), ('feature grad', feats.grad), ('box grad', rois.grad)):
        assert torch.isfinite(t).all(), f'prroi_pool {dtype}: non-finite {name}'


def nms_all_kernels(device, dtype, g):
    """The mask-word kernel on one chunk and on many (several words per row), batched too."""
    n = 3000
    centres = torch.rand(60, 2, generator=g, dtype=torch.float64) * 1000
    xy = centres[torch.randint(0, 60, (n,), generator=g)] + torch.randn(n, 2, generator=g, dtype=torch.float64) * 8
    wh = 10 + torch.rand(n, 2, generator=g, dtype=torch.float64) * 40
    boxes = torch.cat([xy, xy + wh], dim=1)
    scores, ious = torch.rand(n, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)
    idxs = torch.randint(0, 4, (n,), generator=g)
    args = [t.to(device, dtype) for t in (boxes, scores, ious)]
    keep, kept = iou_guided_nms(*args, 0.5)
    cpu_keep, _ = iou_guided_nms(*(t.to(dtype) for t in (boxes, scores, ious)), 0.5)
    assert keep.tolist() == cpu_keep.tolist(), f'iou_guided_nms {dtype}: {device} != CPU'
    chunked, _ = torch.ops.iou_aware._iou_guided_nms_masked(*args, 0.5, idxs.to(device), 64)
    batched, _ = batched_iou_guided_nms(*args, idxs.to(device), 0.5)
    assert chunked.tolist() == batched.tolist(), f'iou_guided_nms {dtype}: chunked != one chunk'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda')
    device = parser.parse_args().device
    if device == 'cuda' and not torch.cuda.is_available():
        sys.exit('cuda_kernels_smoke: no CUDA device')
    if not has_extension():
        sys.exit('cuda_kernels_smoke: iou_aware._C is not built')
    g = torch.Generator().manual_seed(0)
    ran = []
    for dtype in (torch.float32, torch.float64):
        prroi_pool_all_kernels(device, dtype, g)
        ran.append(f'prroi_pool {dtype}')
    for dtype in (torch.float16, torch.bfloat16):  # where the kernels dispatch them
        try:
            prroi_pool_all_kernels(device, dtype, g)
            ran.append(f'prroi_pool {dtype}')
        except (RuntimeError, TypeError, ValueError) as exc:
            print(f'skipped prroi_pool {dtype}: {str(exc).splitlines()[0][:200]}')
    for dtype in (torch.float32, torch.float64):
        nms_all_kernels(device, dtype, g)
        ran.append(f'iou_guided_nms {dtype}')
    if device == 'cuda':
        torch.cuda.synchronize()
    print(f'cuda_kernels_smoke: ok on {device} ({"; ".join(ran)})')


if __name__ == '__main__':
    main()
