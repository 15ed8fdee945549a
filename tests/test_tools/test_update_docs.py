"""Tables in the docs are generated from benchmarks/results and checked to be current."""
import json

from .tool_helpers import load_tool

update_docs = load_tool('benchmarks/update_docs.py')


def test_block_is_rendered_from_results_and_check_detects_staleness(tmp_path, capsys):
    for seed, ap in enumerate([0.30, 0.34]):
        d = tmp_path / 'res' / 'bench' / 'run_a' / f'seed{seed}'
        d.mkdir(parents=True)
        (d / 'metrics.json').write_text(json.dumps({'coco/bbox_mAP': ap, 'coco/bbox_mAP_75': ap / 2}))
    doc = tmp_path / 'doc.md'
    doc.write_text('before\n<!-- results benchmark=bench columns=AP,AP75 rows=run_a:Model_A -->\n'
                   'old\n<!-- /results -->\nafter\n')
    args = ['--results-dir', str(tmp_path / 'res'), '--files', str(doc)]
    assert update_docs.main(args + ['--check']) == 1
    assert update_docs.main(args) == 0
    text = doc.read_text()
    assert '| Model A (2 seeds) | 32.0 ± 2.8 | 16.0 ± 1.4 |' in text
    assert text.startswith('before\n') and text.endswith('<!-- /results -->\nafter\n')
    assert update_docs.main(args + ['--check']) == 0


def test_repository_docs_are_current():
    assert update_docs.main(['--check']) == 0
