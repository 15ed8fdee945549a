"""The shapes dataset generator and its CLI: determinism, box semantics recomputed from the
per-object masks, COCO compatibility, and validation that names the broken file."""
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iou_aware.datasets import shapes

from .tool_helpers import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_PATH = REPO_ROOT / 'tools' / 'make_shapes_dataset.py'
NUM_IMAGES = dict(train=12, val=4)


cli = load_tool('tools/make_shapes_dataset.py', 'make_shapes_dataset_cli')
CONFIG = shapes.ShapesConfig(image_size=128)


def _generate(out_dir, seed=0, config=CONFIG, num_images=NUM_IMAGES):
    shapes.generate_dataset(out_dir, num_images=num_images, seed=seed, config=config)
    return Path(out_dir)


def _file_hashes(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def _load_json(root, split):
    return json.loads((root / 'annotations' / f'{split}.json').read_text())


def _tight_box(mask):
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def _iou_xywh(a, b):
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    return _generate(tmp_path_factory.mktemp('shapes') / 'seed0')


def test_layout_and_meta(dataset):
    assert sorted(p.name for p in dataset.iterdir()) == ['annotations', 'meta.json', 'train', 'val']
    for split, count in NUM_IMAGES.items():
        assert len(list((dataset / split).glob('*.png'))) == count
        coco = _load_json(dataset, split)
        on_disk = sorted(p.name for p in (dataset / split).glob('*.png'))
        assert [im['file_name'] for im in coco['images']] == on_disk
        for ann in coco['annotations']:
            assert 'segmentation' not in ann and ann['iscrowd'] == 0
    meta = json.loads((dataset / 'meta.json').read_text())
    assert meta['seed'] == 0 and meta['num_images'] == NUM_IMAGES
    assert meta['config']['image_size'] == CONFIG.image_size
    assert meta['generator_version'] == shapes.GENERATOR_VERSION


def test_same_seed_gives_byte_identical_files(dataset, tmp_path):
    again = _generate(tmp_path / 'again')
    hashes = _file_hashes(dataset)
    assert len(hashes) == sum(NUM_IMAGES.values()) + 3  # + two jsons + meta.json
    assert _file_hashes(again) == hashes


def test_other_seed_changes_every_file(dataset, tmp_path):
    other = _generate(tmp_path / 'seed1', seed=1)
    ours, theirs = _file_hashes(dataset), _file_hashes(other)
    assert ours.keys() == theirs.keys()
    assert all(ours[name] != theirs[name] for name in ours)


def test_any_image_can_be_regenerated_alone(dataset):
    for split in NUM_IMAGES:
        for image in _load_json(dataset, split)['images'][::3]:
            saved = np.asarray(Image.open(dataset / split / image['file_name']))
            rendered = shapes.render_image(0, split, image['id'], CONFIG)
            np.testing.assert_array_equal(saved, rendered.image)
    # Splits are seeded independently: image 1 of train and of val differ.
    assert not np.array_equal(shapes.render_image(0, 'train', 1, CONFIG).image,
                              shapes.render_image(0, 'val', 1, CONFIG).image)


def test_boxes_are_tight_boxes_of_visible_pixels(dataset):
    coco = _load_json(dataset, 'train')
    hidden = 0
    for image in coco['images']:
        rendered = shapes.render_image(0, 'train', image['id'], CONFIG)
        objects = rendered.objects
        assert CONFIG.min_objects <= len(objects) <= CONFIG.max_objects
        expected = []
        for i, obj in enumerate(objects):
            # Recompute occlusion from the whole-object masks: later objects are on top.
            covered_later = np.zeros_like(obj.mask)
            for later in objects[i + 1:]:
                covered_later |= later.mask
            visible = obj.mask & ~covered_later
            np.testing.assert_array_equal(visible, obj.visible_mask)
            assert obj.full_area >= obj.mask.sum() > 0
            if visible.sum() >= CONFIG.min_visible_fraction * obj.full_area:
                expected.append((obj.category_id, _tight_box(visible), float(visible.sum())))
            else:
                hidden += 1
        anns = sorted(coco['annotations'], key=lambda a: a['id'])
        actual = [(a['category_id'], a['bbox'], a['area'])
                  for a in anns if a['image_id'] == image['id']]
        assert actual == expected
    assert hidden > 0, 'no object fell below the visibility threshold; the drop rule is untested'


def test_pycocotools_loads_and_evaluates_the_splits(dataset):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(dataset / 'annotations' / 'train.json'))
        assert len(gt.getImgIds()) == NUM_IMAGES['train']
        assert [gt.cats[i]['name'] for i in sorted(gt.cats)] == list(shapes.CLASSES)
        # The ground truth scored as detections must be a perfect result.
        detections = [dict(image_id=a['image_id'], category_id=a['category_id'],
                           bbox=a['bbox'], score=1.0) for a in gt.dataset['annotations']]
        evaluator = COCOeval(gt, gt.loadRes(detections), 'bbox')
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)


def test_every_class_appears(dataset):
    seen = {a['category_id'] for split in NUM_IMAGES
            for a in _load_json(dataset, split)['annotations']}
    assert seen == set(range(1, len(shapes.CLASSES) + 1))


def _same_class_overlaps(objects, min_iou=0.1):
    return sum(a.category_id == b.category_id and _iou_xywh(a.bbox, b.bbox) >= min_iou
               for i, a in enumerate(objects) for b in objects[i + 1:])


