"""Every config in configs/ builds, and its model runs a loss and a predict step on CPU."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def build_model(path):
    cfg = Config.fromfile(path)
    assert 'iou_aware' in cfg.custom_imports['imports']
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    if cfg.model.type == 'IoUBranchRetrofit':  # needs a trained checkpoint: its detector
        cfg.model = cfg.model.detector        # here, the retrofit in test_retrofit.py
    # no download: weights stay random (BoxQualityRetrofit builds without a checkpoint; the
    # frozen-detector training is tested in test_box_quality.py)
    cfg.model.get('detector', cfg.model).backbone.init_cfg = None
    return MODELS.build(cfg.model), cfg


def num_classes(cfg):
    model = cfg.model.get('detector', cfg.model)
    head = model.get('bbox_head') or model.roi_head.bbox_head
    return head.num_classes


def demo_inputs(cfg):
    """Two random 128x128 images with 3 and 1 boxes of the config's classes."""
    return demo_mm_inputs(2, image_shapes=(3, 128, 128), num_items=[3, 1],
                          num_classes=num_classes(cfg))


def loss_step(model, packed):
    """The model's losses on ``packed`` in training mode."""
    model.train()
    return model(**model.data_preprocessor(packed, True), mode='loss')


def test_configs_are_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'retinanet_tiny-r18_fpn_shapes.py', 'faster-rcnn_tiny-r18_fpn_shapes.py',
            'retinanet_r50_fpn_1x_coco.py', 'faster-rcnn_r50_fpn_1x_coco.py'} <= names


# The R50 COCO models take 5-15 s a step on CPU: `slow`, so the quick mode keeps to the
# tiny ones (CI runs all).
@pytest.mark.parametrize('path', [
    pytest.param(p, marks=pytest.mark.slow) if p.endswith('_coco.py') else p for p in CONFIGS],
    ids=lambda p: osp.relpath(p, ROOT))
def test_config_trains_one_step_and_predicts(path):
    torch.manual_seed(0)
    model, cfg = build_model(path)
    packed = demo_inputs(cfg)
    losses = loss_step(model, packed)
    total = sum(v.sum() for k, v in losses.items() if 'loss' in k and isinstance(v, torch.Tensor)) \
        + sum(sum(x.sum() for x in v) for k, v in losses.items() if 'loss' in k and isinstance(v, list))
    assert torch.isfinite(total) and total > 0
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)

    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(packed, False), mode='predict')
    assert len(preds) == 2
    for p in preds:
        inst = p.pred_instances
        assert inst.bboxes.shape[1] == 4 and len(inst.scores) == len(inst.labels) == len(inst.bboxes)


def _loss_options(head, loss, weight):
    """The ``--cfg-options`` that swap a box head's L1 loss for an IoU-family loss on decoded
    boxes, as configs/retinanet/README.md documents them (the variants are overrides, not
    files)."""
    extra = [f'{head}.loss_bbox.mode=log'] if loss == 'iou-log' else []
    name = {'giou': 'GIoULoss', 'diou': 'DIoULoss', 'ciou': 'CIoULoss', 'iou-log': 'IoULoss'}[loss]
    return [f'{head}.reg_decoded_bbox=True', f'{head}.loss_bbox.type={name}',
            f'{head}.loss_bbox.loss_weight={weight}', *extra]


def _spec_model_variants():
    """Benchmark-spec runs that change the model by ``cfg_options`` (a loss variant), beside
    the documented loss overrides on the other two families."""
    import json
    cases = []
    for spec_path in sorted(glob.glob(osp.join(ROOT, 'benchmarks', 'specs', '*.json'))):
        spec = json.load(open(spec_path))
        for name, run in spec['runs'].items():
            options = [o for o in run.get('cfg_options', [])
                       if o.startswith('model.') and not o.startswith('model.checkpoint=')]
            if 'config' in run and options:
                cases.append((f"{spec['name']}/{name}", run['config'], options))
    for loss in ('giou', 'diou', 'ciou', 'iou-log'):
        cases.append((f'iou-aware_paper_{loss}',
                      'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_paper_shapes.py',
                      _loss_options('model.bbox_head', loss, 2.0)))
        cases.append((f'iou-net_gt-jitter_{loss}',
                      'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_gt-jitter_shapes.py',
                      _loss_options('model.roi_head.bbox_head', loss, 10.0)))
    return cases


