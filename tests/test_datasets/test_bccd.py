"""The BCCD benchmark's real annotations: what loads, what is dropped, and one training step."""
import json
import math
import os.path as osp

import pytest

import iou_aware  # noqa: F401
from iou_aware.datasets.voc import voc_to_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BCCD = osp.join(ROOT, 'datasets', 'bccd')
CLASSES = ('RBC', 'WBC', 'Platelets')
CONFIG = osp.join(ROOT, 'configs', 'retinanet', 'retinanet_tiny-r18_fpn_bccd.py')


def build_split(split):
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(CONFIG)
    ds_cfg = dict(cfg[f'{split}_dataloader'].dataset, data_root=BCCD + '/')
    if split == 'train':
        ds_cfg['filter_cfg'] = None  # count every image
    return DATASETS.build(ds_cfg)


def test_committed_coco_files_are_the_conversion_of_the_xml():
    for split in ('train', 'val', 'test'):
        with open(osp.join(BCCD, 'coco', f'{split}.json')) as f:
            assert json.load(f) == voc_to_coco(BCCD, split, CLASSES), split


def test_real_annotations_load_with_the_two_zero_size_boxes_dropped(mm_log_lines):
    counts, images = dict.fromkeys(CLASSES, 0), {}
    datasets = {split: build_split(split) for split in ('train', 'val', 'test')}
    for split, ds in datasets.items():
        images[split] = len(ds)
        for i in range(len(ds)):
            for inst in ds.get_data_info(i)['instances']:
                counts[CLASSES[inst['bbox_label']]] += 1
                x1, y1, x2, y2 = inst['bbox']
                assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
    # The dataset's documented totals (RBC 4,155, WBC 372, Platelets 361) less the two
    # zero-size RBC boxes; its documented splits.
    assert counts == {'RBC': 4153, 'WBC': 372, 'Platelets': 361}
    assert images == {'train': 205, 'val': 87, 'test': 72}
    warnings = [line for line in mm_log_lines if 'dropped' in line]
    assert len(warnings) == 2
    assert 'train.json: dropped 1 and clipped 0' in warnings[0]
    assert '1 zero-size (id 4004 in BloodImage_00343.jpg)' in warnings[0]
    assert 'val.json: dropped 1 and clipped 0' in warnings[1]
    assert '1 zero-size (id 3950 in BloodImage_00338.jpg)' in warnings[1]


@pytest.mark.parametrize('config', ['retinanet_tiny-r18_fpn_bccd.py'])
def test_one_training_step_on_the_flawed_bccd_image(config):
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    ds = build_split('train')
    idx = next(i for i in range(len(ds))
               if ds.get_data_info(i)['img_path'].endswith('BloodImage_00343.jpg'))
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'retinanet', config))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    log_vars = model.train_step(pseudo_collate([ds[idx]]), optim)
    assert log_vars['loss'] > 0 and all(math.isfinite(float(v.detach())) for v in log_vars.values())


@pytest.mark.slow  # the tool in a subprocess
def test_browse_dataset_reports_the_flaw_and_draws(tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'browse_dataset.py'), CONFIG,
                          '--split', 'val', '--num', '3', '--out-dir', str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'val: 87 images, 1137 boxes (RBC ' in out.stdout
    assert 'annotation check: ' in out.stdout and 'id 3950 in BloodImage_00338.jpg' in out.stdout
    assert len(list((tmp_path / 'val').glob('*.jpg'))) == 3
