"""The results schema: the one module that writes, reads, aggregates and tabulates results.

Every table in the README and ``docs/`` is generated from files laid out as

    benchmarks/results/<benchmark>/<run name>/seed<k>/summary.json   localization analysis
                                                 metrics.json   tools/test.py --metrics-json
                                                 train.json     training step time, iterations
                                                 recalibration.json  post-hoc maps (optional)
                                                 detections.npz  the raw detections (runs
                                                                 made since 2026-12-06)

``summary.json`` is written by ``tools/analyze_localization.py`` (through :func:`write_json`),
``metrics.json`` by ``tools/test.py``, ``train.json`` by ``benchmarks/run_benchmark.py``,
``recalibration.json`` by ``benchmarks/analysis/recalibration_study.py``. Tools read them only through
:func:`load_run` / :func:`flatten`, so a change of layout is made here once. Each JSON record carries
a ``provenance`` entry (git commit, resolved-config hash; :mod:`benchmarks.provenance`)
where it was made since 2026-12-06. Pure Python and numpy: no mmdet needed to regenerate a
table.
"""
import glob
import json
import math
import os
import os.path as osp
import re
import statistics

from iou_aware.analysis.report import SUMMARY, SUMMARY_VERSION  # the writer defines them
from iou_aware.utils.json_io import write_json  # noqa: F401  (the one JSON format)

METRICS, TRAIN = 'metrics.json', 'train.json'
RECALIBRATION = 'recalibration.json'
RAW_DETECTIONS = 'detections.npz'  # iou_aware.analysis.report.write_raw_detections
PROTOCOL = 'protocol.json'  # benchmarks/analysis/calibration_protocol.py

# Column name -> (header, kind). kind: 'ap' (stored as a fraction, shown in percent),
# 'r' (a correlation or an error, 3 decimals), 's' (seconds), 'n' (a count).
COLUMNS = {
    'AP': ('AP', 'ap'), 'AP50': ('AP50', 'ap'), 'AP75': ('AP75', 'ap'),
    'AP80': ('AP80', 'ap'), 'AP90': ('AP90', 'ap'),
    'APs': ('APs', 'ap'), 'APm': ('APm', 'ap'), 'APl': ('APl', 'ap'),
    'r_iou_ge05': ('r pred IoU (IoU>=.5)', 'r'), 'r_cls_ge05': ('r cls (IoU>=.5)', 'r'),
    'r_score_ge05': ('r score (IoU>=.5)', 'r'),
    'r_iou_gt0': ('r pred IoU (IoU>0)', 'r'), 'r_cls_gt0': ('r cls (IoU>0)', 'r'),
    # Spearman (rank) correlations: unchanged by any increasing map of a confidence
    'rho_iou_ge05': ('rho pred IoU (IoU>=.5)', 'r'), 'rho_cls_ge05': ('rho cls (IoU>=.5)', 'r'),
    'rho_iou_gt0': ('rho pred IoU (IoU>0)', 'r'), 'rho_cls_gt0': ('rho cls (IoU>0)', 'r'),
    'ece': ('ECE', 'r'), 'ece_all': ('ECE (all dets)', 'r'), 'sec_per_iter': ('s/iter', 's'),
    'detections': ('detections (IoU>0)', 'n'),
    # recalibration.json: the analysed confidence before and after a held-out post-hoc map
    'r_conf_gt0': ('r conf (IoU>0)', 'r'),
    'ece_all_iso': ('ECE all, isotonic', 'r'), 'ece_iso': ('ECE IoU>0, isotonic', 'r'),
    'r_conf_gt0_iso': ('r conf (IoU>0), isotonic', 'r'),
    'ece_all_lin': ('ECE all, logit-linear', 'r'), 'ece_lin': ('ECE IoU>0, logit-linear', 'r'),
    'r_conf_gt0_lin': ('r conf (IoU>0), logit-linear', 'r'),
}
# The field's calibration figures (in %, as the papers report them): protocol.json columns
# '<metric>_<stage>_<confidence>', e.g. laece0_thr_score = LaECE_0 of the shipped score under
# the val-fitted LRP-optimal thresholds; summary.json gives olrp (oLRP at 0.5, shipped score).
PROTOCOL_CONFIDENCES = {'cls': 'cls_score', 'iou': 'pred_iou', 'score': 'fused_score',
                        'exp': 'cls_x_iou', 'oracle': 'oracle_true_iou',
                        'oracle_exp': 'oracle_cls_x_true_iou'}
