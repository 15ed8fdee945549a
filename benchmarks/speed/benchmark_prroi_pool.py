"""Time PrRoIPool against torchvision's roi_align (and the pure-PyTorch reference) on a
Faster R-CNN-like workload, side by side in one run, and print ratios.

Workload (defaults): one FPN level P2 of an 800x1216 image (stride 4, 200x304), 256
channels, 7x7 bins, 512 RoIs. mmdet maps RoIs smaller than 112 px to P2, so the "fpn" mix
draws sizes log-uniformly in [16, 112] px with aspect ratios in [1/2, 2]; the "large" mix
puts 64-448 px boxes on the same level to show how cost grows with RoI size (PrRoIPool
reads every grid value under a bin; roi_align reads a fixed 4 samples per bin).

With --device cuda, times are medians between CUDA events after warm-up calls, a third
workload is added (a batch of 8 such maps with 2,048 RoIs each), and mmcv's CUDA PrRoIPool
is timed too when it can run.

    python benchmarks/speed/benchmark_prroi_pool.py [--rois 512] [--channels 256] [--repeat 5]
    python benchmarks/speed/benchmark_prroi_pool.py --device cuda [--batch-rois 2048] [--batch 8]
"""
import argparse
import os.path as osp
import sys
import math

import torch
from torchvision.ops import roi_align

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # the lab is not installed

from iou_aware.ops import has_extension, prroi_pool, prroi_pool_reference  # noqa: E402
from benchmarks.timing import cuda_median_time, median_time  # noqa: E402


def make_rois(num, img_h, img_w, min_size, max_size, generator, batch=1):
    """`num` boxes per image for images 0 .. batch-1, as Tensor[batch * num, 5]."""
    n = num * batch
    size = torch.exp(torch.empty(n).uniform_(math.log(min_size), math.log(max_size), generator=generator))
    aspect = torch.exp(torch.empty(n).uniform_(math.log(0.5), math.log(2.0), generator=generator))
    w, h = size * aspect.sqrt(), size / aspect.sqrt()
    x1 = torch.rand(n, generator=generator) * (img_w - w)
    y1 = torch.rand(n, generator=generator) * (img_h - h)
    index = torch.arange(batch).repeat_interleave(num).float()
    return torch.stack([index, x1, y1, x1 + w, y1 + h], dim=1)


def forward_backward(pool, feats, rois, rois_grad=False):
    def run():
        x = feats.detach().requires_grad_()
        r = rois.detach().requires_grad_(rois_grad)
        out = pool(x, r)
        out.backward(torch.ones_like(out))
    return run


