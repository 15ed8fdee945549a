"""Time IoU-guided NMS against torchvision's nms on the same boxes, side by side.

Two workloads. "clustered": detector-like jittered copies around 100 object centres in an
800x1216 image (large clusters, few survivors). "sparse": boxes of about 20 px scattered
over a 5000x5000 canvas (most survive: the case that made the old greedy kernel O(N^2)).
Predicted IoUs and scores are random. Prints the median of --repeat runs per size.

On the CPU (default) the columns are torchvision's nms, the old greedy kernel (kept as
torch.ops.iou_aware._iou_guided_nms_greedy: the "before") and iou_guided_nms (the sweep:
the "after"), with the after/before ratio. Baselines slower than O(N log N) are skipped
above --baseline-max boxes (torchvision's CPU nms takes about a minute for 100k sparse
boxes). With --device cuda: CUDA-event timing after warm-up, torchvision's CUDA nms
against iou_guided_nms on the GPU, and whether the GPU kept the same boxes as the CPU.

    python benchmarks/speed/benchmark_nms.py [--device cpu|cuda] [--sizes ...] [--sparse-sizes ...]
"""
import argparse
import os.path as osp
import sys

import torch
from torchvision.ops import nms

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # the lab is not installed

from iou_aware.ops import has_extension, iou_guided_nms  # noqa: E402
from benchmarks.timing import cuda_median_time, median_time  # noqa: E402

DEFAULT_SIZES = {'cpu': ([1000, 5000, 20000], [50000, 100000, 200000]),
                 'cuda': ([1000, 5000, 20000, 100000], [100000, 200000])}


def make_boxes(n, generator, objects=100):
    centres = torch.rand(objects, 2, generator=generator) * torch.tensor([1216.0, 800.0])
    sizes = 20 + torch.rand(objects, 2, generator=generator) * 200
    which = torch.randint(0, objects, (n,), generator=generator)
    xy = centres[which] + torch.randn(n, 2, generator=generator) * sizes[which] * 0.15
    wh = sizes[which] * (0.8 + 0.4 * torch.rand(n, 2, generator=generator))
    return torch.cat([xy - wh / 2, xy + wh / 2], dim=1)


def make_sparse_boxes(n, generator, canvas=5000.0, size=20.0):
    xy = torch.rand(n, 2, generator=generator) * canvas
    wh = size * (0.5 + torch.rand(n, 2, generator=generator))
    return torch.cat([xy, xy + wh], dim=1)


def fmt_ms(t):
    return '-' if t is None else f'{t * 1e3:.2f}'


def run_cpu(rows, args):
    greedy = torch.ops.iou_aware._iou_guided_nms_greedy
    print(f'{"workload":>10}{"boxes":>8}{"kept":>8}{"tv nms ms":>12}{"greedy ms":>12}'
          f'{"iou_guided_nms ms":>19}{"vs greedy":>11}{"vs tv":>8}')
    for kind, n, boxes, scores, ious in rows:
        slow_ok = n <= args.baseline_max
        t_nms = median_time(lambda: nms(boxes, ious, args.threshold), args.repeat) if slow_ok else None
        t_greedy = (median_time(lambda: greedy(boxes, scores, ious, args.threshold), args.repeat)
                    if slow_ok else None)
        t_ours = median_time(lambda: iou_guided_nms(boxes, scores, ious, args.threshold), args.repeat)
        kept = len(iou_guided_nms(boxes, scores, ious, args.threshold)[0])
        ratio = lambda t: '-' if t is None else f'{t_ours / t:.3f}x'  # noqa: E731
        print(f'{kind:>10}{n:>8}{kept:>8}{fmt_ms(t_nms):>12}{fmt_ms(t_greedy):>12}'
              f'{fmt_ms(t_ours):>19}{ratio(t_greedy):>11}{ratio(t_nms):>8}')
    if any(n > args.baseline_max for _, n, *_ in rows):
        print(f'-: skipped above --baseline-max {args.baseline_max} boxes (O(N^2) when most survive)')


def run_cuda(rows, args):
    print(f'{"workload":>10}{"boxes":>8}{"kept":>8}{"tv nms ms":>12}{"iou_guided_nms ms":>19}'
          f'{"ratio":>8}{"same as CPU":>13}')
    for kind, n, boxes, scores, ious in rows:
        cpu_keep, cpu_kept = iou_guided_nms(boxes, scores, ious, args.threshold)
        boxes, scores, ious = boxes.cuda(), scores.cuda(), ious.cuda()
        t_nms = cuda_median_time(lambda: nms(boxes, ious, args.threshold), args.repeat)
        t_ours = cuda_median_time(lambda: iou_guided_nms(boxes, scores, ious, args.threshold),
                                  args.repeat)
        keep, kept = iou_guided_nms(boxes, scores, ious, args.threshold)
        same = torch.equal(keep.cpu(), cpu_keep) and torch.equal(kept.cpu(), cpu_kept)
        print(f'{kind:>10}{n:>8}{len(keep):>8}{fmt_ms(t_nms):>12}{fmt_ms(t_ours):>19}'
              f'{t_ours / t_nms:>7.2f}x{"yes" if same else "NO":>13}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--sizes', type=int, nargs='*', help='clustered workload sizes')
    parser.add_argument('--sparse-sizes', type=int, nargs='*', help='sparse workload sizes')
    parser.add_argument('--threshold', type=float, default=0.5)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--baseline-max', type=int, default=50000,
                        help='CPU: time torchvision nms and the greedy kernel up to this many boxes')
    args = parser.parse_args()
    if not has_extension():
        raise SystemExit('iou_aware._C is not built: run `make setup` first')
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device visible to torch')
    sizes, sparse_sizes = DEFAULT_SIZES[args.device]
    sizes = sizes if args.sizes is None else args.sizes
    sparse_sizes = sparse_sizes if args.sparse_sizes is None else args.sparse_sizes

    g = torch.Generator().manual_seed(0)
    rows = []
    for kind, make, ns in (('clustered', make_boxes, sizes), ('sparse', make_sparse_boxes, sparse_sizes)):
        for n in ns:
            rows.append((kind, n, make(n, g), torch.rand(n, generator=g), torch.rand(n, generator=g)))
    where = (torch.cuda.get_device_name() if args.device == 'cuda'
             else f'CPU, {torch.get_num_threads()} threads')
    print(f'torch {torch.__version__}, {where}, IoU threshold {args.threshold}, '
          f'median of {args.repeat}')
    (run_cuda if args.device == 'cuda' else run_cpu)(rows, args)


if __name__ == '__main__':
    main()
