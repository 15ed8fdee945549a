"""A trained detector's final detections on one split, each with what its NMS knew
(the cluster evidence of ``iou_aware/models/box_quality/evidence.py``), kept as a
``detections.npz`` plus an ``evidence`` column: the input of ``meta_quality.py``.

    python benchmarks/analysis/dump_evidence.py CONFIG CHECKPOINT --out val_evidence.npz \\
        [--cfg-options test_dataloader.dataset.ann_file=coco/val.json ...]

The detections are the detector's own (its head's candidates and NMS, or a two-stage
detector's RoIs, box head and ``multiclass_nms``), found as the box-quality head finds them
(``final_detections.py``), in the original image's coordinates. No training.
"""
import argparse
import os.path as osp
import sys

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from iou_aware.analysis.report import detection_table, write_raw_detections  # noqa: E402
from iou_aware.models.box_quality.evidence import EVIDENCE_FEATURES  # noqa: E402
from iou_aware.utils.cli import check_checkpoint_or_fail, load_config  # noqa: E402
from benchmarks.provenance import parse_options  # noqa: E402


def predict_with_evidence(detector, data):
    """One batch: the detector's final detections, each with its evidence, boxes in the
    original image's coordinates (as ``detector.predict`` with ``rescale=True``)."""
    from mmdet.structures.bbox import scale_boxes

    from iou_aware.models.box_quality.detector import detection_head

    _, final_detections, _ = detection_head(detector)
    data = detector.data_preprocessor(data, False)
    samples = data['data_samples']
    detections = final_detections(detector, detector.extract_feat(data['inputs']), samples)
    out = []
    for det, sample in zip(detections, samples):
        det.bboxes = scale_boxes(det.bboxes, [1 / s for s in sample.metainfo['scale_factor']])
        out.append(dict(img_id=sample.metainfo['img_id'], pred_instances={
            k: v.cpu().numpy() for k, v in det.items()}))
    return out


def dump(predictions, path):
    """``predictions`` as the benchmark's ``detections.npz`` (the analysis's own table and
    writer), with their evidence as one more column."""
    dets = detection_table(predictions, {})  # no ground truth: its true-IoU column is not written
    evidence = [np.asarray(p['pred_instances']['evidence'], np.float32) for p in predictions]
    evidence = (np.concatenate(evidence) if evidence
                else np.zeros((0, len(EVIDENCE_FEATURES)), np.float32))
    write_raw_detections(dets, [p['img_id'] for p in predictions], path, evidence=evidence)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='the .npz to write')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads (default 1, as the benchmarks: another count sums in '
                        'another order, so the boxes differ in the last bits)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config, parse_options(args.cfg_options) if args.cfg_options else None)
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    init_default_scope('mmdet')
    detector = MODELS.build(cfg.model)
    check_checkpoint_or_fail(detector, args.checkpoint)
    load_checkpoint(detector, args.checkpoint, map_location='cpu')
    detector.eval()
    predictions = []
    with torch.no_grad():
        for data in Runner.build_dataloader(cfg.test_dataloader):
            predictions += predict_with_evidence(detector, data)
    dump(predictions, args.out)
    print(f'{args.out}: {sum(len(p["pred_instances"]["labels"]) for p in predictions)} '
          f'detections of {len(predictions)} images')
    return 0


if __name__ == '__main__':
    sys.exit(main())
