"""Read what an mmengine training run logged (its vis_data/scalars.json)."""
import glob
import json
import os.path as osp
import statistics

METRIC_KEYS = {  # column name -> key logged by (StrictIoU)CocoMetric
    'AP': 'coco/bbox_mAP', 'AP50': 'coco/bbox_mAP_50', 'AP75': 'coco/bbox_mAP_75',
    'AP80': 'coco/bbox_mAP_80', 'AP90': 'coco/bbox_mAP_90',
    'APs': 'coco/bbox_mAP_s', 'APm': 'coco/bbox_mAP_m', 'APl': 'coco/bbox_mAP_l',
}


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
    evals = [r for r in records if METRIC_KEYS['AP'] in r]
    for name, key in METRIC_KEYS.items():
        summary[name] = evals[-1].get(key) if evals else None
    return summary


def markdown_table(rows, columns=('AP', 'AP50', 'AP75', 'AP80', 'AP90', 'sec_per_iter')):
    """rows: {run name: summary}. AP values shown in percent as COCO papers do; ``r(...)``
    columns (correlations) and seconds as they are."""
    head = '| run | ' + ' | '.join('s/iter' if c == 'sec_per_iter' else c for c in columns) + ' |'
    lines = [head, '|' + '---|' * (len(columns) + 1)]
    for name, s in rows.items():
        cells = []
        for c in columns:
            v = s.get(c)
            if v is None:
                cells.append('-')
            elif c == 'sec_per_iter' or c.startswith('r('):  # times and correlations
                cells.append(f'{v:.3f}')
            else:
                cells.append(f'{100 * v:.1f}')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def read_correlations(summary_json):
    """Pearson correlations with the true IoU from an analyze_localization summary.json,
    over detections with true IoU >= 0.5, as columns ``r(cls)``, ``r(IoU)``, ``r(fused)``."""
    with open(summary_json) as f:
        report = json.load(f)
    corr = report.get('correlation_with_true_iou_at_least_0_5', {})
    names = {'cls_score': 'r(cls)', 'pred_iou': 'r(IoU)', 'fused_score': 'r(fused)'}
    return {col: corr[key]['pearson'] for key, col in names.items() if key in corr}
