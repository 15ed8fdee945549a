"""The calibration authors' own code on a run's kept detections: their LRP-optimal thresholds
fitted on val, then LaECE_0 and LRP_0 on test (their ``DetectionCalibration``, tau 0, 25 bins; the ``identity`` calibrator,
or theirs), printed as JSON.

    pip install <their package: github.com/fiveai/detection_calibration, CC BY-NC-SA>
    python benchmarks/analysis/reference_protocol.py --benchmark bccd --runs retinanet --seeds 0 1 2

Nothing of their code is in this repository: this script converts our ``detections.npz``
(test: ``benchmarks/results/B/<run>/seed<k>/``, val: ``benchmarks/results/B-val/...``) to COCO result
files and calls their package, which must be importable. What it prints is the reference
that ``tests/test_analysis/test_reference_protocol.py`` checks our protocol against
(``tests/reference/reference_protocol.json``, made with this command).
"""
import argparse
import contextlib
import io
import json
import os.path as osp
import sys
import tempfile

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ANNOTATIONS = {'bccd': ('datasets/bccd/coco/val.json', 'datasets/bccd/coco/test.json')}


def coco_results(npz, ann_file, score):
    """Our raw detections as a COCO result list, scored by the column ``score``."""
    with open(ann_file) as f:
        cats = sorted(c['id'] for c in json.load(f)['categories'])
    d = np.load(npz)
    box = d['bbox'].astype(float)
    return [dict(image_id=int(i), category_id=cats[int(c)], score=float(s),
                 bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]])
            for i, c, s, b in zip(d['img_id'], d['label'], d[score], box.tolist())]


def reference_figures(val_npz, test_npz, val_ann, test_ann, score, calibrator='identity'):
    """Their fit (LRP-optimal thresholds on val, then ``calibrator``), transform and the
    evaluation steps of their ``evaluate_calibration``, called here to read the figures at
    full precision (their printout has one decimal): LaECE_0, LaACE_0, LRP_0 and its
    components on test, as fractions."""
    from detection_calibration.coco_calibration import CalibrationCOCO
    from detection_calibration.DetectionCalibration import DetectionCalibration
    from detection_calibration.pycocotools_lrp.coco import COCO
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        paths = {}
        for split, npz, ann in (('val', val_npz, val_ann), ('test', test_npz, test_ann)):
            paths[split] = osp.join(tmp, f'{split}.json')
            with open(paths[split], 'w') as f:
                json.dump(coco_results(npz, ann, score), f)
        cal = DetectionCalibration(val_ann, test_ann)
        fitted, thresholds = cal.fit(paths['val'], calibrator_type=calibrator)
        dets = cal.transform(paths['test'], fitted, thresholds)
        figures = {}
        for name, adaptive in (('laece_0', False), ('laace_0', True)):
            ev = CalibrationCOCO(test_ann, test_ann, 'bbox', 25, 0.0, False, adaptive, 100)
            ev.cocoDt = COCO(test_ann).loadRes(dets)
            ev.evaluate()
            ev.prepare_input()
            ev.compute_single_errors()
            if adaptive:
                ev.compute_LRP()
            figures[name] = float(ev.accumulate_errors())
        for key in ('lrp', 'lrp_loc', 'lrp_fp', 'lrp_fn'):
            figures[key.replace('lrp', 'lrp_0', 1)] = float(np.nanmean(ev.lrps[key]))
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--benchmark', default='bccd', choices=sorted(ANNOTATIONS))
    parser.add_argument('--runs', nargs='+', required=True)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--score', default='fused_score',
                        help="the detections.npz column to score by (default: the run's "
                             'shipped score)')
    parser.add_argument('--calibrator', default='identity',
                        choices=['identity', 'isotonic_regression', 'linear_regression'])
    parser.add_argument('--results-dir', default=osp.join(ROOT, 'benchmarks', 'results'))
    args = parser.parse_args(argv)
    val_ann, test_ann = (osp.join(ROOT, p) for p in ANNOTATIONS[args.benchmark])
    out = {}
    for run in args.runs:
        for seed in args.seeds:
            test = osp.join(args.results_dir, args.benchmark, run, f'seed{seed}', 'detections.npz')
            val = osp.join(args.results_dir, f'{args.benchmark}-val', run, f'seed{seed}',
                           'detections.npz')
            out[f'{run}/seed{seed}'] = reference_figures(val, test, val_ann, test_ann, args.score,
                                                         args.calibrator)
            print(run, seed, out[f'{run}/seed{seed}'], file=sys.stderr, flush=True)
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == '__main__':
    sys.exit(main())