PROTOCOL_STAGES = {'all': 'all', 'thr': 'thresholded', 'iso': 'isotonic', 'lin': 'linear'}
PROTOCOL_METRICS = {'laece0': ('LaECE_0', 'laece'), 'laace0': ('LaACE_0', 'laace'),
                    'lrp0': ('LRP_0', 'lrp'),
                    # LRP_0's components: mean 1 - IoU of the true positives, FP and FN rates
                    'lrploc0': ('LRP_0 loc', 'lrp_loc'), 'lrpfp0': ('LRP_0 FP', 'lrp_fp'),
                    'lrpfn0': ('LRP_0 FN', 'lrp_fn')}
for _m, (_mh, _) in PROTOCOL_METRICS.items():
    for _s in PROTOCOL_STAGES:
        for _c in PROTOCOL_CONFIDENCES:
            COLUMNS[f'{_m}_{_s}_{_c}'] = (f'{_mh} {_s} ({_c})', 'ap')
# The share of the gap between the detector's cls score and the oracle (the true IoU of the
# same boxes) that a confidence closes, per seed: (cls - c) / (cls - oracle), for LRP_0 under
# the thresholds and LaACE_0 after the calibrator (the goal asks for half of each; benchmarks/history/calibration-decisions.md).
GAP_FIGURES = {'lrpgap0': ('LRP_0 gap closed', 'lrp0_thr'),
               'laacegap0': ('LaACE_0 gap closed', 'laace0_iso')}
GAP_CONFIDENCES = ('iou', 'score', 'exp')  # the estimates; cls and the oracle are the ends
for _g, (_gh, _) in GAP_FIGURES.items():
    for _c in GAP_CONFIDENCES:
        COLUMNS[f'{_g}_{_c}'] = (f'{_gh} ({_c})', 'ap')
COLUMNS['olrp'] = ('oLRP', 'ap')
COLUMNS['laece0_1'] = ('LaECE (tau 0.1)', 'ap')
METRIC_KEYS = {'AP': 'coco/bbox_mAP', 'AP50': 'coco/bbox_mAP_50', 'AP75': 'coco/bbox_mAP_75',
               'AP80': 'coco/bbox_mAP_80', 'AP90': 'coco/bbox_mAP_90', 'APs': 'coco/bbox_mAP_s',
               'APm': 'coco/bbox_mAP_m', 'APl': 'coco/bbox_mAP_l'}
CLASS_AP = re.compile(r'^coco/(.+)_precision$')  # CocoMetric(classwise=True)


class ResultsError(ValueError):
    """A results file is missing or does not follow the schema."""


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as exc:
        raise ResultsError(f'{path}: cannot be read ({exc.strerror})')
    except ValueError as exc:
        raise ResultsError(f'{path}: not valid JSON ({exc})')


def run_dir(root, benchmark, run, seed):
    return osp.join(root, benchmark, run, f'seed{seed}')


def _correlation(summary, subset, name, kind='pearson'):
    v = summary.get(subset, {}).get(name, {}).get(kind)
    return float('nan') if v is None else float(v)


def flatten_summary(summary, path='summary.json'):
    """The table columns an analysis summary provides."""
    for key in ('correlation_with_true_iou', 'correlation_with_true_iou_at_least_0_5',
                'ap_by_iou_threshold', 'num_matched'):
        if key not in summary:
            raise ResultsError(f'{path}: not a localization summary (no {key!r})')
    gt0, ge05 = 'correlation_with_true_iou', 'correlation_with_true_iou_at_least_0_5'
    ece = summary.get('expected_calibration_error') or {}
    ece_all = summary.get('expected_calibration_error_all_detections') or {}  # version >= 3
    ap = summary['ap_by_iou_threshold']
    by_thr = {'AP50': '0.50', 'AP75': '0.75', 'AP80': '0.80', 'AP90': '0.90'}
    return {
        # AP from the analysis's own COCO evaluation; metrics.json (the metric's figures)
        # replaces these where both exist
        'AP': statistics.fmean(ap.values()) if ap else float('nan'),
        **{name: ap[key] for name, key in by_thr.items() if key in ap},
        'r_iou_ge05': _correlation(summary, ge05, 'pred_iou'),
        'r_cls_ge05': _correlation(summary, ge05, 'cls_score'),
        'r_score_ge05': _correlation(summary, ge05, 'fused_score'),
        'r_iou_gt0': _correlation(summary, gt0, 'pred_iou'),
        'r_cls_gt0': _correlation(summary, gt0, 'cls_score'),
        **{f'rho_{short}_{subset}': _correlation(summary, key, name, 'spearman')
           for short, name in (('iou', 'pred_iou'), ('cls', 'cls_score'))
           for subset, key in (('ge05', ge05), ('gt0', gt0))},
        'ece': float(ece['value']) if ece.get('value') is not None else float('nan'),
        'ece_all': float(ece_all['value']) if ece_all.get('value') is not None else float('nan'),
        'detections': summary['num_matched'],
        **_field_calibration_columns(summary),
    }


