"""Does a MetaDetect-style post-hoc quality estimate (cluster evidence -> gradient-boosted
regressor fitted on val; ``benchmarks/studies/meta_quality.py``) know more per detection than
the detector's own score? The authors' protocol for each confidence, per seed.

    python benchmarks/analysis/meta_quality.py --benchmark bccd --run retinanet \\
        [--seeds 0 1 2] [--work-dir work_dirs/benchmarks] [--out result.json]

For each seed it takes the run's checkpoint from ``benchmarks/run_benchmark.py``'s work dir
(training it there first if it is missing), dumps the final detections of val and test with
their evidence (``dump_evidence.py``; kept under WORK_DIR/meta_quality/), fits on val and
reports on test: the detector's score, the meta estimate, and the oracle (each box's true IoU).
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from benchmarks import results  # noqa: E402
from benchmarks.studies import meta_quality as mq  # noqa: E402
from benchmarks.protocol import confidence_entry, load_split  # noqa: E402
from benchmarks.scripts import load_script  # noqa: E402

FIGURES = (('lrp0_thr', 'thresholded', 'lrp'), ('laece0_thr', 'thresholded', 'laece'),
           ('laece0_iso', 'isotonic', 'laece'), ('laace0_iso', 'isotonic', 'laace'))


def evidence_files(bench, spec, run, seed, work_dir, threads):
    """(val npz, test npz) of one seed, dumped from its checkpoint (trained if missing)."""
    out = osp.join(work_dir, 'meta_quality', run, f'seed{seed}')
    files = {split: osp.join(out, f'{split}.npz') for split in ('val', 'test')}
    if all(osp.isfile(f) for f in files.values()):
        return files['val'], files['test']
    _, ckpt = bench.train(spec, run, seed, argparse.Namespace(work_dir=work_dir, threads=threads))
    os.makedirs(out, exist_ok=True)
    dump = load_script('benchmarks/analysis/dump_evidence.py')
    config = bench.training_config(spec, run)[1]['config']
    val_options = spec['splits'][f"{spec['name']}-val"]
    for split, options in (('val', val_options), ('test', [])):
        extra = ['--cfg-options', *options] if options else []
        dump.main([config, ckpt, '--out', files[split], '--threads', str(threads), *extra])
    return files['val'], files['test']


def seed_report(val_npz, test_npz, val_ann, test_ann, classes):
    n = len(classes)
    (dv, gv), (dt, gt) = load_split(val_npz, val_ann, classes), load_split(test_npz, test_ann, classes)
    xv = mq.features(dv, np.load(val_npz)['evidence'], n)
    xt = mq.features(dt, np.load(test_npz)['evidence'], n)
    yv, yt = mq.field_target(dv, gv, n), mq.field_target(dt, gt, n)
    meta_val, meta_test = mq.fit_predict(xv, yv, dv['img_id'], xt)
    scores = {'score': (dv['fused_score'], dt['fused_score']), 'meta': (meta_val, meta_test),
              'oracle_true_iou': (dv['true_iou'], dt['true_iou'])}
    from scipy.stats import spearmanr
    matched = yt > 0
    out = {}
    for name, (sv, st) in scores.items():
        sv, st = np.clip(sv, 0, 1), np.clip(st, 0, 1)
        entry = confidence_entry((dv, gv, sv), (dt, gt, st), n)
        out[name] = dict({key: entry[stage][fig] for key, stage, fig in FIGURES},
                         mse_field_target=float(np.mean((st - yt) ** 2)),
                         rho_matched=float(spearmanr(st[matched], yt[matched])[0]))
    return out


def main(argv=None):
    calib = load_script('benchmarks/analysis/calibration_protocol.py')
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--benchmark', required=True,
                        choices=sorted(k for k, v in calib.ANNOTATIONS.items() if v[0]))
    parser.add_argument('--run', required=True)
    parser.add_argument('--seeds', nargs='+', type=int)
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'benchmarks'))
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out')
    args = parser.parse_args(argv)
    bench = load_script('benchmarks/run_benchmark.py')
    spec = bench.load_spec(osp.join(ROOT, 'benchmarks', 'specs', f'{args.benchmark}.json'))
    if args.run not in spec['runs']:
        parser.error(f'--run: {args.run!r} is not a run of {args.benchmark} '
                     f'({", ".join(sorted(spec["runs"]))})')
    val_ann, test_ann, classes = calib.ANNOTATIONS[args.benchmark]
    seeds = args.seeds or bench.run_seeds(spec, args.run)
    per_seed = {}
    for seed in seeds:
        val, test = evidence_files(bench, spec, args.run, seed, args.work_dir, args.threads)
        per_seed[f'seed{seed}'] = seed_report(val, test, osp.join(ROOT, val_ann),
                                              osp.join(ROOT, test_ann), classes)
    report = dict(benchmark=args.benchmark, run=args.run, regressor=mq.REGRESSOR, folds=mq.FOLDS,
                  features='cluster evidence (box_quality/evidence.py) + one-hot class',
                  per_seed=per_seed)
    names = next(iter(per_seed.values()))
    print(f'{args.benchmark} {args.run}, test, {len(seeds)} seeds (mean ± sd, %):')
    print('| confidence | ' + ' | '.join(k for k, _, _ in FIGURES) + ' | rho matched |')
    for name in names:
        cells = []
        for key in [k for k, _, _ in FIGURES] + ['rho_matched']:
            v = np.array([per_seed[s][name][key] for s in per_seed])
            scale = 1 if key == 'rho_matched' else 100
            cells.append(f'{scale * v.mean():.{3 if scale == 1 else 1}f} ± '
                         f'{scale * (v.std(ddof=1) if len(v) > 1 else 0):.{3 if scale == 1 else 1}f}')
        print(f'| {name} | ' + ' | '.join(cells) + ' |')
    if args.out:
        results.write_json(report, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
