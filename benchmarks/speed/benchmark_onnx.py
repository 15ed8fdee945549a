"""An exported model in ONNX Runtime against the same checkpoint in eager PyTorch, on real
images: parity of the detections and latency side by side.

    python benchmarks/speed/benchmark_onnx.py CONFIG CHECKPOINT [--name NAME]
        [--export-dir DIR] [--rounds 3] [--json out.json]

Exports CONFIG + CHECKPOINT with tools/export.py, then on every image of the config's test
split (and val, for the protocol's thresholds):
- parity: PyTorch's detections (mmdet's test pipeline and predict) against the runner's
  (iou_aware.deploy.onnx_runner), matched one to one per image (same label, box IoU >=
  0.999, in score order); the largest score, predicted-IoU and cls-score differences of
  the matched; the unmatched, and how many of them sit at the score cut (a tie with the
  last kept score); COCO AP and the protocol's LRP_0 of both;
- speed: per decoded image, end to end (PyTorch: mmdet's inference_detector, i.e. its test
  pipeline, preprocessor and predict; ONNX Runtime: the runner, i.e. its resize and
  session.run), at 1 and at 2 threads, the two taking turns within each round, the median
  over rounds of the mean per image; the ratio ONNX / eager.
"""
import argparse
import contextlib
import io
import json
import os.path as osp
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import iou_aware  # noqa: E402,F401
from benchmarks.scripts import load_script  # noqa: E402


def box_iou(a, b):
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-12)


def match(ref, ours):
    """(pairs [(i_ref, i_ours)], unmatched ref indices, unmatched ours indices)."""
    iou = box_iou(ref['boxes'], ours['boxes']) if len(ref['boxes']) and len(ours['boxes']) \
        else np.zeros((len(ref['boxes']), len(ours['boxes'])))
    taken, pairs = set(), []
    for i in np.argsort(-ref['scores'], kind='stable'):
        ok = [j for j in np.argsort(-iou[i]) if j not in taken and iou[i, j] >= 0.999
              and ours['labels'][j] == ref['labels'][i]]
        if ok:
            taken.add(ok[0])
            pairs.append((i, ok[0]))
    got = {i for i, _ in pairs}
    return pairs, [i for i in range(len(ref['boxes'])) if i not in got], \
        [j for j in range(len(ours['boxes'])) if j not in taken]


def predictions(cfg_path, ckpt, split_ann, img_prefix):
    """The split's images, and PyTorch's detections of each (numpy)."""
    from mmdet.apis import inference_detector
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(cfg_path)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpt, map_location='cpu', logger='silent')
    model.cfg = cfg
    model.eval()
    with open(split_ann) as f:
        images = json.load(f)['images']
    out = []
    for im in images:
        pred = inference_detector(model, osp.join(img_prefix, im['file_name'])).pred_instances
        out.append(dict(img_id=im['id'], file=osp.join(img_prefix, im['file_name']),
                        boxes=pred.bboxes.numpy(), scores=pred.scores.numpy(),
                        labels=pred.labels.numpy(),
                        pred_ious=pred.pred_ious.numpy() if 'pred_ious' in pred
                        else pred.scores.numpy()))
    return model, out


def runner_predictions(det, torch_preds):
    import cv2
    out = []
    for p in torch_preds:
        d = det(cv2.imread(p['file']))
        out.append(dict(img_id=p['img_id'], boxes=d['boxes'], scores=d['scores'],
                        labels=d['labels'], pred_ious=d['pred_ious']))
    return out


