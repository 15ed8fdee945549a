"""The authors' protocol on a benchmark with one evaluation split (shapes): fitted on one half
of its images, reported on the other. Checked against the two-split path fed with the halves
written out as files by hand (annotation JSON and detections.npz filtered by image)."""
import json
import os.path as osp

import numpy as np
import pytest

from benchmarks.protocol import (load_split, run_protocol, run_protocol_halves,
                                         split_halves)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NPZ = osp.join(ROOT, 'benchmarks', 'results', 'bccd', 'retinanet', 'seed0', 'detections.npz')
ANN = osp.join(ROOT, 'datasets', 'bccd', 'coco', 'test.json')
CLASSES = ('RBC', 'WBC', 'Platelets')
needs_run = pytest.mark.skipif(not (osp.isfile(NPZ) and osp.isfile(ANN)),
                               reason='no committed BCCD run')


def _write_half(tmp_path, name, image_ids):
    """The split restricted to ``image_ids``, as the files a two-split benchmark keeps."""
    ann = json.load(open(ANN))
    ann['images'] = [im for im in ann['images'] if im['id'] in image_ids]
    ann['annotations'] = [a for a in ann['annotations'] if a['image_id'] in image_ids]
    json.dump(ann, open(tmp_path / f'{name}.json', 'w'))
    raw = np.load(NPZ)
    keep = np.isin(raw['img_id'], list(image_ids))
    cols = {k: raw[k][keep] for k in raw.files if k != 'image_ids'}
    cols['image_ids'] = raw['image_ids'][np.isin(raw['image_ids'], list(image_ids))]
    np.savez(tmp_path / f'{name}.npz', **cols)
    return str(tmp_path / f'{name}.npz'), str(tmp_path / f'{name}.json')


@needs_run
def test_halves_are_disjoint_cover_every_image_and_detection():
    dets, gt = load_split(NPZ, ANN, CLASSES)
    (dv, gv), (dt, gtt) = split_halves(dets, gt)
    assert not set(gv) & set(gtt) and set(gv) | set(gtt) == set(gt)
    assert abs(len(gv) - len(gtt)) <= 1
    assert len(dv['img_id']) + len(dt['img_id']) == len(dets['img_id'])
    assert set(dv['img_id'].tolist()) <= set(gv) and set(dt['img_id'].tolist()) <= set(gtt)


@needs_run
def test_halves_protocol_equals_the_two_split_protocol_on_the_halves_as_files(tmp_path):
    ids = sorted(json.load(open(ANN))['images'], key=lambda im: im['id'])
    ids = [im['id'] for im in ids]
    fit = _write_half(tmp_path, 'fit', set(ids[0::2]))
    report = _write_half(tmp_path, 'report', set(ids[1::2]))
    expected = run_protocol(*fit, *report, CLASSES)
    got = run_protocol_halves(NPZ, ANN, CLASSES)
    assert 'halves' in got.pop('splits')
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    # and the halves matter: fitting on the reporting half gives other figures
    swapped = run_protocol(*report, *report, CLASSES)
    assert json.dumps(swapped, sort_keys=True) != json.dumps(expected, sort_keys=True)
