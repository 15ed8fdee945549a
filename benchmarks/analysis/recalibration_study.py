"""Post-hoc recalibration study: would a fixed monotone map of a detector's localization
confidence make it calibrated, and what would that do to its correlation with the true IoU?

    # one analysis: tools/analyze_localization.py's output folder (or its detections.csv)
    python benchmarks/analysis/recalibration_study.py work_dirs/analysis/NAME [--out FILE]

    # every committed seed of benchmark runs; writes recalibration.json beside each
    # benchmarks/results/<benchmark>/<run>/seed<k>/summary.json
    python benchmarks/analysis/recalibration_study.py --benchmark shapes --runs iou-aware gfl ...
        [--detections-root work_dirs/benchmarks ...] [--results-dir benchmarks/results]
        [--allow-missing]

The confidence is the one the analysis used (predicted IoU where the model has an IoU
branch, else the cls score); what a model ships is tools/calibrate.py's calibration. Maps are fitted on half of the images and applied to the other half, both
ways (benchmarks/studies/recalibration.py). In benchmark mode a seed's detections are found
under ``<detections-root>/<benchmark>/<run>/seed<k>/`` (benchmarks/run_benchmark.py's work folder;
several roots are searched in order) and used only if they reproduce that seed's committed
summary, so the study is always of the detections behind the tables. A seed without them is
an error, or with ``--allow-missing`` is reported and left out (the table then says
'(n/k seeds)').
"""
import argparse
import glob
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # the lab is not installed: run from a checkout

from benchmarks import results  # noqa: E402
from iou_aware.analysis.localization import expected_calibration_error  # noqa: E402
from benchmarks.studies.recalibration import recalibration_report  # noqa: E402
from iou_aware.analysis.report import localization_confidence, read_detections  # noqa: E402

COLUMNS = ['ece_all', 'ece_all_iso', 'ece_all_lin', 'ece', 'ece_iso', 'ece_lin',
           'r_conf_gt0', 'r_conf_gt0_iso', 'r_conf_gt0_lin']
# detections.csv keeps 5 decimals, so figures recomputed from it differ from the summary's
# in the 5th-6th decimal (and a matched count by the few true IoUs below 5e-6)
MATCH_TOLERANCE = 1e-4
MATCHED_COUNT_TOLERANCE = 1e-3  # share of the matched detections (at least 2)


def confidence_of(dets):
    """(name, values) of the confidence the analysis used."""
    name = localization_confidence(dets)
    return name, dets[name]


def study(dets, folds=2, seed=0):
    name, confidence = confidence_of(dets)
    report = recalibration_report(confidence, dets['true_iou'], dets['img_id'], folds, seed)
    report['of'] = name
    return report


def mismatch(dets, summary):
    """Why ``dets`` are not the detections behind ``summary`` (None if they are)."""
    name, confidence = confidence_of(dets)
    matched = dets['true_iou'] > 0
    if summary.get('localization_confidence', name) != name:
        return f'confidence {name}, summary has {summary["localization_confidence"]}'
    want_matched = summary.get('num_matched') or 0
    # A true IoU below 5e-6 is written as 0.00000: a few matched detections may read as 0.
    if (len(confidence) != summary.get('num_detections')
            or abs(int(matched.sum()) - want_matched)
            > max(2, MATCHED_COUNT_TOLERANCE * want_matched)):
        return (f'{len(confidence)} detections ({matched.sum()} with IoU > 0), summary has '
                f'{summary.get("num_detections")} ({summary.get("num_matched")})')
    ece = expected_calibration_error(confidence[matched], dets['true_iou'][matched])
    want = (summary.get('expected_calibration_error') or {}).get('value')
    if want is None or abs(ece - want) > MATCH_TOLERANCE:
        return f'ECE {ece:.6f}, summary has {want}'
    return None


class MissingDetections(results.ResultsError):
    """No detections.csv for a seed (its work folder is gone or was never made here)."""