def test_same_class_objects_overlap(dataset):
    overlapping = 0
    for split in NUM_IMAGES:
        for image in _load_json(dataset, split)['images']:
            rendered = shapes.render_image(0, split, image['id'], CONFIG)
            overlapping += _same_class_overlaps(rendered.annotated_objects)
    assert overlapping >= 2


def test_same_class_overlaps_come_from_deliberate_placement():
    # Chance alone puts two same-class boxes together now and then; the deliberate
    # placement has to make it several times more common.
    def count(config):
        images = (shapes.render_image(0, 'train', i, config) for i in range(1, 41))
        return sum(_same_class_overlaps(image.annotated_objects) for image in images)
    deliberate = count(CONFIG)
    by_chance = count(shapes.ShapesConfig(image_size=CONFIG.image_size,
                                          same_class_overlap_prob=0.0))
    assert deliberate >= 15 and deliberate >= 3 * by_chance


def test_sizes_range_from_small_to_large(dataset):
    sizes = [np.sqrt(a['bbox'][2] * a['bbox'][3]) for split in NUM_IMAGES
             for a in _load_json(dataset, split)['annotations']]
    assert min(sizes) < 2 * CONFIG.min_object_size
    assert max(sizes) > 0.6 * CONFIG.max_object_size


def _copy_split(dataset, split, dest):
    shutil.copytree(dataset / split, dest / split)
    (dest / 'annotations').mkdir()
    shutil.copy(dataset / 'annotations' / f'{split}.json', dest / 'annotations')
    return dest / 'annotations' / f'{split}.json', dest / split


def test_validation_accepts_a_generated_split(dataset):
    coco = shapes.validate_coco_split(dataset / 'annotations' / 'val.json', dataset / 'val')
    assert len(coco.getImgIds()) == NUM_IMAGES['val']


def test_validation_rejects_corrupt_json(dataset, tmp_path):
    ann_file, img_dir = _copy_split(dataset, 'val', tmp_path)
    ann_file.write_text(ann_file.read_text()[:200])
    with pytest.raises(ValueError, match='val.json'):
        shapes.validate_coco_split(ann_file, img_dir)


@pytest.mark.parametrize('field, value, problem', [
    ('bbox', [100.0, 100.0, 40.0, 10.0], 'clipped to the image'),
    ('bbox', [300.0, 10.0, 20.0, 10.0], 'outside the image'),
    ('bbox', [10.0, 10.0, 0.0, 5.0], 'zero-size'),
    ('bbox', [10.0, 10.0, 5.0, float('nan')], 'non-finite'),
    ('category_id', 7, 'unknown category'),
    ('image_id', 999, 'unknown image'),
    ('id', 2, 'duplicate ids'),
])
def test_validation_rejects_bad_annotations(dataset, tmp_path, field, value, problem):
    ann_file, img_dir = _copy_split(dataset, 'val', tmp_path)
    coco = json.loads(ann_file.read_text())
    coco['annotations'][0][field] = value
    ann_file.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=problem) as info:
        shapes.validate_coco_split(ann_file, img_dir)
    assert str(ann_file) in str(info.value)


def test_validation_rejects_missing_or_resized_image(dataset, tmp_path):
    ann_file, img_dir = _copy_split(dataset, 'val', tmp_path)
    Image.new('RGB', (64, 64)).save(img_dir / '000003.png')
    with pytest.raises(ValueError, match='000003.png.*size'):
        shapes.validate_coco_split(ann_file, img_dir)
    (img_dir / '000002.png').unlink()
    with pytest.raises(ValueError, match='000002.png.*does not exist'):
        shapes.validate_coco_split(ann_file, img_dir)


def test_config_rejects_impossible_values():
    with pytest.raises(ValueError, match='min_objects'):
        shapes.ShapesConfig(min_objects=5, max_objects=2)
    with pytest.raises(ValueError, match='min_object_size'):
        shapes.ShapesConfig(image_size=32, min_object_size=30)


TINY = ['--train-images', '2', '--val-images', '1', '--image-size', '64']


def test_cli_overwrites_only_with_force(tmp_path, capsys):
    out = tmp_path / 'out'
    assert cli.main(['--out-dir', str(out), *TINY]) == 0
    assert 'train: 2 images' in capsys.readouterr().out
    (out / 'notes.txt').write_text('not ours')
    assert cli.main(['--out-dir', str(out), *TINY, '--seed', '1']) == 2
    assert '--force' in capsys.readouterr().err
    assert json.loads((out / 'meta.json').read_text())['seed'] == 0
    assert cli.main(['--out-dir', str(out), *TINY, '--seed', '1', '--force']) == 0
    assert json.loads((out / 'meta.json').read_text())['seed'] == 1
    assert (out / 'notes.txt').read_text() == 'not ours'


@pytest.mark.slow  # a subprocess generating images
def test_cli_runs_as_a_script(tmp_path):
    # A fresh process with another str-hash salt must write the very same bytes as this one.
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHONHASHSEED='12345')
    result = subprocess.run([sys.executable, str(CLI_PATH), '--out-dir', str(out), *TINY],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if ' images, ' in line]
    assert lines[0].startswith('train: 2 images') and lines[1].startswith('val: 1 images')
    in_process = tmp_path / 'in_process'
    assert cli.main(['--out-dir', str(in_process), *TINY]) == 0
    assert _file_hashes(out) == _file_hashes(in_process)
