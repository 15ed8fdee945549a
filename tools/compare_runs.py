"""Put several localization reports (summary.json of tools/analyze_localization.py) side by
side as one Markdown table, for the README or a paper.

    python tools/compare_runs.py A/summary.json B/summary.json [--names a b]
"""
import argparse
import json
import math
import sys


def row(name, report):
    ap = report['ap_by_iou_threshold']
    mean_ap = sum(ap.values()) / len(ap)

    def r(key, subset='correlation_with_true_iou'):
        v = report.get(subset, {}).get(key, {}).get('pearson')
        return '-' if v is None or math.isnan(v) else f'{v:.3f}'
    strict = 'correlation_with_true_iou_at_least_0_5'
    return (f'| {name} | {100 * mean_ap:.1f} | {100 * ap["0.50"]:.1f} | {100 * ap["0.75"]:.1f} | '
            f'{100 * ap["0.80"]:.1f} | {100 * ap["0.90"]:.1f} | {r("cls_score")} | {r("pred_iou")} | '
            f'{r("cls_score", strict)} | {r("pred_iou", strict)} | {r("fused_score", strict)} |')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('reports', nargs='+')
    parser.add_argument('--names', nargs='+', help='row names (default: the report paths)')
    args = parser.parse_args(argv)
    names = args.names or args.reports
    if len(names) != len(args.reports):
        parser.error('--names needs one name per report')
    # r = Pearson with the true IoU over detections overlapping a same-class ground truth,
    # and (last three) over those with true IoU >= 0.5, where IoU branches are trained.
    lines = ['| run | AP | AP50 | AP75 | AP80 | AP90 | r cls | r pred IoU | r cls (IoU>=.5) | '
             'r pred IoU (IoU>=.5) | r fused (IoU>=.5) |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for name, path in zip(names, args.reports):
        try:
            with open(path) as f:
                lines.append(row(name, json.load(f)))
        except (OSError, ValueError, KeyError) as exc:
            print(f'error: {path} is not a readable localization report ({type(exc).__name__}: {exc})',
                  file=sys.stderr)
            return 2
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