def _field_calibration_columns(summary):
    """oLRP and the SAOD LaECE of the shipped score from summary version >= 4."""
    figures = ((summary.get('detection_calibration') or {}).get('by_confidence') or {}).get(
        'fused_score')
    if not figures:
        return {}
    return {'olrp': float(figures['olrp']['olrp']), 'laece0_1': float(figures['laece_0_1'])}


def flatten_metrics(metrics, path='metrics.json'):
    """AP columns (fractions) and per-class AP (``AP_<class>``) from test metrics."""
    if METRIC_KEYS['AP'] not in metrics:
        raise ResultsError(f'{path}: no {METRIC_KEYS["AP"]!r}; not tools/test.py --metrics-json output')
    out = {name: float(metrics[key]) for name, key in METRIC_KEYS.items() if key in metrics}
    for key, value in metrics.items():
        m = CLASS_AP.match(key)
        if m:
            out[f'AP_{m.group(1)}'] = float(value)
    return out


def flatten_protocol(report, path=PROTOCOL):
    """Columns of a protocol report (:mod:`benchmarks.protocol`)."""
    by = report.get('by_confidence')
    if not isinstance(by, dict):
        raise ResultsError(f'{path}: not a calibration protocol report (no by_confidence)')
    out = {}
    for short, name in PROTOCOL_CONFIDENCES.items():
        for stage, key in PROTOCOL_STAGES.items():
            figures = (by.get(name) or {}).get(key) or {}
            for column, (_, field) in PROTOCOL_METRICS.items():
                value = figures.get(field)
                if value is not None:
                    out[f'{column}_{stage}_{short}'] = float(value)
    for gap, (_, figure) in GAP_FIGURES.items():
        cls, oracle = out.get(f'{figure}_cls'), out.get(f'{figure}_oracle')
        if cls is None or oracle is None or cls <= oracle:  # no gap to close: no column
            continue
        for short in GAP_CONFIDENCES:
            if f'{figure}_{short}' in out:
                out[f'{gap}_{short}'] = (cls - out[f'{figure}_{short}']) / (cls - oracle)
    return out


def flatten_recalibration(report, path=RECALIBRATION):
    """Columns of a recalibration report (:mod:`benchmarks.studies.recalibration`)."""
    for key in ('before', 'isotonic', 'logit_linear'):
        if key not in report:
            raise ResultsError(f'{path}: not a recalibration report (no {key!r})')
    out = {'r_conf_gt0': report['before']['r_gt0']}
    for method, suffix in (('isotonic', 'iso'), ('logit_linear', 'lin')):
        figures = report[method]
        out.update({f'ece_all_{suffix}': figures['ece_all'], f'ece_{suffix}': figures['ece'],
                    f'r_conf_gt0_{suffix}': figures['r_gt0']})
    return {k: float('nan') if v is None else float(v) for k, v in out.items()}


def load_run(path):
    """One seed's flat row from ``path`` (a ``seed<k>`` folder): the columns of whichever
    of summary.json, metrics.json and train.json it holds (at least one), plus
    recalibration.json's where present."""
    row, found = {}, False
    readers = ((SUMMARY, flatten_summary), (METRICS, flatten_metrics),
               (TRAIN, lambda d, p: {'sec_per_iter': d.get('sec_per_iter')}))
    for name, reader in readers:
        file = osp.join(path, name)
        if osp.isfile(file):
            row.update(reader(read_json(file), file))
            found = True
    for name, reader in ((RECALIBRATION, flatten_recalibration), (PROTOCOL, flatten_protocol)):
        file = osp.join(path, name)  # additions to a run's results, never alone
        if found and osp.isfile(file):
            row.update(reader(read_json(file), file))
    if not found:
        raise ResultsError(f'{path}: none of {SUMMARY}, {METRICS}, {TRAIN}')
    return row


