import importlib.util
import json
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location('compare_runs', osp.join(ROOT, 'tools', 'compare_runs.py'))
compare_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_runs)


def report(ap50, r_cls, r_iou=None):
    ap = {f'{t / 100:.2f}': ap50 * (1 - (t - 50) / 50) for t in range(50, 100, 5)}
    corr = {'cls_score': {'pearson': r_cls}, 'fused_score': {'pearson': r_cls}}
    if r_iou is not None:
        corr['pred_iou'] = {'pearson': r_iou}
    return dict(ap_by_iou_threshold=ap, correlation_with_true_iou=corr,
                correlation_with_true_iou_at_least_0_5=corr)


def test_table_has_a_row_per_report(tmp_path, capsys):
    paths = []
    for name, rep in (('base', report(0.4, 0.5)), ('iou', report(0.5, 0.45, 0.8))):
        paths.append(str(tmp_path / f'{name}.json'))
        with open(paths[-1], 'w') as f:
            json.dump(rep, f)
    assert compare_runs.main([*paths, '--names', 'base', 'iou']) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert lines[2].startswith('| base | ') and '| 40.0 |' in lines[2] and '| - |' in lines[2]
    assert lines[3].startswith('| iou | ') and '| 0.800 |' in lines[3]


def test_unreadable_report_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / 'bad.json'
    bad.write_text('{')
    assert compare_runs.main([str(bad)]) == 2
    assert 'not a readable localization report' in capsys.readouterr().err
