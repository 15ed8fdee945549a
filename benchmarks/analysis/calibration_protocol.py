"""The calibration authors' protocol (Kuzucu et al., ECCV 2024) on a run's kept detections:
class-wise LRP-optimal thresholds fitted on val and applied to test, then LaECE_0, LaACE_0
and LRP_0 on test; also with a class-wise isotonic or linear calibrator fitted on val; and
the same figures over every emitted detection. For each confidence a run has: the cls score,
the predicted IoU, the shipped score, cls x predicted IoU, and two oracles that know each
box's true IoU (what a perfect localization estimate would give).

    python benchmarks/analysis/calibration_protocol.py --benchmark bccd --runs retinanet iou-aware
    python benchmarks/analysis/calibration_protocol.py --val VAL.npz --val-ann val.json \\
        --test TEST.npz --test-ann test.json --out protocol.json

With ``--benchmark B`` it reads ``benchmarks/results/B/<run>/seed<k>/detections.npz`` (test) and
``benchmarks/results/B-val/...`` (val), the annotation files of ``benchmarks/specs/B.json``'s
dataset, and writes ``protocol.json`` beside the test split's summary.json. A benchmark with
one evaluation split (shapes: its generated val set) is fitted on one half of its images and
reported on the other (``benchmarks.protocol.split_halves``). No model runs:
everything comes from the raw detections the benchmark keeps.
"""
import argparse
import glob
import os.path as osp
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from benchmarks import results  # noqa: E402
from iou_aware.analysis.detection_calibration import DEFAULT_MATCHING, MATCHINGS  # noqa: E402
from benchmarks.protocol import run_protocol, run_protocol_halves  # noqa: E402

# benchmark -> (val annotations, test annotations, classes); val None: halves of the test split
ANNOTATIONS = {'bccd': ('datasets/bccd/coco/val.json', 'datasets/bccd/coco/test.json',
                        ('RBC', 'WBC', 'Platelets')),
               'shapes': (None, 'data/shapes/annotations/val.json',
                          ('rectangle', 'ellipse', 'triangle', 'star', 'ring', 'cross'))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--benchmark', choices=sorted(ANNOTATIONS))
    parser.add_argument('--runs', nargs='+', help='runs of the benchmark (default: every run '
                        'with kept detections on both splits)')
    parser.add_argument('--results-dir', default=osp.join(ROOT, 'benchmarks', 'results'))
    parser.add_argument('--val'), parser.add_argument('--test')
    parser.add_argument('--val-ann'), parser.add_argument('--test-ann')
    parser.add_argument('--classes', nargs='+')
    parser.add_argument('--out')
    parser.add_argument('--matching', default=DEFAULT_MATCHING, choices=MATCHINGS,
                        help="matching at tau 0: the authors' code's (default) or 'overlap' "
                             '(IoU > 0 required; this project\'s figures before 2026-12-07)')
    args = parser.parse_args(argv)
    jobs = []
    if args.benchmark:
        val_ann, test_ann, classes = ANNOTATIONS[args.benchmark]
        test_ann = osp.join(ROOT, test_ann)
        if val_ann is not None:
            val_ann = osp.join(ROOT, val_ann)
        elif not osp.isfile(test_ann):
            parser.error(f'{test_ann} is missing: make the {args.benchmark} dataset first '
                         '(python tools/make_shapes_dataset.py --out-dir data/shapes --seed 0)')
        for test in sorted(glob.glob(osp.join(args.results_dir, args.benchmark, '*', 'seed*',
                                              results.RAW_DETECTIONS))):
            seed_dir = osp.dirname(test)
            run, seed = osp.basename(osp.dirname(seed_dir)), osp.basename(seed_dir)
            # val None: one split, fitted and reported on halves of it
            val = None if val_ann is None else osp.join(
                args.results_dir, f'{args.benchmark}-val', run, seed, results.RAW_DETECTIONS)
            if (args.runs is None or run in args.runs) and (val is None or osp.isfile(val)):
                jobs.append((val, test, osp.join(seed_dir, results.PROTOCOL)))
        if args.runs and not jobs:
            needed = 'val and test' if val_ann is not None else args.benchmark
            parser.error(f'no kept detections ({needed}) for runs {args.runs}')
    else:
        for name in ('val', 'test', 'val_ann', 'test_ann', 'classes', 'out'):
            if getattr(args, name) is None:
                parser.error(f'--{name.replace("_", "-")} is needed without --benchmark')
        val_ann, test_ann, classes = args.val_ann, args.test_ann, args.classes
        jobs.append((args.val, args.test, args.out))
    for val, test, out in jobs:
        report = (run_protocol_halves(test, test_ann, classes, args.matching) if val is None
                  else run_protocol(val, val_ann, test, test_ann, classes, args.matching))
        results.write_json(report, out)
        shipped = report['by_confidence']['fused_score']
        print(f'{osp.relpath(out, ROOT)}: shipped score LaECE_0 {100 * shipped["all"]["laece"]:.1f} '
              f'(all) / {100 * shipped["thresholded"]["laece"]:.1f} (thresholds) / '
              f'{100 * shipped["isotonic"]["laece"]:.1f} (isotonic); LRP_0 '
              f'{100 * shipped["thresholded"]["lrp"]:.1f}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