def load_rows(path):
    """The rows under ``path``: a results file's folder (one seed) or a run folder holding
    ``seed<k>/`` folders. Returns ``{seed (or None): row}``."""
    if osp.isfile(path):
        if osp.basename(path) not in (SUMMARY, METRICS, TRAIN):  # a summary by another name
            return {None: flatten_summary(read_json(path), path)}
        path = osp.dirname(path) or '.'
    seeds = sorted(glob.glob(osp.join(path, 'seed*')))
    if seeds:
        return {int(osp.basename(p)[4:]): load_run(p) for p in seeds
                if osp.basename(p)[4:].isdigit()}
    return {None: load_run(path)}


def load_benchmark(root, benchmark, pending=None):
    """{run name: {seed: row}} for every ``<run>/seed<k>`` under ``root/benchmark``.

    A seed folder without any results file raises, unless ``pending`` is a list: then its
    path is appended there for the caller to report (a run that another process is still
    writing, when two benchmark processes share a results folder)."""
    runs = {}
    for path in sorted(glob.glob(osp.join(root, benchmark, '*', 'seed*'))):
        run, seed = osp.basename(osp.dirname(path)), osp.basename(path)[4:]
        if not seed.isdigit():
            continue
        try:
            runs.setdefault(run, {})[int(seed)] = load_run(path)
        except ResultsError:
            if pending is None or any(osp.isfile(osp.join(path, f)) for f in (SUMMARY, METRICS, TRAIN)):
                raise
            pending.append(path)
    return runs


def seeds_label(name, n):
    """A table row's name with its number of seeds: 'RetinaNet (3 seeds)'."""
    return f'{name} ({n} seed{"s" if n != 1 else ""})'


def aggregate(rows):
    """{column: (mean, sample sd or nan, n, seeds)} over seeds' rows; NaN/None values are
    left out (e.g. r pred IoU of a model without an IoU branch), so n (values) may be
    below seeds (rows), e.g. a figure older summaries do not hold."""
    columns = {c for r in rows for c in r}
    out = {}
    for c in sorted(columns):
        vals = [float(r[c]) for r in rows
                if r.get(c) is not None and not math.isnan(float(r[c]))]
        if vals:
            out[c] = (statistics.fmean(vals),
                      statistics.stdev(vals) if len(vals) > 1 else float('nan'), len(vals),
                      len(rows))
    return out


def _fmt(value, kind):
    if kind == 'ap':
        return f'{100 * value:.1f}'
    if kind == 's':
        return f'{value:.3f}'
    if kind == 'n':
        return f'{value:.0f}'
    return f'{value:.3f}'


def cell(value, kind, spread=True):
    """A table cell: '-' for missing, 'm' for one value, 'm ± sd' for an aggregate, with
    '(n/k seeds)' where only n of the row's k seeds hold the figure."""
    if value is None:
        return '-'
    if isinstance(value, tuple):
        mean, sd, n, seeds = value
        text = _fmt(mean, kind)
        if n > 1 and spread and not math.isnan(sd):
            text += f' ± {_fmt(sd, kind)}'
        if n < seeds:
            text += f' ({n}/{seeds} seeds)'
        return text
    if isinstance(value, float) and math.isnan(value):
        return '-'
    return _fmt(value, kind)


def column_kind(column):
    if column in COLUMNS:
        return COLUMNS[column]
    if column.startswith('AP_'):
        return column[3:], 'ap'
    raise ResultsError(f'unknown column {column!r}; known: {", ".join(COLUMNS)} and AP_<class>')


def markdown_table(rows, columns, first='run', spread=True, headers=None):
    """The one Markdown table builder. ``rows``: list of (name, row), where a row maps
    columns to a value or to an :func:`aggregate` tuple; ``headers`` renames columns."""
    kinds = [column_kind(c) for c in columns]
    names = [(headers or {}).get(c, h) for c, (h, _) in zip(columns, kinds)]
    lines = [f'| {first} | ' + ' | '.join(names) + ' |',
             '|---|' + '---:|' * len(columns)]
    for name, row in rows:
        lines.append(f'| {name} | ' + ' | '.join(cell(row.get(c), k, spread)
                                                 for c, (_, k) in zip(columns, kinds)) + ' |')
    return '\n'.join(lines)
