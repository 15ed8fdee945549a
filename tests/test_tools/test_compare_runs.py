import importlib.util
import json
import os.path as osp

import pytest

from benchmarks import results

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(name):
    spec = importlib.util.spec_from_file_location(osp.basename(name), osp.join(ROOT, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare_runs = _tool('benchmarks/analysis/compare_runs')


def summary(ap50, r_cls, r_iou=None, ece=None):
    ap = {f'{t / 100:.2f}': ap50 * (1 - (t - 50) / 50) for t in range(50, 100, 5)}
    corr = {'cls_score': {'pearson': r_cls}, 'fused_score': {'pearson': r_cls}}
    if r_iou is not None:
        corr['pred_iou'] = {'pearson': r_iou}
    return dict(ap_by_iou_threshold=ap, correlation_with_true_iou=corr, num_matched=10,
                correlation_with_true_iou_at_least_0_5=corr,
                expected_calibration_error=dict(value=ece) if ece is not None else None)


def test_table_has_a_row_per_run_and_seeds_are_aggregated(tmp_path, capsys):
    base = tmp_path / 'base.json'
    base.write_text(json.dumps(summary(0.4, 0.5)))
    for seed, (ap50, r) in enumerate([(0.5, 0.7), (0.6, 0.9)]):
        folder = tmp_path / 'iou' / f'seed{seed}'
        folder.mkdir(parents=True)
        (folder / 'summary.json').write_text(json.dumps(summary(ap50, 0.45, r, ece=0.1 * seed)))
    assert compare_runs.main([str(base), str(tmp_path / 'iou'), '--names', 'base', 'iou',
                              '--columns', 'AP50', 'r_iou_gt0', 'ece']) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == '| run | AP50 | r pred IoU (IoU>0) | ECE |'
    assert lines[2] == '| base | 40.0 | - | - |'
    # mean ± sample sd over the two seeds: AP50 55.0 ± 7.1, r 0.800 ± 0.141, ECE 0.050 ± 0.071
    assert lines[3] == '| iou (2 seeds) | 55.0 ± 7.1 | 0.800 ± 0.141 | 0.050 ± 0.071 |'


def test_metrics_json_overrides_the_analysis_ap(tmp_path):
    (tmp_path / 'summary.json').write_text(json.dumps(summary(0.4, 0.5)))
    (tmp_path / 'metrics.json').write_text(json.dumps({'coco/bbox_mAP': 0.3, 'coco/bbox_mAP_50': 0.45,
                                                       'coco/RBC_precision': 0.2}))
    row = results.load_run(str(tmp_path))
    assert row['AP'] == 0.3 and row['AP50'] == 0.45 and row['AP_RBC'] == 0.2
    assert row['AP75'] == summary(0.4, 0.5)['ap_by_iou_threshold']['0.75']


def test_unreadable_results_are_one_clear_error(tmp_path, capsys):
    bad = tmp_path / 'summary.json'
    bad.write_text('{')
    assert compare_runs.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'not valid JSON' in err
    (tmp_path / 'summary.json').write_text('{}')
    assert compare_runs.main([str(bad)]) == 2
    assert 'not a localization summary' in capsys.readouterr().err


def test_epoch_schedule_options_find_the_epoch_schedulers():
    from mmengine.config import Config

    from benchmarks.schedule import epoch_schedule_options
    cfg = Config(dict(train_cfg=dict(max_epochs=12), param_scheduler=[
        dict(type='LinearLR', by_epoch=False, begin=0, end=300),
        dict(type='MultiStepLR', by_epoch=True, begin=0, end=12, milestones=[8, 11]),
        dict(type='CosineAnnealingLR', begin=0, end=12, T_max=12, by_epoch=True)]))
    assert epoch_schedule_options(cfg, 6) == [
        'train_cfg.max_epochs=6', 'train_cfg.val_interval=6', 'param_scheduler.1.end=6',
        'param_scheduler.2.end=6', 'param_scheduler.2.T_max=6']


def test_row_labels_count_seeds_in_singular_and_plural():
    # One helper names rows for run_benchmark, compare_runs and the README/docs generator.
    assert results.seeds_label('RetinaNet', 1) == 'RetinaNet (1 seed)'
    assert results.seeds_label('RetinaNet', 3) == 'RetinaNet (3 seeds)'


def test_a_figure_only_some_seeds_hold_says_how_many(tmp_path, capsys):
    """Summaries older than the all-detections ECE lack it: the cell gives the mean of the
    seeds that hold it and says so, instead of passing it off as the row's mean."""
    ece_all = [None, 0.2, 0.3]
    for seed, value in enumerate(ece_all):
        folder = tmp_path / 'run' / f'seed{seed}'
        folder.mkdir(parents=True)
        data = summary(0.5, 0.6, ece=0.1)
        if value is not None:
            data['expected_calibration_error_all_detections'] = dict(value=value)
        (folder / 'summary.json').write_text(json.dumps(data))
    assert compare_runs.main([str(tmp_path / 'run'), '--names', 'run',
                              '--columns', 'ece', 'ece_all']) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == '| run | ECE | ECE (all dets) |'
    # 0.25 ± 0.071 over seeds 1-2 (sample sd of 0.2, 0.3)
    assert lines[2] == '| run (3 seeds) | 0.100 ± 0.000 | 0.250 ± 0.071 (2/3 seeds) |'


def test_reliability_figure_is_drawn_from_summaries_alone(tmp_path, capsys):
    from iou_aware.analysis import calibration_table
    plot = _tool('benchmarks/analysis/plot_reliability')
    pred, true = [0.05, 0.15, 0.55, 0.95], [0.2, 0.1, 0.5, 0.9]
    data = summary(0.5, 0.6, ece=0.1)
    data.update(calibration=calibration_table(pred, true), calibration_of='pred_iou',
                calibration_all_detections=calibration_table(pred + [0.9], true + [0.0]),
                expected_calibration_error_all_detections=dict(value=0.2))
    (tmp_path / 'seed0').mkdir()
    (tmp_path / 'seed0' / 'summary.json').write_text(json.dumps(data))
    out = tmp_path / 'fig' / 'r.png'
    assert plot.main([str(tmp_path / 'seed0'), '--labels', 'A', '--out', str(out)]) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # a summary without a calibration table is one clear error, not a traceback
    bad = tmp_path / 'old.json'
    bad.write_text(json.dumps(summary(0.5, 0.6)))
    assert plot.main([str(bad), '--out', str(tmp_path / 'x.png')]) == 2
    assert 'no calibration table' in capsys.readouterr().err
    assert not (tmp_path / 'x.png').exists()


def test_run_benchmark_refuses_a_seed_the_run_does_not_list(tmp_path, capsys, monkeypatch):
    # Asking for a seed a run does not list used to skip the run without a word; it must
    # stop before training anything and name the run, its seeds and the file to edit.
    run_benchmark = _tool('benchmarks/run_benchmark')
    spec = tmp_path / 'b.json'
    spec.write_text(json.dumps(dict(name='b', seeds=[0, 1, 2], splits={'b': 'val'}, runs=dict(
        a=dict(config='c.py'), b=dict(config='c.py', seeds=[0])))))
    trained = []
    monkeypatch.setattr(run_benchmark, 'train', lambda *a: trained.append(a))
    try:
        run_benchmark.main([str(spec), '--runs', 'a', 'b', '--seeds', '1',
                            '--results-dir', str(tmp_path)])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError('run_benchmark accepted a seed run b does not list')
    err = capsys.readouterr().err
    assert "run 'b' lists seeds [0], not 1" in err and str(spec) in err
    assert trained == []


def test_rank_columns_read_the_spearman_figures(tmp_path):
    s = summary(0.4, 0.5, r_iou=0.6)
    s['correlation_with_true_iou']['pred_iou']['spearman'] = 0.35
    s['correlation_with_true_iou']['cls_score']['spearman'] = 0.25
    (tmp_path / 'summary.json').write_text(json.dumps(s))
    row = results.load_run(str(tmp_path))
    assert (row['r_iou_gt0'], row['rho_iou_gt0'], row['rho_cls_gt0']) == (0.6, 0.35, 0.25)
    assert row['rho_iou_ge05'] == 0.35  # the fixture uses one table for both subsets


def test_a_recalibration_report_alone_is_not_a_run(tmp_path):
    figures = dict(ece=0.2, ece_all=0.01, r_gt0=0.5, r_ge05=0.6)
    (tmp_path / results.RECALIBRATION).write_text(json.dumps(
        dict(before=figures, isotonic=figures, logit_linear=figures)))
    with pytest.raises(results.ResultsError, match='none of summary.json'):
        results.load_run(str(tmp_path))


def test_a_seed_folder_still_being_written_is_reported_not_fatal_when_asked(tmp_path):
    """Two benchmark processes sharing a results folder: one prints its table while the
    other has made a seed folder but written nothing yet."""
    done = tmp_path / 'shapes' / 'atss' / 'seed0'
    done.mkdir(parents=True)
    (done / 'train.json').write_text(json.dumps({'sec_per_iter': 0.25}))
    (tmp_path / 'shapes' / 'atss' / 'seed1').mkdir()
    (tmp_path / 'shapes' / 'gfl' / 'seed0').mkdir(parents=True)
    with pytest.raises(results.ResultsError, match='seed1'):
        results.load_benchmark(str(tmp_path), 'shapes')
    pending = []
    found = results.load_benchmark(str(tmp_path), 'shapes', pending=pending)
    assert list(found) == ['atss'] and list(found['atss']) == [0]
    assert sorted(osp.relpath(p, tmp_path) for p in pending) == [
        osp.join('shapes', 'atss', 'seed1'), osp.join('shapes', 'gfl', 'seed0')]
    # a folder with a results file that cannot be read is an error, pending or not
    (tmp_path / 'shapes' / 'gfl' / 'seed0' / 'metrics.json').write_text('{not json')
    with pytest.raises(results.ResultsError):
        results.load_benchmark(str(tmp_path), 'shapes', pending=[])


def test_protocol_columns_name_confidence_stage_and_metric_with_lrp_components(tmp_path):
    figures = dict(laece=0.1, laace=0.2, lrp=0.4, lrp_loc=0.22, lrp_fp=0.13, lrp_fn=0.14)
    oracle = dict(figures, lrp=0.23, lrp_fp=0.03)
    report = dict(by_confidence=dict(fused_score=dict(thresholded=figures, isotonic=dict(laece=0.05)),
                                     oracle_true_iou=dict(thresholded=oracle)))
    (tmp_path / 'train.json').write_text(json.dumps({'sec_per_iter': 0.3}))
    (tmp_path / results.PROTOCOL).write_text(json.dumps(report))
    row = results.load_run(str(tmp_path))
    assert (row['lrp0_thr_score'], row['lrploc0_thr_score'], row['lrpfp0_thr_score'],
            row['lrpfn0_thr_score']) == (0.4, 0.22, 0.13, 0.14)
    assert (row['lrp0_thr_oracle'], row['lrpfp0_thr_oracle']) == (0.23, 0.03)
    assert row['laece0_iso_score'] == 0.05 and 'laace0_iso_score' not in row
    assert results.markdown_table([('m', row)], ['lrpfp0_thr_score']).splitlines()[2] == '| m | 13.0 |'
    with pytest.raises(results.ResultsError, match='by_confidence'):
        results.flatten_protocol({}, 'protocol.json')


def test_gap_closed_is_the_share_of_the_cls_to_oracle_distance_per_seed():
    def conf(lrp, laace):
        return dict(thresholded=dict(lrp=lrp), isotonic=dict(laace=laace))
    report = dict(by_confidence=dict(cls_score=conf(0.40, 0.20), fused_score=conf(0.36, 0.21),
                                     oracle_true_iou=conf(0.24, 0.02)))
    row = results.flatten_protocol(report)
    # LRP_0: (40 - 36) / (40 - 24) = 1/4; LaACE_0 got worse: (20 - 21) / (20 - 2) = -1/18
    assert row['lrpgap0_score'] == pytest.approx(0.25)
    assert row['laacegap0_score'] == pytest.approx(-1 / 18)
    assert 'lrpgap0_iou' not in row  # no such confidence in the report
    assert results.markdown_table([('m', row)], ['lrpgap0_score']).splitlines()[2] == '| m | 25.0 |'
    # no oracle, or an oracle no better than cls: nothing to close, no column
    del report['by_confidence']['oracle_true_iou']
    assert 'lrpgap0_score' not in results.flatten_protocol(report)
    report['by_confidence']['oracle_true_iou'] = conf(0.45, 0.30)
    assert 'lrpgap0_score' not in results.flatten_protocol(report)
