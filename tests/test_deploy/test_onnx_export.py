"""tools/export.py and the ONNX runner: the exported graph in ONNX Runtime gives the same
detections as the same checkpoint in PyTorch (mmdet's own test pipeline and predict), the
predicted IoU and the calibrated score included; what cannot be exported is refused with
the module and the op; bad images get clear errors from the runner.

Tiny BCCD-config models with random weights on synthetic 640x480 images (resized to
320x240 by the config, as the BCCD photographs are)."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

from mmdet.apis import inference_detector, init_detector  # noqa: E402

import iou_aware  # noqa: E402,F401
from iou_aware.deploy.exportable import ExportError, ExportableDenseDetector  # noqa: E402
from iou_aware.deploy.onnx_runner import OnnxDetector, resize_bilinear  # noqa: E402
from iou_aware.models.calibrated_detector import FORMAT  # noqa: E402
from benchmarks.scripts import load_script as load_tool  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'retinanet': 'configs/retinanet/retinanet_tiny-r18_fpn_bccd.py',
    'iou-aware': 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_bccd.py',
    'iou-aware_paper': 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_paper_bccd.py',
}


def images(n=3, seed=0):
    """Photograph-sized BGR images with a few bright blobs on a noisy background."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = rng.integers(90, 140, (480, 640, 3)).astype(np.uint8)
        for _ in range(6):
            x, y = rng.integers(0, 560), rng.integers(0, 400)
            img[y:y + rng.integers(20, 80), x:x + rng.integers(20, 80)] = rng.integers(150, 255, 3)
        out.append(img)
    return out


def calibration_file(tmp_path, classes=3):
    nan = float('nan')
    data = dict(format=FORMAT, classes=['RBC', 'WBC', 'Platelets'][:classes], fitted=dict(
        calibrator='isotonic', thresholds=[0.06, nan, 0.07],
        operating_thresholds=[0.1, nan, 0.15],
        calibrators=[dict(method='isotonic', x=[0.05, 0.2, 0.2001, 0.5, 0.9],
                          y=[0.02, 0.1, 0.3, 0.35, 0.8]),
                     dict(method='linear', slope=0.7, intercept=0.05),
                     dict(method='identity')]))
    path = tmp_path / 'calibration.json'
    path.write_text(json.dumps(data))
    return str(path)


def checkpoint_and_config(name, tmp_path, calibrated=False):
    """A random-weight checkpoint of the config (seeded), and the config to export (the
    calibrated one as tools/calibrate.py writes it, when asked)."""
    config = osp.join(ROOT, CONFIGS[name])
    torch.manual_seed(0)
    model = init_detector(config, None, device='cpu')
    path = str(tmp_path / f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=('RBC', 'WBC', 'Platelets')))), path)
    if calibrated:
        cal_cfg = tmp_path / f'{name}_calibrated.py'
        cal_cfg.write_text(f"_base_ = '{config}'\nmodel = dict(_delete_=True, "
                           f"type='CalibratedDetector', detector={{{{_base_.model}}}}, "
                           f"calibration='{calibration_file(tmp_path)}')\n")
        config = str(cal_cfg)
    return config, path


def export(config, checkpoint, out):
    tool = load_tool('tools/export.py')
    assert tool.main([config, checkpoint, '--out', out]) == 0
    return OnnxDetector(out, threads=1)


