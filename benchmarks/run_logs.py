"""Read what an mmengine training run logged (its vis_data/scalars.json), and the demo's
table of runs; summaries and tables go through :mod:`benchmarks.results`."""
import glob
import json
import math
import os.path as osp
import statistics

from benchmarks import results

# The demo's correlation columns (detections with true IoU >= 0.5) -> results columns.
CORRELATION_COLUMNS = {'r(cls)': 'r_cls_ge05', 'r(IoU)': 'r_iou_ge05', 'r(fused)': 'r_score_ge05'}


def latest_scalars_file(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no mmengine log (*/vis_data/scalars.json) under {work_dir}')
    return files[-1]


def read_run_summary(work_dir):
    """Final validation metrics and the median train step time of the latest run."""
    with open(latest_scalars_file(work_dir)) as f:
        records = [json.loads(line) for line in f if line.strip()]
    step_times = [r['time'] for r in records if 'loss' in r and 'time' in r]
    summary = {'sec_per_iter': statistics.median(step_times) if step_times else None,
               'iters': max((r.get('step', 0) for r in records if 'loss' in r), default=0)}
    evals = [r for r in records if results.METRIC_KEYS['AP'] in r]
    for name, key in results.METRIC_KEYS.items():
        summary[name] = evals[-1].get(key) if evals else None
    return summary


def markdown_table(rows, columns=('AP', 'AP50', 'AP75', 'AP80', 'AP90', 'sec_per_iter')):
    """rows: {run name: summary} with the keys of read_run_summary and read_correlations."""
    keys = [CORRELATION_COLUMNS.get(c, c) for c in columns]
    table = [(name, {k: s.get(c) for c, k in zip(columns, keys)}) for name, s in rows.items()]
    return results.markdown_table(table, keys, headers={k: c for c, k in CORRELATION_COLUMNS.items()})


def read_correlations(summary_json):
    """Pearson correlations with the true IoU from an analyze_localization summary.json,
    over detections with true IoU >= 0.5, as columns ``r(cls)``, ``r(IoU)``, ``r(fused)``
    (a confidence the model does not have is left out)."""
    flat = results.flatten_summary(results.read_json(summary_json), summary_json)
    return {col: flat[key] for col, key in CORRELATION_COLUMNS.items() if not math.isnan(flat[key])}
