"""Export a trained detector to ONNX, predicted IoU and calibrated score included.

    python tools/export.py CONFIG CHECKPOINT --out DIR [--input-size H W] [--batch-size 1]

Writes DIR/model.onnx (torch's ``torch.export`` graph through the dynamo ONNX exporter,
opset 18; NMS as ONNX NonMaxSuppression) and DIR/model.json (what the runner needs: input
size, resize scale, padding pixel, classes, what the scores mean). Run it with
``iou_aware.deploy.onnx_runner.OnnxDetector`` (ONNX Runtime and numpy only) or
``tools/onnx_demo.py``. Supported: RetinaNet, IoU-aware RetinaNet (default and paper), and
the calibrated config that tools/calibrate.py writes for either (thresholds and isotonic or
linear maps as plain ONNX arithmetic). Anything else (the box-quality head, two-stage
detectors) is refused with the module and the op that has no export yet.

``--input-size``: the fixed size of the resized image the graph takes (default: the test
pipeline's Resize scale, short edge x long edge, i.e. landscape images; give e.g. 320 320 to
take both orientations).
"""
import argparse
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import iou_aware  # noqa: E402,F401  (registers our components and the checkpoint fix)
from iou_aware.utils.cli import check_checkpoint_readable_or_fail, fail, load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='folder for model.onnx and model.json')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'))
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        action=__import__('mmengine.config', fromlist=['DictAction']).DictAction)
    return parser.parse_args(argv)


def resize_scale(cfg):
    """The test pipeline's keep-ratio Resize scale (the only resize the runner repeats)."""
    steps = [s for s in cfg.test_dataloader.dataset.pipeline if s['type'] == 'Resize']
    if len(steps) != 1 or not steps[0].get('keep_ratio', False) or 'scale' not in steps[0]:
        fail('export: the test pipeline needs exactly one keep-ratio Resize with a scale, got '
             f'{steps}')
    return [int(v) for v in steps[0]['scale']]


def classes_of(cfg, checkpoint):
    """The class names the checkpoint (as load_checkpoint returned it) or the config gives."""
    meta = checkpoint.get('meta') or {}
    classes = (meta.get('dataset_meta') or {}).get('classes')
    if classes is None:
        classes = (cfg.test_dataloader.dataset.get('metainfo') or {}).get('classes')
    return list(classes) if classes is not None else None


def main(argv=None):
    args = parse_args(argv)
    if args.batch_size < 1:
        fail(f'--batch-size: must be >= 1, got {args.batch_size}')
    cfg = load_config(args.config, args.cfg_options)
    check_checkpoint_readable_or_fail(args.checkpoint)
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from iou_aware.deploy.exportable import ExportError, export_onnx
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    scale = resize_scale(cfg)
    size = args.input_size or [min(scale), max(scale)]
    model = MODELS.build(cfg.model)
    checkpoint = load_checkpoint(model, args.checkpoint, map_location='cpu', logger='silent')
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    path = osp.join(args.out, 'model.onnx')
    try:
        module = export_onnx(model, size, path, args.batch_size)
    except ExportError as exc:
        fail(f'export: {exc}')
    mean = module.mean.flatten().tolist()
    meta = dict(
        format='iou-aware-onnx/1', config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint), input_size=list(size),
        batch_size=args.batch_size, resize_scale=scale,
        pad_pixel=mean[::-1] if module.bgr_to_rgb else mean,  # BGR: normalised to 0
        classes=classes_of(cfg, checkpoint),
        scores=('calibrated: the expected IoU of the detection (tools/calibrate.py)'
                if module.calibration is not None else f'the model\'s score ({module.score_type})'),
        outputs=dict(boxes='[B, K, 4] xyxy in the resized image', scores='[B, K]',
                     labels='[B, K] (-1: padding)', pred_ious='[B, K]', cls_scores='[B, K]',
                     num_dets='[B]: the first num_dets rows are detections'),
        max_per_img=module.max_per_img)
    with open(osp.join(args.out, 'model.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'exported {args.config} -> {path} (input {size[0]}x{size[1]}, batch '
          f'{args.batch_size}; scores: {meta["scores"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
