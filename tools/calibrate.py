"""Calibrate a trained detector once, on its val split, and ship the calibration with it.

    python tools/calibrate.py CONFIG CHECKPOINT [--calibrator isotonic|linear]
                              [--out-dir DIR] [--cfg-options ...]

Runs the model on the config's val split and fits (iou_aware.analysis.detection_calibration):
class-wise LRP-optimal thresholds of the detection score, then a class-wise calibrator
(isotonic by default, or linear) from the score to the IoU of the detection with the object
it matches one-to-one, 0 for a duplicate, a wrong class or background; the calibrated score is
then the detection's expected IoU, the target of LaECE_0. Writes to DIR (default: the
checkpoint's folder):

    calibration.json            thresholds and calibrators, one per class (small)
    <config name>_calibrated.py a config that is CONFIG with the calibration applied after NMS

Use the new config wherever the old one was used (tools/test.py, tools/image_demo.py,
mmdet's DetInferencer): ``scores`` are calibrated, ``raw_scores`` keep the detector's own, and
``pred_ious`` stay the predicted IoU. A class without val detections keeps all its
detections and its raw scores; the tool says so.
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the lab's provenance record (benchmarks/ is not installed)

import iou_aware  # noqa: E402,F401  (registers our components before the config is built)
from iou_aware.apis import CalibrationError, calibrate_detector  # noqa: E402
from iou_aware.models.calibrated_detector import thresholds_summary  # noqa: E402
from iou_aware.utils.cli import (add_runner_args, check_datasets_or_fail, fail,  # noqa: E402
                                 parse_runner_args, prepare_config)
from benchmarks.provenance import provenance  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--calibrator', choices=['isotonic', 'linear'], default='isotonic')
    parser.add_argument('--out-dir', help="where the calibration goes (default: the "
                        "checkpoint's folder)")
    parser.add_argument('--work-dir', help="mmengine's log folder (default: OUT_DIR/calibrate)")
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    out = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    args.work_dir = args.work_dir or osp.join(out, 'calibrate')
    cfg = prepare_config(args)
    prov = provenance(cfg, args.config, args.cfg_options)  # the config as given
    if cfg.get('val_dataloader'):
        check_datasets_or_fail(cfg, ('val',))
    try:
        made = calibrate_detector(cfg, args.checkpoint, out, args.config, args.calibrator,
                                  record=dict(provenance=prov))
    except CalibrationError as exc:
        fail(str(exc))
    for warning in made['warnings']:
        print(f'warning: {warning}')
    name = osp.splitext(osp.basename(args.config))[0]
    print(f'calibrated {name} on {made["num_val_detections"]} val detections ({args.calibrator}):')
    print('\n'.join(thresholds_summary(made['fitted'], made['classes'])))
    print(f'calibration: {made["calibration"]}\nconfig: {made["config"]}')


if __name__ == '__main__':
    main()
