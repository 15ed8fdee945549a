"""Put runs side by side as one Markdown table, from their results files.

    python benchmarks/analysis/compare_runs.py PATH [PATH ...] [--names a b ...] [--columns AP AP75 ece ...]

Each PATH is a run's results: a ``summary.json`` (tools/analyze_localization.py) or the
folder holding it (with ``metrics.json`` / ``train.json`` beside it, if any), or a run
folder of ``seed<k>/`` folders, shown as mean ± sd over seeds. Columns are those of
``benchmarks.results.COLUMNS`` (plus ``AP_<class>``); AP in %, r = Pearson correlation with
the true IoU, ECE = expected calibration error of the localization confidence.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # the lab is not installed

from benchmarks import results  # noqa: E402

DEFAULT_COLUMNS = ['AP', 'AP50', 'AP75', 'AP80', 'AP90', 'r_iou_ge05', 'r_cls_ge05',
                   'r_score_ge05', 'r_iou_gt0', 'r_cls_gt0', 'ece']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('paths', nargs='+', metavar='PATH')
    parser.add_argument('--names', nargs='+', help='row names (default: the paths)')
    parser.add_argument('--columns', nargs='+', default=DEFAULT_COLUMNS)
    args = parser.parse_args(argv)
    names = args.names or args.paths
    if len(names) != len(args.paths):
        parser.error('--names needs one name per PATH')
    rows = []
    try:
        for name, path in zip(names, args.paths):
            found = results.load_rows(path)
            if len(found) > 1:
                name = results.seeds_label(name, len(found))
            rows.append((name, results.aggregate(list(found.values()))))
        print(results.markdown_table(rows, args.columns))
    except results.ResultsError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