def torch_detections(config, checkpoint, imgs):
    """mmdet's own test pipeline and predict (its init_detector assumes a plain detector
    config, so a wrapper is built here as tools/test.py builds it)."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    model.cfg = cfg
    model.eval()
    out = []
    for img in imgs:
        pred = inference_detector(model, img).pred_instances
        out.append(pred)
    return out


def assert_same(onnx_dets, torch_dets, fields):
    for ours, ref in zip(onnx_dets, torch_dets):
        assert len(ref) > 0
        assert len(ours['scores']) == len(ref)
        np.testing.assert_array_equal(ours['labels'], ref.labels.numpy())
        np.testing.assert_allclose(ours['boxes'], ref.bboxes.numpy(), atol=2e-3, rtol=0)
        np.testing.assert_allclose(ours['scores'], ref.scores.numpy(), atol=1e-4, rtol=0)
        for onnx_key, torch_key in fields:
            np.testing.assert_allclose(ours[onnx_key], ref[torch_key].numpy(), atol=1e-4,
                                       rtol=0)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_onnx_runtime_gives_the_pytorch_detections(name, tmp_path):
    config, ckpt = checkpoint_and_config(name, tmp_path)
    det = export(config, ckpt, str(tmp_path / 'export'))
    imgs = images()
    fields = [('pred_ious', 'pred_ious'), ('cls_scores', 'cls_scores')] if name != 'retinanet' \
        else []
    assert_same(det(imgs), torch_detections(config, ckpt, imgs), fields)


def test_calibrated_export_gives_the_calibrated_detections(tmp_path):
    """Thresholds dropped and scores mapped class-wise (isotonic with a near-step, linear,
    identity), as CalibratedDetector does in PyTorch."""
    config, ckpt = checkpoint_and_config('iou-aware', tmp_path, calibrated=True)
    det = export(config, ckpt, str(tmp_path / 'export'))
    imgs = images()
    ref = torch_detections(config, ckpt, imgs)
    assert_same(det(imgs), ref, [('pred_ious', 'pred_ious'), ('cls_scores', 'cls_scores')])
    assert all('raw_scores' in r for r in ref)
    assert det.meta['scores'].startswith('calibrated')


def test_the_runner_resizes_like_cv2():
    """Exactly at half size (BCCD's 640x480 -> 320x240); elsewhere within 1 (cv2's
    fixed-point weights round differently)."""
    cv2 = pytest.importorskip('cv2')
    img = images(1, seed=3)[0]
    for (w, h), tol in (((320, 240), 0), ((1280, 960), 1), ((333, 251), 1)):
        ours = resize_bilinear(img, w, h).astype(int)
        ref = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR).astype(int)
        assert np.abs(ours - ref).max() <= tol, (w, h)


def test_what_cannot_be_exported_is_refused_with_module_and_op(tmp_path):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs/box_quality/retinanet_tiny-r18_fpn_box-quality_bccd.py'))
    cfg.model.detector.backbone.init_cfg = None
    with pytest.raises(ExportError, match='BoxQualityRetrofit.*PrRoIPool.*prroi_pool'):
        ExportableDenseDetector(MODELS.build(cfg.model), (240, 320))
    cfg = Config.fromfile(osp.join(ROOT, 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_bccd.py'))
    cfg.model.backbone.init_cfg = None
    with pytest.raises(ExportError, match='roi_head .IoUNetRoIHead.*IoU-guided NMS'):
        ExportableDenseDetector(MODELS.build(cfg.model), (240, 320))


def test_the_runner_says_what_is_wrong_with_an_image(tmp_path):
    config, ckpt = checkpoint_and_config('retinanet', tmp_path)
    det = export(config, ckpt, str(tmp_path / 'export'))
    with pytest.raises(ValueError, match=r'image: expected an HxWx3 array .* shape \(480, 640\)'):
        det(np.zeros((480, 640), np.uint8))
    with pytest.raises(ValueError, match=r'shape \(480, 640, 4\)'):
        det(np.zeros((480, 640, 4), np.uint8))
    with pytest.raises(ValueError, match='image: expected uint8 pixels, got float32'):
        det(np.zeros((480, 640, 3), np.float32))
    with pytest.raises(ValueError, match='larger than the exported input 320x240'):
        det(np.zeros((640, 480, 3), np.uint8))  # portrait: 240x320 does not fit


def test_onnx_demo_draws_and_saves_the_runners_detections(tmp_path):
    cv2 = pytest.importorskip('cv2')
    config, ckpt = checkpoint_and_config('iou-aware', tmp_path)
    det = export(config, ckpt, str(tmp_path / 'export'))
    img = images(1, seed=5)[0]
    cv2.imwrite(str(tmp_path / 'blood.png'), img)
    demo = load_tool('tools/onnx_demo.py')
    assert demo.main([str(tmp_path / 'export'), str(tmp_path / 'blood.png'), '--out-dir',
                      str(tmp_path / 'out'), '--score-thr', '0']) == 0
    preds = json.loads((tmp_path / 'out' / 'preds' / 'blood.json').read_text())
    ref = det(img)
    np.testing.assert_allclose(preds['scores'], ref['scores'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(preds['pred_ious'], ref['pred_ious'], rtol=0, atol=1e-6)
    drawn = cv2.imread(str(tmp_path / 'out' / 'vis' / 'blood.jpg'))
    assert drawn.shape == img.shape and np.abs(drawn.astype(int) - img).max() > 100
