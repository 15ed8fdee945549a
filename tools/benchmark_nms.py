"""Time IoU-guided NMS against torchvision's nms on the same boxes, side by side.

Boxes are detector-like: jittered copies around object centres (so clusters are large), in
an 800x1216 image; the predicted IoUs and scores are random. Prints the median of --repeat
runs and the ratio for each size.

    python tools/benchmark_nms.py [--sizes 1000 5000 20000] [--repeat 5]
"""
import argparse

import torch
from torchvision.ops import nms

from iou_aware.ops import has_extension, iou_guided_nms
from iou_aware.utils.benchmark import median_time


def make_boxes(n, generator, objects=100):
    centres = torch.rand(objects, 2, generator=generator) * torch.tensor([1216.0, 800.0])
    sizes = 20 + torch.rand(objects, 2, generator=generator) * 200
    which = torch.randint(0, objects, (n,), generator=generator)
    xy = centres[which] + torch.randn(n, 2, generator=generator) * sizes[which] * 0.15
    wh = sizes[which] * (0.8 + 0.4 * torch.rand(n, 2, generator=generator))
    return torch.cat([xy - wh / 2, xy + wh / 2], dim=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 5000, 20000])
    parser.add_argument('--threshold', type=float, default=0.5)
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    if not has_extension():
        raise SystemExit('iou_aware._C is not built: run `make setup` first')
    g = torch.Generator().manual_seed(0)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, IoU threshold '
          f'{args.threshold}, median of {args.repeat}')
    print(f'{"boxes":>8}{"kept":>8}{"torchvision nms ms":>20}{"iou_guided_nms ms":>20}{"ratio":>8}')
    for n in args.sizes:
        boxes = make_boxes(n, g)
        scores, ious = torch.rand(n, generator=g), torch.rand(n, generator=g)
        t_nms = median_time(lambda: nms(boxes, ious, args.threshold), args.repeat)
        t_ours = median_time(lambda: iou_guided_nms(boxes, scores, ious, args.threshold), args.repeat)
        kept = len(iou_guided_nms(boxes, scores, ious, args.threshold)[0])
        print(f'{n:>8}{kept:>8}{t_nms * 1e3:>20.2f}{t_ours * 1e3:>20.2f}{t_ours / t_nms:>7.2f}x')


if __name__ == '__main__':
    main()