def find_detections(seed_work_dirs, summary):
    """The detections.csv under a seed's work folders that reproduces ``summary``."""
    candidates = [p for d in seed_work_dirs
                  for p in sorted(glob.glob(osp.join(d, '**', 'detections.csv'), recursive=True))]
    if not candidates:
        raise MissingDetections(f'no detections.csv under {" or ".join(seed_work_dirs)} (run '
                                'benchmarks/run_benchmark.py for this seed first)')
    reasons = []
    for path in candidates:
        dets = read_detections(path)
        why = mismatch(dets, summary)
        if why is None:
            return path, dets
        reasons.append(f'  {path}: {why}')
    raise results.ResultsError('no detections.csv reproduces the committed summary:\n'
                               + '\n'.join(reasons))


def run_benchmark_mode(args):
    rows = []
    for run in args.runs:
        seed_dirs = sorted(glob.glob(osp.join(args.results_dir, args.benchmark, run, 'seed*')))
        if not seed_dirs:
            raise results.ResultsError(f'no results for run {run!r} under '
                                       f'{osp.join(args.results_dir, args.benchmark)}')
        seeds = {}
        for seed_dir in seed_dirs:
            seed = osp.basename(seed_dir)
            summary = results.read_json(osp.join(seed_dir, results.SUMMARY))
            try:
                path, dets = find_detections(
                    [osp.join(root, args.benchmark, run, seed) for root in args.detections_root],
                    summary)
            except MissingDetections as exc:
                if not args.allow_missing:
                    raise
                print(f'{run}/{seed}: left out: {exc}', file=sys.stderr)
                seeds[seed] = results.load_run(seed_dir)  # counted, without the new figures
                continue
            report = study(dets, args.folds, args.split_seed)
            results.write_json(report, osp.join(seed_dir, results.RECALIBRATION))
            print(f'{run}/{seed}: {osp.relpath(path)}')
            seeds[seed] = results.load_run(seed_dir)
        rows.append((results.seeds_label(run, len(seeds)), results.aggregate(list(seeds.values()))))
    print(results.markdown_table(rows, COLUMNS))


def run_single(args):
    path = args.analysis
    if osp.isdir(path):
        path = osp.join(path, 'detections.csv')
    dets = read_detections(path)
    report = study(dets, args.folds, args.split_seed)
    summary_path = osp.join(osp.dirname(path), results.SUMMARY)
    if osp.isfile(summary_path):
        why = mismatch(dets, results.read_json(summary_path))
        if why:
            print(f'warning: {path} does not reproduce {summary_path} ({why})', file=sys.stderr)
    out = args.out or osp.join(osp.dirname(path), results.RECALIBRATION)
    results.write_json(report, out)
    row = {'ece': report['before']['ece'], 'ece_all': report['before']['ece_all'],
           **results.flatten_recalibration(report)}
    print(results.markdown_table([(report['of'], row)], COLUMNS, first='confidence'))
    print(f'written: {out}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('analysis', nargs='?', help="an analysis folder or its detections.csv")
    parser.add_argument('--out', help='single mode: report file (default: recalibration.json '
                        'beside the detections)')
    parser.add_argument('--benchmark', help='benchmark mode: results of this benchmark')
    parser.add_argument('--runs', nargs='+', help='benchmark mode: run names')
    parser.add_argument('--detections-root', nargs='+', default=[osp.join('work_dirs', 'benchmarks')],
                        help='benchmark mode: work folders of benchmarks/run_benchmark.py, searched '
                        'in order (default: work_dirs/benchmarks)')
    parser.add_argument('--allow-missing', action='store_true',
                        help='benchmark mode: leave out (and report) seeds without detections')
    parser.add_argument('--results-dir', default=osp.join(ROOT, 'benchmarks', 'results'))
    parser.add_argument('--folds', type=int, default=2, help='image folds (default 2)')
    parser.add_argument('--split-seed', type=int, default=0, help='seed of the image split')
    args = parser.parse_args(argv)
    if bool(args.analysis) == bool(args.benchmark):
        parser.error('give either an analysis folder / detections.csv, or --benchmark with --runs')
    if args.benchmark and not args.runs:
        parser.error('--benchmark needs --runs RUN [RUN ...]')
    try:
        run_benchmark_mode(args) if args.benchmark else run_single(args)
    except (results.ResultsError, ValueError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
