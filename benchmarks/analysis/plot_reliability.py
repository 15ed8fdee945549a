"""Reliability diagrams of analysis summaries side by side, as one PNG.

    python benchmarks/analysis/plot_reliability.py SUMMARY [SUMMARY ...] --labels A B ... --out FIG.png

Each SUMMARY is a ``summary.json`` (tools/analyze_localization.py) or the seed folder
holding it. The figures in docs/ are drawn from the committed summaries in benchmarks/results/,
so they can be redrawn from the repository alone (no checkpoints, no detections).
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # the lab is not installed: run from a checkout

from benchmarks import results  # noqa: E402
from iou_aware.analysis.report import reliability_diagram  # noqa: E402


def load_summary(path):
    file = osp.join(path, results.SUMMARY) if osp.isdir(path) else path
    summary = results.read_json(file)
    if not summary.get('calibration'):
        raise results.ResultsError(f'{file}: no calibration table (a summary older than '
                                   'version 2, or not a localization summary)')
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('summaries', nargs='+', metavar='SUMMARY')
    parser.add_argument('--labels', nargs='+', help='panel titles (default: the paths)')
    parser.add_argument('--out', required=True, help='PNG to write')
    args = parser.parse_args(argv)
    labels = args.labels or args.summaries
    if len(labels) != len(args.summaries):
        parser.error('--labels needs one label per SUMMARY')
    try:
        summaries = [load_summary(p) for p in args.summaries]
    except results.ResultsError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(summaries), figsize=(4.2 * len(summaries), 3.9),
                             squeeze=False)
    for ax, summary, label in zip(axes[0], summaries, labels):
        reliability_diagram(ax, summary, label=label)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=80)
    plt.close(fig)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