def coco_ap(preds, ann):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann)
        cats = sorted(gt.getCatIds())
        res = [dict(image_id=int(p['img_id']), category_id=cats[int(c)], score=float(s),
                    bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])])
               for p in preds for b, s, c in zip(p['boxes'], p['scores'], p['labels'])]
        ev = COCOeval(gt, gt.loadRes(res), 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def protocol_lrp(val, test, val_ann, test_ann, classes, fit=True):
    """The protocol's thresholded LRP_0 (thresholds fitted on val) of these detections;
    ``fit=False``: LRP_0 of the emitted test detections as they are (a calibrated model has
    applied its own thresholds already)."""
    from iou_aware.analysis import detection_calibration as dc
    from iou_aware.analysis.ground_truth import load_ground_truth
    from iou_aware.analysis.report import detection_table
    from pycocotools.coco import COCO

    def table(preds, ann):
        with contextlib.redirect_stdout(io.StringIO()):
            gt, _, _ = load_ground_truth(COCO(ann), classes, ann)
        rows = [dict(img_id=p['img_id'], pred_instances=dict(
            bboxes=p['boxes'], labels=p['labels'], scores=p['scores'])) for p in preds]
        d = detection_table(rows, gt)
        return d, gt, np.clip(d['fused_score'], 0, 1)
    if not fit:
        d, gt, scores = table(test, test_ann)
        return float(dc.lrp(d, gt, scores, 0.0, len(classes))['lrp'])
    return float(dc.calibration_protocol(table(val, val_ann), table(test, test_ann),
                                         'identity', num_classes=len(classes))['lrp'])


def latency(model, export_dir, files, threads, rounds):
    """Median over rounds of the mean seconds per decoded image, end to end (resize,
    normalise, network, post-processing): (eager PyTorch, ONNX Runtime)."""
    import cv2
    from mmdet.apis import inference_detector

    from iou_aware.deploy.onnx_runner import OnnxDetector
    images = [cv2.imread(f) for f in files]
    torch.set_num_threads(threads)
    det = OnnxDetector(export_dir, threads=threads)

    def eager():
        for im in images:
            inference_detector(model, im)

    def onnx():
        for im in images:
            det(im)
    eager(), onnx()  # warm up
    times = {'eager': [], 'onnx': []}
    for r in range(rounds):
        for name, fn in ((('eager', eager), ('onnx', onnx)) if r % 2 == 0
                         else (('onnx', onnx), ('eager', eager))):
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) / len(images))
    return statistics.median(times['eager']), statistics.median(times['onnx'])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--name', default=None)
    parser.add_argument('--export-dir', default=None)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--speed-images', type=int, default=24)
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    from mmengine.config import Config

    from iou_aware.deploy.onnx_runner import OnnxDetector
    from benchmarks.provenance import cpu_environment
    cfg = Config.fromfile(args.config)
    root = cfg.test_dataloader.dataset.data_root
    prefix = osp.join(root, cfg.test_dataloader.dataset.data_prefix['img'])
    test_ann = osp.join(root, cfg.test_dataloader.dataset.ann_file)
    val_ann = osp.join(root, cfg.val_dataloader.dataset.ann_file)
    val_prefix = osp.join(root, cfg.val_dataloader.dataset.data_prefix['img'])
    classes = list(cfg.test_dataloader.dataset.metainfo['classes'])
    out_dir = args.export_dir or tempfile.mkdtemp(prefix='onnx_export_')
    assert load_script('tools/export.py').main([args.config, args.checkpoint, '--out', out_dir]) == 0
    det = OnnxDetector(out_dir, threads=1)
    torch.set_num_threads(1)
    model, ref_test = predictions(args.config, args.checkpoint, test_ann, prefix)
    _, ref_val = predictions(args.config, args.checkpoint, val_ann, val_prefix)
    ours_test, ours_val = runner_predictions(det, ref_test), runner_predictions(det, ref_val)
    pairs_total, unmatched, at_cut, diffs = 0, 0, 0, dict(scores=0.0, pred_ious=0.0)
    for r, o in zip(ref_test, ours_test):
        pairs, ur, uo = match(r, o)
        pairs_total += len(pairs)
        unmatched += len(ur) + len(uo)
        last = min(r['scores'].min() if len(r['scores']) else 1, o['scores'].min()
                   if len(o['scores']) else 1)
        at_cut += sum(abs(float(x['scores'][i]) - last) <= 1e-4
                      for x, idx in ((r, ur), (o, uo)) for i in idx)
        for k in diffs:
            if pairs:
                i, j = np.array(pairs).T
                diffs[k] = max(diffs[k], float(np.abs(r[k][i] - o[k][j]).max()))
    report = dict(
        name=args.name or osp.splitext(osp.basename(args.config))[0], config=args.config,
        images=len(ref_test), detections_pytorch=int(sum(len(r['scores']) for r in ref_test)),
        detections_onnx=int(sum(len(o['scores']) for o in ours_test)), matched=pairs_total,
        unmatched=unmatched, unmatched_at_score_cut=int(at_cut),
        max_abs_diff=diffs,
        ap=dict(pytorch=coco_ap(ref_test, test_ann), onnx=coco_ap(ours_test, test_ann)),
        lrp0_thr=dict(pytorch=protocol_lrp(ref_val, ref_test, val_ann, test_ann, classes),
                      onnx=protocol_lrp(ours_val, ours_test, val_ann, test_ann, classes)),
        lrp0_emitted=dict(
            pytorch=protocol_lrp(ref_val, ref_test, val_ann, test_ann, classes, fit=False),
            onnx=protocol_lrp(ours_val, ours_test, val_ann, test_ann, classes, fit=False)),
        latency={}, machine=cpu_environment())
    files = [r['file'] for r in ref_test[:args.speed_images]]
    for threads in (1, 2):
        eager, onnx = latency(model, out_dir, files, threads, args.rounds)
        report['latency'][f'{threads}_threads'] = dict(eager_ms=1e3 * eager, onnx_ms=1e3 * onnx,
                                                       ratio=onnx / eager)
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
