"""Detect objects with an exported model (tools/export.py) in ONNX Runtime: no torch, no mmdet.

    python tools/onnx_demo.py EXPORT_DIR IMG [IMG ...] [--out-dir outputs_onnx]
        [--score-thr 0.3] [--threads N]

Writes OUT_DIR/vis/<image>.jpg, each box labelled ``class score | IoU x.xx`` as
tools/image_demo.py labels it (score: calibrated when the export is), and
OUT_DIR/preds/<image>.json with ``labels``, ``scores``, ``bboxes``, ``pred_ious`` and
``cls_scores``. Needs onnxruntime, numpy and OpenCV (to read and draw the images).
"""
import argparse
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('export_dir')
    parser.add_argument('inputs', nargs='+', metavar='IMG', help='image files or folders')
    parser.add_argument('--out-dir', default='outputs_onnx')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--threads', type=int, default=None)
    return parser.parse_args(argv)


def image_files(inputs):
    files = []
    for p in inputs:
        if osp.isdir(p):
            files += sorted(osp.join(p, f) for f in os.listdir(p) if f.lower().endswith(IMAGE_EXTS))
        elif osp.isfile(p):
            files.append(p)
        else:
            sys.exit(f'error: input not found: {p}')
    return files


def draw(image, det, classes, score_thr):
    import cv2
    out = image.copy()
    for box, score, label, iou in zip(det['boxes'], det['scores'], det['labels'],
                                      det['pred_ious']):
        if score < score_thr:
            continue
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        name = classes[label] if classes else str(int(label))
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 200, 255), 2)
        cv2.putText(out, f'{name} {score:.2f} | IoU {iou:.2f}', (x0, max(y0 - 4, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 200, 255), 1, cv2.LINE_AA)
    return out


def main(argv=None):
    args = parse_args(argv)
    import cv2

    from iou_aware.deploy.onnx_runner import OnnxDetector
    det = OnnxDetector(args.export_dir, threads=args.threads)
    os.makedirs(osp.join(args.out_dir, 'vis'), exist_ok=True)
    os.makedirs(osp.join(args.out_dir, 'preds'), exist_ok=True)
    for path in image_files(args.inputs):
        image = cv2.imread(path)
        if image is None:
            sys.exit(f'error: cannot read an image from {path}')
        out = det(image)
        stem = osp.splitext(osp.basename(path))[0]
        cv2.imwrite(osp.join(args.out_dir, 'vis', f'{stem}.jpg'),
                    draw(image, out, det.classes, args.score_thr))
        with open(osp.join(args.out_dir, 'preds', f'{stem}.json'), 'w') as f:
            json.dump(dict(labels=out['labels'].tolist(), scores=out['scores'].tolist(),
                           bboxes=out['boxes'].tolist(), pred_ious=out['pred_ious'].tolist(),
                           cls_scores=out['cls_scores'].tolist()), f)
        print(f'{path}: {int((out["scores"] >= args.score_thr).sum())} of {len(out["scores"])} '
              f'detections drawn -> {osp.join(args.out_dir, "vis", stem + ".jpg")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
