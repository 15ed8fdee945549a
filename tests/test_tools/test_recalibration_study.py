"""benchmarks/analysis/recalibration_study.py on analyses written by the real report writer: it finds the
detections behind a committed summary, refuses ones that do not reproduce it, and its
figures reach the results tables."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest

from benchmarks import results
from iou_aware.analysis.report import build_report, read_detections, write_report

from .tool_helpers import one_error_line, run_tool

CLASSES = ('a', 'b')


def analysis(out_dir, shift, seed=0, images=30):
    """One analysis folder (summary.json + detections.csv) of a synthetic detector: per
    image one 10x10 object and 8 detections cut to known heights (true IoU = height / 10)
    plus a wrong-class one (IoU 0), each predicting its true IoU + ``shift``."""
    from pycocotools.coco import COCO
    rng = np.random.default_rng(seed)
    anns, preds = [], []
    for img in range(1, images + 1):
        x = y = 10.0 * (img % 20)
        anns.append(dict(id=img, image_id=img, category_id=10, bbox=[x, y, 10, 10], area=100,
                         iscrowd=0))
        heights = rng.uniform(1, 10, 8)
        boxes = [[x, y, x + 10, y + h] for h in heights] + [[x, y, x + 10, y + 10]]
        pred_iou = np.clip(np.append(heights / 10, 0.0) + shift, 0, 1)
        preds.append(dict(img_id=img, pred_instances=dict(
            bboxes=np.array(boxes), labels=np.array([0] * 8 + [1]),
            scores=np.append(heights / 10, 0.3), cls_scores=np.append(heights / 10, 0.3),
            pred_ious=pred_iou)))
    coco = COCO()
    coco.dataset = dict(images=[dict(id=i, width=300, height=300, file_name=f'{i}.png')
                                for i in range(1, images + 1)],
                        annotations=anns,
                        categories=[dict(id=10 + k, name=n) for k, n in enumerate(CLASSES)])
    coco.createIndex()
    report, dets = build_report(preds, coco, CLASSES)
    write_report(report, dets, str(out_dir))
    return report


@pytest.fixture
def benchmark(tmp_path):
    """benchmarks/results-like tree with seeds 0 and 1 of run 'm', and run_benchmark-like work
    folders holding each seed's analysis (plus a decoy analysis of another evaluation)."""
    res, work = tmp_path / 'results', tmp_path / 'work'
    for seed in (0, 1):
        eval_dir = work / 'bench' / 'm' / f'seed{seed}' / 'eval' / 'bench'
        report = analysis(eval_dir / 'm' / 'analysis', shift=0.25, seed=seed)
        analysis(eval_dir / 'm_decoy' / 'analysis', shift=0.1, seed=seed)
        (res / 'bench' / 'm' / f'seed{seed}').mkdir(parents=True)
        results.write_json(report, str(res / 'bench' / 'm' / f'seed{seed}' / results.SUMMARY))
    return res, work


def study(res, work, *extra):
    return run_tool('benchmarks/analysis/recalibration_study.py', '--benchmark', 'bench', '--runs', 'm',
                    '--results-dir', str(res), '--detections-root', str(work), *extra)


def test_benchmark_mode_writes_each_seeds_report_from_its_own_detections(benchmark):
    res, work = benchmark
    out = study(res, work)
    assert out.returncode == 0, out.stderr
    for seed in (0, 1):
        seed_dir = res / 'bench' / 'm' / f'seed{seed}'
        assert f'seed{seed}/eval/bench/m/analysis/detections.csv' in out.stdout  # not the decoy
        report = json.loads((seed_dir / results.RECALIBRATION).read_text())
        summary = json.loads((seed_dir / results.SUMMARY).read_text())
        # 'before' is the committed summary's calibration, recomputed from the detections
        assert report['before']['ece'] == pytest.approx(
            summary['expected_calibration_error']['value'], abs=1e-4)
        assert report['before']['ece_all'] > 0.2  # shifted by 0.25
        assert report['isotonic']['ece_all'] < 0.05
        row = results.load_run(str(seed_dir))  # the tables' reader sees the new columns
        assert row['ece_all_iso'] == report['isotonic']['ece_all']
    assert '| m (2 seeds) |' in out.stdout


def test_detections_that_do_not_reproduce_the_summary_are_refused(benchmark):
    res, work = benchmark
    shutil.rmtree(work / 'bench' / 'm' / 'seed1' / 'eval' / 'bench' / 'm')  # only the decoy left
    line = one_error_line(study(res, work))
    assert 'no detections.csv reproduces the committed summary' in line
    assert not (res / 'bench' / 'm' / 'seed1' / results.RECALIBRATION).exists()


def test_a_seed_without_detections_is_an_error_or_reported_when_allowed(benchmark):
    res, work = benchmark
    shutil.rmtree(work / 'bench' / 'm' / 'seed1')
    assert 'no detections.csv under' in one_error_line(study(res, work))
    out = study(res, work, '--allow-missing')
    assert out.returncode == 0, out.stderr
    assert 'm/seed1: left out: no detections.csv' in out.stderr
    assert '(1/2 seeds)' in out.stdout  # the table says the figure holds for one seed


def test_single_mode_on_an_analysis_folder(tmp_path):
    analysis(tmp_path / 'a', shift=0.25)
    out = run_tool('benchmarks/analysis/recalibration_study.py', str(tmp_path / 'a'))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / 'a' / results.RECALIBRATION).read_text())
    assert report['of'] == 'pred_iou' and report['n'] == 30 * 9
    assert '| pred_iou |' in out.stdout


def test_a_file_that_is_not_a_detections_table_is_refused(tmp_path):
    bad = tmp_path / 'detections.csv'
    bad.write_text('a,b\n1,2\n')
    assert 'not a detections.csv' in one_error_line(run_tool('benchmarks/analysis/recalibration_study.py', str(bad)))


def test_read_detections_returns_what_write_report_wrote(tmp_path):
    report = analysis(tmp_path, shift=0.0, images=3)
    dets = read_detections(osp.join(tmp_path, 'detections.csv'))
    assert len(dets['img_id']) == report['num_detections'] == 27
    assert set(np.unique(dets['img_id'])) == {1, 2, 3}
    assert (dets['true_iou'] > 0).sum() == report['num_matched']