@pytest.mark.parametrize('name,path,options', [pytest.param(*c, id=c[0]) for c in _spec_model_variants()])
def test_loss_variant_trains_one_step(name, path, options):
    """A loss variant is its config plus ``--cfg-options``: the override reaches the head (the
    built loss is the one named) and the model trains a step."""
    from benchmarks.provenance import parse_options
    from iou_aware.utils.cli import load_config
    cfg = load_config(osp.join(ROOT, path), parse_options(options))
    init_default_scope('mmdet')
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    head = model.bbox_head if 'bbox_head' in cfg.model else model.roi_head.bbox_head
    wanted = next(o for o in options if '.loss_bbox.type=' in o).split('=')[1]
    assert type(head.loss_bbox).__name__ == wanted and head.reg_decoded_bbox
    losses = loss_step(model, demo_inputs(cfg))
    box_loss = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
                   for k, v in losses.items() if 'loss_bbox' in k)
    assert torch.isfinite(box_loss) and box_loss > 0
    box_loss.backward()


@pytest.mark.slow  # a fresh interpreter importing mmdet: 15 s
def test_custom_imports_alone_registers_the_package(tmp_path):
    # A fresh interpreter that never imports iou_aware itself: the config's custom_imports
    # must register our components.
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n"
                   "custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)\n"
                   "model = dict(backbone=dict(init_cfg=None), roi_head=dict(bbox_roi_extractor=dict("
                   "type='PrRoIExtractor', roi_layer=dict(type='PrRoIPool2d', output_size=7))))\n")
    code = ('import sys; from mmengine.config import Config; from mmengine.registry import '
            'init_default_scope; from mmdet.registry import MODELS\n'
            'cfg = Config.fromfile(sys.argv[1]); init_default_scope("mmdet")\n'
            'm = MODELS.build(cfg.model)\n'
            'print(type(m.roi_head.bbox_roi_extractor.roi_layers[0]).__name__)\n')
    out = subprocess.run([sys.executable, '-c', code, str(cfg)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == 'PrRoIPool2d'


def _without_num_classes(node):
    if isinstance(node, dict):
        return {k: _without_num_classes(v) for k, v in node.items() if k != 'num_classes'}
    if isinstance(node, (list, tuple)):
        return [_without_num_classes(v) for v in node]
    return node


BCCD_TWINS = [(f'configs/{folder}/{name}_bccd.py', f'configs/{folder}/{name}_shapes.py')
              for folder, name in [
                  ('retinanet', 'retinanet_tiny-r18_fpn'),
                  ('iou_aware_retinanet', 'iou-aware-retinanet_tiny-r18_fpn'),
                  ('iou_aware_retinanet', 'iou-aware-retinanet_tiny-r18_fpn_paper'),
                  ('faster_rcnn', 'faster-rcnn_tiny-r18_fpn'),
                  ('iou_net', 'faster-rcnn_tiny-r18_fpn_iou-net')]] + [
    (f'configs/peers/{name}_tiny-r18_fpn_bccd.py', f'configs/peers/{name}_tiny-r18_fpn_shapes.py')
    for name in ('atss', 'gfl', 'vfnet', 'paa')] + [
    (f'configs/iou_aware_atss/{name}_bccd.py', f'configs/iou_aware_atss/{name}_shapes.py')
    for name in ('iou-aware-atss_tiny-r18_fpn', 'iou-aware-atss_decoupled_tiny-r18_fpn')]


@pytest.mark.parametrize('bccd,shapes', BCCD_TWINS, ids=lambda p: osp.basename(p))
def test_bccd_models_are_the_shapes_models(bccd, shapes):
    """A BCCD row measures the same method as its shapes row: the model settings (heads,
    losses, train and test settings) are equal but for the number of classes."""
    on_bccd, on_shapes = (Config.fromfile(osp.join(ROOT, p)) for p in (bccd, shapes))
    assert _without_num_classes(on_bccd.model.to_dict()) == \
        _without_num_classes(on_shapes.model.to_dict())
    heads = [on_bccd.model.get('bbox_head')] if 'bbox_head' in on_bccd.model else [
        on_bccd.model.roi_head.bbox_head, on_bccd.model.roi_head.get('iou_head')]
    assert all(h.num_classes == 3 for h in heads if h is not None)


@pytest.mark.parametrize('default,paper', [
    ('configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py',
     'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_paper_shapes.py'),
    ('configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_bccd.py',
     'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_paper_bccd.py'),
    ('configs/iou_aware_retinanet/iou-aware-retinanet_r50_fpn_1x_coco.py',
     'configs/iou_aware_retinanet/iou-aware-retinanet_r50_fpn_paper_1x_coco.py')],
    ids=lambda p: osp.basename(p))
def test_default_iou_aware_config_is_the_paper_but_for_the_head(default, paper):
    """The default IoU-aware configs are the paper's but for the head (DecoupledIoURetinaHead,
    whose defaults are the measured settings), the separate clipping and the test-time
    scoring: cls x IoU with the squared threshold, which keeps the paper's detections
    (tests/test_models/test_scoring.py). The rows trained before the head had its own class
    (flags on the paper head; their train.json records them) train bit for bit as this
    head does: tests/golden/iou-aware.json was recorded then and still replays exactly."""
    ours = Config.fromfile(osp.join(ROOT, default)).to_dict()
    theirs = Config.fromfile(osp.join(ROOT, paper)).to_dict()
    head, paper_head = ours['model'].pop('bbox_head'), theirs['model'].pop('bbox_head')
    assert head.pop('type') == 'DecoupledIoURetinaHead'
    assert paper_head.pop('type') == 'IoUAwareRetinaHead'
    assert paper_head.pop('detach_iou_target') is False
    assert head == paper_head
    ours_test, paper_test = ours['model'].pop('test_cfg'), theirs['model'].pop('test_cfg')
    assert paper_test.pop('alpha') == 0.5 and 'alpha' not in ours_test
    assert ours_test.pop('score_type') == 'cls_x_iou'
    assert ours_test.pop('score_thr') == pytest.approx(paper_test.pop('score_thr') ** 2)
    assert ours_test == paper_test
    assert ours['optim_wrapper'].pop('type') == 'SeparateClipOptimWrapper'
    theirs['optim_wrapper'].pop('type', None)
    assert ours == theirs


@pytest.mark.parametrize('tiny,r50', [
    ('configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py',
     'configs/iou_net/faster-rcnn_r50_fpn_iou-net_1x_coco.py'),
    ('configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_gt-jitter_shapes.py',
     'configs/iou_net/faster-rcnn_r50_fpn_iou-net_gt-jitter_1x_coco.py'),
    ('configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py',
     'configs/iou_aware_retinanet/iou-aware-retinanet_r50_fpn_1x_coco.py'),
    ('configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_paper_shapes.py',
     'configs/iou_aware_retinanet/iou-aware-retinanet_r50_fpn_paper_1x_coco.py')],
    ids=lambda p: osp.basename(p))
def test_tiny_and_r50_configs_ship_the_same_method(tiny, r50):
    """The R50 COCO configs are the tiny ones' method on another backbone and data: the same
    test-time settings and the same head/RoI-head options but for sizes and class counts."""
    a, b = (Config.fromfile(osp.join(ROOT, p)).model for p in (tiny, r50))
    # the method's part of test_cfg (a two-stage model's RPN settings are sized apart)
    assert a.test_cfg.get('rcnn', a.test_cfg) == b.test_cfg.get('rcnn', b.test_cfg)
    sizes = {'num_classes', 'in_channels', 'feat_channels', 'stacked_convs', 'norm_cfg',
             'anchor_generator', 'out_channels', 'fc_out_channels', 'num_per_img'}
    for part in ('bbox_head', 'roi_head'):
        if part in a:
            x, y = a[part].to_dict(), b[part].to_dict()
            for key in set(x) | set(y):
                if key not in sizes and not isinstance(x.get(key), dict):
                    assert x.get(key) == y.get(key), (part, key)
    if 'rcnn' in a.get('train_cfg', {}):  # IoU-Net: the IoU sampler's settings but its sizes
        x, y = (dict(m.train_cfg.rcnn.get('iou_sampler', {})) for m in (a, b))
        assert {k: v for k, v in x.items() if k not in sizes | {'own_boxes'}} == \
            {k: v for k, v in y.items() if k not in sizes | {'own_boxes'}}
        assert ('own_boxes' in x) == ('own_boxes' in y)