def mmcv_pool(size, scale, feats, rois):
    """mmcv's PrRoIPool as a pool function, or (None, why) if it cannot run here."""
    try:
        from mmcv.ops import PrRoIPool as MMCVPrRoIPool
        m = MMCVPrRoIPool(size, scale)
        with torch.no_grad():
            m(feats, rois[:2])
        return m, None
    except Exception as exc:  # not installed, or built without CUDA ops
        return None, f'{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ""}'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rois', type=int, default=512)
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument('--height', type=int, default=200)
    parser.add_argument('--width', type=int, default=304)
    parser.add_argument('--output-size', type=int, default=7)
    parser.add_argument('--repeat', type=int, default=None, help='timed calls (5 CPU, 20 CUDA)')
    parser.add_argument('--warmup', type=int, default=None, help='untimed calls first (1 CPU, 5 CUDA)')
    parser.add_argument('--batch', type=int, default=8, help='CUDA only: images in the batched workload')
    parser.add_argument('--batch-rois', type=int, default=2048,
                        help='CUDA only: RoIs per image in the batched workload')
    parser.add_argument('--reference-rois', type=int, default=4,
                        help='the pure-PyTorch reference is timed on this many RoIs and '
                        'scaled per RoI (it loops in Python; the full set takes minutes)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()
    if not has_extension():
        raise SystemExit('iou_aware._C is not built: run `make setup` first')
    cuda = args.device.startswith('cuda')
    if cuda and not torch.cuda.is_available():
        raise SystemExit(f'--device {args.device}: torch sees no CUDA device')
    repeat = args.repeat or (20 if cuda else 5)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)

    scale, size = 0.25, args.output_size
    g = torch.Generator().manual_seed(0)
    img_h, img_w = args.height / scale, args.width / scale
    pr = lambda x, r: prroi_pool(x, r, size, scale)  # noqa: E731
    ra = {sr: (lambda x, r, sr=sr: roi_align(x, r, size, scale, sampling_ratio=sr, aligned=False))
          for sr in (2, 0)}

    def t(fn):
        return cuda_median_time(fn, repeat, warmup) if cuda else median_time(fn, repeat, warmup)

    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}'
          f'{" (" + torch.cuda.get_device_name(args.device) + ")" if cuda else ""}; '
          f'{args.channels} channels, {args.height}x{args.width} map, stride 4, {size}x{size} bins, '
          f'median of {repeat} after {warmup} warm-up')
    # (name, images, RoIs per image, RoI size range in px)
    workloads = [('fpn (16-112 px)', 1, args.rois, 16, 112),
                 ('large (64-448 px)', 1, args.rois, 64, 448)]
    if cuda:
        workloads.append(('batched, fpn (16-112 px)', args.batch, args.batch_rois, 16, 112))
    maps = {}
    for mix, batch, num, lo, hi in workloads:
        if batch not in maps:
            maps[batch] = torch.randn(batch, args.channels, args.height, args.width, generator=g).to(args.device)
        feats = maps[batch]
        rois = make_rois(num, img_h, img_w, lo, hi, g, batch).to(args.device)
        with torch.no_grad():
            f_pr, f_sr2, f_sr0 = t(lambda: pr(feats, rois)), t(lambda: ra[2](feats, rois)), t(lambda: ra[0](feats, rois))
        b_pr = t(forward_backward(pr, feats, rois))
        b_prc = t(forward_backward(pr, feats, rois, rois_grad=True))
        b_sr2, b_sr0 = t(forward_backward(ra[2], feats, rois)), t(forward_backward(ra[0], feats, rois))
        print(f'\n[{mix}: {batch}x{args.channels}x{args.height}x{args.width}, {len(rois)} RoIs]')
        print(f'{"op":<44}{"forward ms":>12}{"fwd+bwd ms":>12}')
        rows = [('PrRoIPool (iou_aware)', f_pr, b_pr),
                ('PrRoIPool, + box-coordinate gradient', None, b_prc),
                ('roi_align sampling_ratio=2', f_sr2, b_sr2),
                ('roi_align sampling_ratio=0 (adaptive)', f_sr0, b_sr0)]
        mmcv_ratio = ''
        if cuda:
            m, why = mmcv_pool(size, scale, feats, rois)
            if m is None:
                print(f'(mmcv PrRoIPool not timed: {why})')
            else:
                with torch.no_grad():
                    f_mm = t(lambda: m(feats, rois))
                b_mm = t(forward_backward(m, feats, rois))
                rows.append(('mmcv PrRoIPool (CUDA)', f_mm, b_mm))
                mmcv_ratio = f'; / mmcv PrRoIPool: forward {f_pr / f_mm:.2f}x, fwd+bwd {b_pr / b_mm:.2f}x'
        if args.device == 'cpu' and args.reference_rois > 0:
            sub = rois[:args.reference_rois]
            per_roi = median_time(lambda: prroi_pool_reference(feats, sub, size, size, scale), 1, 0) / len(sub)
            rows.append((f'pure-PyTorch reference (x{len(rois)}/{len(sub)} RoIs)', per_roi * len(rois), None))
        fmt = lambda v: f'{v * 1e3:12.1f}' if v is not None else f'{"-":>12}'  # noqa: E731
        for name, f, b in rows:
            print(f'{name:<44}{fmt(f)}{fmt(b)}')
        print(f'ratios: PrRoIPool / roi_align(sr=2): forward {f_pr / f_sr2:.2f}x, '
              f'fwd+bwd {b_pr / b_sr2:.2f}x; / roi_align(sr=0): forward {f_pr / f_sr0:.2f}x, '
              f'fwd+bwd {b_pr / b_sr0:.2f}x{mmcv_ratio}', end='')
        if args.device == 'cpu' and args.reference_rois > 0:
            print(f'; reference / PrRoIPool forward: {rows[-1][1] / f_pr:.0f}x')
        else:
            print()


if __name__ == '__main__':
    main()
