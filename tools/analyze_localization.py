"""Localization-quality analysis of a trained detector on its test (val) set.

    python tools/analyze_localization.py CONFIG CHECKPOINT [--out-dir DIR] [--cfg-options ...]

Runs the model, then writes to DIR (default: work_dirs/analysis/<config name>):
summary.json (correlations of each confidence with the true IoU, calibration table and
expected calibration error, AP at IoU 0.50..0.95; schema in benchmarks/results.py),
detections.csv (one row per detection), detections.npz (the raw detections, compressed:
a new metric is computed from it without rerunning the model), scatter.png and calibration_and_ap.png (reliability
diagram, AP by threshold), and prints the tables. The true IoU of a detection is its best IoU
with a ground truth of the same class. Works for models without an IoU branch (then the
classification score is analysed alone).
"""
import argparse
import os
import sys
import os.path as osp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the lab's provenance record (benchmarks/ is not installed)

import iou_aware  # noqa: E402,F401  (registers our components before the config is built)
from iou_aware.analysis.report import build_report, markdown_summary, write_plots, write_report  # noqa: E402
from iou_aware.utils.dataset_checks import coco_split_files  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from iou_aware.utils.cli import (add_runner_args, check_datasets_or_fail, fail,
                                 parse_runner_args, prepare_config)
from iou_aware.utils.inference import predict_test_split  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', help='output folder (default: work_dirs/analysis/<config name>)')
    parser.add_argument('--work-dir', help="mmengine's log folder (default: the output folder)")
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


THRESHOLD_KEYS = ('score_type', 'score_thr', 'cls_score_thr', 'nms_pre', 'pre_iou_topk',
                  'max_per_img')


def score_thresholds(cfg):
    """The test-time thresholds and caps the detections passed (a binned calibration error
    can be lowered by thresholding, so the summary states them)."""
    model = cfg.model
    while 'detector' in model:  # wrappers (calibration, a quality head) hold the detector
        model = model.detector
    test_cfg = model.get('test_cfg') or {}
    test_cfg = test_cfg.get('rcnn', test_cfg)
    out = {k: test_cfg[k] for k in THRESHOLD_KEYS if k in test_cfg}
    if cfg.model.get('type') == 'CalibratedDetector':
        out['calibration'] = cfg.model.calibration
    return out


def main(argv=None):
    args = parse_args(argv)
    out = args.out_dir or osp.join('work_dirs', 'analysis', osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out, exist_ok=True)
    args.work_dir = args.work_dir or out
    cfg = prepare_config(args)
    # before anything below replaces the evaluator or sets load_from: the config as given
    prov = provenance(cfg, args.config, args.cfg_options)
    if not osp.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    check_datasets_or_fail(cfg, ('test',))
    from mmdet.datasets.api_wrappers import COCO
    ann_file = coco_split_files(cfg, 'test')[0]
    coco = COCO(ann_file)
    if not coco.imgs:
        # mmdet cannot even build an empty dataset; there is nothing to run the model on.
        print(f'warning: the test set ({ann_file}) has no images; the report is empty')
        predictions, classes = [], [c['name'] for c in coco.loadCats(coco.getCatIds())]
    else:
        predictions, dataset = predict_test_split(cfg, args.checkpoint)
        classes = dataset.metainfo['classes']
    print('matching detections to the ground truth', flush=True)
    report, dets = build_report(predictions, coco, classes, source=ann_file, progress=True,
                                score_thresholds=score_thresholds(cfg))
    if report['num_detections'] == 0 and predictions:
        print('warning: the model made no detections; every AP is 0 and correlations are undefined')
    report.update(config=args.config, checkpoint=args.checkpoint, provenance=prov)
    write_report(report, dets, out, image_ids=[p['img_id'] for p in predictions])
    write_plots(report, dets, out, title=osp.splitext(osp.basename(args.config))[0])
    print(markdown_summary(report))
    print(f'report written to {out}')


if __name__ == '__main__':
    main()
