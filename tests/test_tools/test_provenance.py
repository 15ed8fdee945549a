"""Provenance of results records: the config hash changes with a setting, not with where a
run is written; benchmarks/update_docs.py --provenance flags a row whose config moved."""
import json
import os.path as osp
import subprocess
import sys

from benchmarks.provenance import config_hash, config_hash_of, parse_options, provenance
from iou_aware.utils.cli import load_config

from .tool_helpers import ROOT

CONFIG = 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py'


def test_hash_moves_with_settings_not_with_places():
    base = config_hash_of(CONFIG)
    assert config_hash_of(CONFIG, parse_options(['work_dir=/tmp/x', 'randomness.seed=3',
                                                 'load_from=a.pth'])) == base
    assert config_hash_of(CONFIG, parse_options(['model.bbox_head.num_classes=5'])) != base
    assert config_hash_of(CONFIG, parse_options(['optim_wrapper.optimizer.lr=0.001'])) != base


def test_record_names_the_commit_and_hash():
    cfg = load_config(CONFIG)
    prov = provenance(cfg, CONFIG, None)
    assert prov['config_sha256'] == config_hash(cfg) and len(prov['git_commit']) == 40
    assert prov['cpu_capability']


def test_update_docs_lists_a_row_whose_config_changed(tmp_path):
    run = tmp_path / 'bench' / 'run' / 'seed0'
    run.mkdir(parents=True)
    options = parse_options(['model.bbox_head.num_classes=5'])
    prov = provenance(load_config(CONFIG, options), CONFIG, options)
    record = {'coco/bbox_mAP': 0.5, 'provenance': prov}
    (run / 'metrics.json').write_text(json.dumps(record))
    doc = tmp_path / 'doc.md'
    doc.write_text('<!-- results benchmark=bench columns=AP rows=run:Run -->\n<!-- /results -->\n')
    tool = [sys.executable, osp.join(ROOT, 'benchmarks', 'update_docs.py'), '--provenance',
            '--results-dir', str(tmp_path), '--files', str(doc)]
    out = subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and 'config unchanged' in out.stdout, out.stdout + out.stderr
    prov['config_sha256'] = '0' * 16  # as if the config had changed since
    (run / 'metrics.json').write_text(json.dumps(record))
    out = subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1 and 'CONFIG CHANGED' in out.stdout, out.stdout + out.stderr
    # a rewrite of the config that trains the same, recorded with its evidence, is not a change
    current = config_hash_of(CONFIG, options)
    (tmp_path / 'config_equivalences.json').write_text(json.dumps({'equivalences': [
        {'from': ['0' * 16], 'to': current, 'why': 'renamed, same training (golden trace)'}]}))
    out = subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and 'changed in form only' in out.stdout, out.stdout + out.stderr
    assert 'golden trace' in out.stdout
    # an equivalence to another config does not cover it
    (tmp_path / 'config_equivalences.json').write_text(json.dumps({'equivalences': [
        {'from': ['0' * 16], 'to': 'f' * 16, 'why': 'another config'}]}))
    out = subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1 and 'CONFIG CHANGED' in out.stdout, out.stdout + out.stderr


def test_a_moved_config_is_current_only_if_its_new_name_resolves_to_the_recorded_hash(tmp_path):
    run = tmp_path / 'bench' / 'run' / 'seed0'
    run.mkdir(parents=True)
    options = parse_options(['model.bbox_head.num_classes=5'])
    prov = provenance(load_config(CONFIG, options), CONFIG, options)
    prov['config'] = 'configs/old_name_that_now_means_something_else.py'
    (run / 'metrics.json').write_text(json.dumps({'coco/bbox_mAP': 0.5, 'provenance': prov}))
    doc = tmp_path / 'doc.md'
    doc.write_text('<!-- results benchmark=bench columns=AP rows=run:Run -->\n<!-- /results -->\n')
    tool = [sys.executable, osp.join(ROOT, 'benchmarks', 'update_docs.py'), '--provenance',
            '--results-dir', str(tmp_path), '--files', str(doc)]
    # the old name resolves to other settings (here: another config of the repository)
    old = osp.relpath(osp.join(ROOT, 'configs/faster_rcnn/faster-rcnn_tiny-r18_fpn_shapes.py'), ROOT)
    prov['config'] = old
    (run / 'metrics.json').write_text(json.dumps({'coco/bbox_mAP': 0.5, 'provenance': prov}))
    moves = {'moves': [{'from': old, 'to': osp.relpath(CONFIG, ROOT), 'why': 'renamed'}]}
    (tmp_path / 'config_equivalences.json').write_text(json.dumps({'equivalences': [], **moves}))
    out = subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and 'changed in form only' in out.stdout, out.stdout + out.stderr
    # a move to a config with other settings does not cover it
    moves['moves'][0]['to'] = old
    (tmp_path / 'config_equivalences.json').write_text(json.dumps({'equivalences': [], **moves}))
    out = subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1 and 'CONFIG CHANGED' in out.stdout, out.stdout + out.stderr


def test_a_folded_variant_is_read_as_its_base_with_the_relocation_options(tmp_path):
    """A loss-variant file deleted in favour of its base plus ``--cfg-options``: a record made at
    the deleted path (itself first moved, a chain of two relocations) is current when the base
    with those options resolves to the recorded hash, and changed when the options differ."""
    giou = ['model.bbox_head.reg_decoded_bbox=True', 'model.bbox_head.loss_bbox.type=GIoULoss',
            'model.bbox_head.loss_bbox.loss_weight=2.0']
    run = tmp_path / 'bench' / 'run' / 'seed0'
    run.mkdir(parents=True)
    made_with = parse_options(['randomness.seed=0'])
    cfg = load_config(CONFIG, {**parse_options(giou), **made_with})
    prov = provenance(cfg, 'configs/old/retinanet_giou_shapes.py', made_with)
    (run / 'metrics.json').write_text(json.dumps({'coco/bbox_mAP': 0.5, 'provenance': prov}))
    doc = tmp_path / 'doc.md'
    doc.write_text('<!-- results benchmark=bench columns=AP rows=run:Run -->\n<!-- /results -->\n')
    tool = [sys.executable, osp.join(ROOT, 'benchmarks', 'update_docs.py'), '--provenance',
            '--results-dir', str(tmp_path), '--files', str(doc)]

    def relocate(options):
        (tmp_path / 'config_equivalences.json').write_text(json.dumps({'equivalences': [], 'relocations': [
            {'from': 'configs/old/retinanet_giou_shapes.py', 'to': 'configs/retinanet/giou.py', 'why': 'moved'},
            {'from': 'configs/retinanet/giou.py', 'to': CONFIG, 'cfg_options': options, 'why': 'folded'}]}))
        return subprocess.run(tool, capture_output=True, text=True, cwd=ROOT)

    out = relocate(giou)
    assert out.returncode == 0 and 'config unchanged' in out.stdout, out.stdout + out.stderr
    out = relocate([o.replace('GIoULoss', 'DIoULoss') for o in giou])
    assert out.returncode == 1 and 'CONFIG CHANGED' in out.stdout, out.stdout + out.stderr
