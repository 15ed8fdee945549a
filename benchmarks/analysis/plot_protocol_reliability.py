"""Reliability diagrams under the calibration authors' protocol (what LaECE_0 measures), one
panel per run, drawn from the kept raw detections alone (no model runs):

    python benchmarks/analysis/plot_protocol_reliability.py --benchmark bccd \\
        --runs retinanet iou-aware gfl --seed 0 --out docs/figures/bccd_laece_reliability.png

For each run: the shipped score's class-wise LRP-optimal thresholds are fitted on val and
applied to test; each kept test detection is matched one-to-one in score order (IoU > 0,
same class); its target is the IoU with its matched object, 0 for a duplicate, a wrong
class or background. The panel shows, in 25 equal-width bins of the score pooled over
classes, the mean target against the mean score (the diagonal is perfect calibration) and
how many detections each bin holds; the title carries the run's LaECE_0 (per class,
averaged, as the tables).
"""
import argparse
import os.path as osp
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from benchmarks import results  # noqa: E402
from iou_aware.analysis import detection_calibration as dc  # noqa: E402
from benchmarks.protocol import load_split  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from calibration_protocol import ANNOTATIONS  # noqa: E402


def reliability(run_dir_test, run_dir_val, val_ann, test_ann, classes, bins=dc.LAECE_BINS):
    """(bin mean score, bin mean target, bin count, LaECE_0) of the shipped score."""
    dv, gv = load_split(osp.join(run_dir_val, results.RAW_DETECTIONS), val_ann, classes)
    dt, gt = load_split(osp.join(run_dir_test, results.RAW_DETECTIONS), test_ann, classes)
    n = len(classes)
    sv, st = (np.clip(d['fused_score'].astype(float), 0, 1) for d in (dv, dt))
    # the protocol's thresholds without a calibrator: fitted on val, applied to test
    keep, _ = dc.apply_calibration(dc.fit_calibration(dv, gv, sv, 'identity', num_classes=n),
                                   dt['label'], st)
    kept, scores = dc.subset_detections(dt, keep), st[keep]
    match = dc.match_detections(kept, gt, scores, 0.0, n)
    target = np.where(match['matched'], match['iou'], 0.0)
    laece = dc.laece(kept, gt, scores, 0.0, num_classes=n, match=match)['laece']
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid='ignore'):
        mean_score = np.bincount(which, scores, bins) / count
        mean_target = np.bincount(which, target, bins) / count
    return mean_score, mean_target, count, laece


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--benchmark', choices=sorted(ANNOTATIONS), required=True)
    parser.add_argument('--runs', nargs='+', required=True)
    parser.add_argument('--labels', nargs='+', help='panel titles (default: the run names)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--results-dir', default=osp.join(ROOT, 'benchmarks', 'results'))
    parser.add_argument('--out', required=True, help='the PNG to write')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'--labels: {len(args.labels)} labels for {len(args.runs)} runs')
    val_ann, test_ann, classes = ANNOTATIONS[args.benchmark]
    val_ann, test_ann = osp.join(ROOT, val_ann), osp.join(ROOT, test_ann)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = min(4, len(args.runs))
    rows = (len(args.runs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax, run, label in zip(axes.flat, args.runs, args.labels or args.runs):
        seed = f'seed{args.seed}'
        test_dir = osp.join(args.results_dir, args.benchmark, run, seed)
        val_dir = osp.join(args.results_dir, f'{args.benchmark}-val', run, seed)
        for d in (test_dir, val_dir):
            if not osp.isfile(osp.join(d, results.RAW_DETECTIONS)):
                parser.error(f'{d}: no {results.RAW_DETECTIONS} (kept raw detections)')
        score, target, count, laece = reliability(test_dir, val_dir, val_ann, test_ann, classes)
        filled = count > 0
        ax.plot([0, 1], [0, 1], color='0.6', lw=1)
        ax.bar(score[filled], target[filled], width=1 / len(count), alpha=0.7,
               edgecolor='k', lw=0.4)
        share = ax.twinx()
        share.plot(score[filled], count[filled] / count.sum(), 'r.', ms=3)
        share.set_ylim(0, 1)
        share.tick_params(labelsize=6, colors='r')
        ax.set_xlim(0, 1), ax.set_ylim(0, 1)
        ax.set_title(f'{label}\nLaECE_0 {100 * laece:.1f}', fontsize=8)
        ax.set_xlabel('score (after val thresholds)', fontsize=7)
        ax.set_ylabel('mean target (IoU if matched, else 0)', fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(args.runs):]:
        ax.axis('off')
    fig.suptitle(f'{args.benchmark} test, seed {args.seed}: bars = mean target per score bin, '
                 'red dots = share of detections', fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
