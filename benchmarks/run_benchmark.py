"""Run a benchmark: train every (run, seed), evaluate, analyse, keep the evidence, print
the table.

    python benchmarks/run_benchmark.py benchmarks/specs/bccd.json [--runs NAME ...]
        [--seeds K ...] [--work-dir work_dirs/benchmarks] [--results-dir benchmarks/results]
        [--table-only] [--verify]

A benchmark file names its runs (a config and optional ``cfg_options``, or ``eval_of``
another run to re-evaluate that run's checkpoints with other test-time options), the
seeds, and the splits to evaluate (each a results folder, e.g. ``bccd`` = the test split,
``bccd-val`` = val). For each (run, seed) it trains with ``tools/train.py`` (seed
``randomness.seed=k``; an interrupted training is resumed exactly), then for each split
runs ``tools/test.py --metrics-json`` and ``tools/analyze_localization.py`` and writes

    <results-dir>/<split folder>/<run>/seed<k>/{metrics,summary,train}.json

(small files, committed; checkpoints stay under --work-dir). Every run uses --threads CPU
threads (default 1), so results do not depend on the machine's core count. Steps whose outputs exist are
skipped, so the command can be rerun after an interruption or with more seeds. Finally
it prints the table of every run (mean ± sd over seeds) from the results files alone.
``--verify`` retrains the selected runs from scratch and says whether each committed
metrics.json reproduces.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the lab is not installed: run from a checkout

from benchmarks import results  # noqa: E402
from iou_aware.utils.cli import latest_checkpoint  # noqa: E402

DEFAULT_COLUMNS = ['AP', 'AP50', 'AP75', 'AP90', 'r_iou_ge05', 'r_cls_ge05', 'r_iou_gt0',
                   'r_cls_gt0', 'ece', 'sec_per_iter']


def load_spec(path):
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, ValueError) as exc:
        sys.exit(f'error: cannot read benchmark file {path}: {exc}')
    for key in ('name', 'runs', 'seeds', 'splits'):
        if key not in spec:
            sys.exit(f'error: benchmark file {path} has no {key!r}')
    for name, run in spec['runs'].items():
        if ('config' in run) == ('eval_of' in run):
            sys.exit(f'error: run {name!r} in {path} needs exactly one of "config", "eval_of"')
        if 'eval_of' in run and run['eval_of'] not in spec['runs']:
            sys.exit(f'error: run {name!r} in {path}: eval_of {run["eval_of"]!r} is not a run')
    return spec


def run_seeds(spec, name):
    """The seeds a run lists, else the benchmark's."""
    return spec['runs'][name].get('seeds', spec['seeds'])


def call(cmd, log, threads):
    print(f'[benchmark] $ {" ".join(cmd[1:])}  (log: {log})', flush=True)
    # A fixed thread count: CPU kernels may sum in another order with another count, and
    # one thread per run keeps a busy machine from stalling OpenMP's synchronization.
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with open(log, 'a') as f:
        done = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        with open(log) as f:
            tail = f.read()[-2000:]
        sys.exit(f'error: step failed (exit {done.returncode}); end of {log}:\n{tail}')


def training_config(spec, name):
    run = spec['runs'][name]
    while 'eval_of' in run:
        name = run['eval_of']
        run = spec['runs'][name]
    return name, run


def train(spec, name, seed, args):
    base, run = training_config(spec, name)
    work_dir = osp.join(args.work_dir, spec['name'], base, f'seed{seed}')
    done_marker = osp.join(work_dir, 'train_done.json')
    if osp.isfile(done_marker):
        return work_dir, latest_checkpoint(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    cmd = [sys.executable, 'tools/train.py', run['config'], '--work-dir', work_dir,
           '--cfg-options', f'randomness.seed={seed}', *run_options(run, seed, args)]
    if latest_checkpoint(work_dir):
        cmd.insert(3, '--resume')
    start = time.time()
    call(cmd, osp.join(work_dir, 'train.log'), args.threads)
    from benchmarks.run_logs import read_run_summary
    summary = read_run_summary(work_dir)
    stats = dict(sec_per_iter=summary['sec_per_iter'], iters=summary['iters'],
                 wall_s=round(time.time() - start, 1), config=run['config'],
                 cfg_options=run_options(run, seed, args), seed=seed, threads=args.threads,
                 provenance=training_provenance(run, seed, args))
    results.write_json(stats, done_marker)
    return work_dir, latest_checkpoint(work_dir)


def run_options(run, seed, args):
    """A run's cfg_options with ``{seed}`` and ``{work_dir}`` filled in (a retrofit run names
    the checkpoint of another run's same seed)."""
    return [o.replace('{seed}', str(seed)).replace('{work_dir}', args.work_dir)
            for o in run.get('cfg_options', [])]


def training_provenance(run, seed, args):
    from benchmarks.provenance import parse_options, provenance
    from iou_aware.utils.cli import load_config
    items = run_options(run, seed, args)
    options = parse_options(items) if items else None
    return provenance(load_config(run['config'], options), run['config'], options)


def evaluate(spec, name, seed, work_dir, ckpt, args):
    base, run = training_config(spec, name)
    options = [f'randomness.seed={seed}', *run_options(run, seed, args)]
    options += run_options(spec['runs'][name], seed, args) if name != base else []
    for folder, split_options in spec['splits'].items():
        out = results.run_dir(args.results_dir, folder, name, seed)
        os.makedirs(out, exist_ok=True)
        eval_dir = osp.join(work_dir, 'eval', folder, name)
        os.makedirs(eval_dir, exist_ok=True)
        opts = ['--cfg-options', *options, *split_options]
        metrics = osp.join(out, results.METRICS)
        if not osp.isfile(metrics):
            call([sys.executable, 'tools/test.py', run['config'], ckpt, '--work-dir', eval_dir,
                  '--metrics-json', metrics, *opts], osp.join(eval_dir, 'test.log'), args.threads)
        summary = osp.join(out, results.SUMMARY)
        if not osp.isfile(summary):
            analysis = osp.join(eval_dir, 'analysis')
            call([sys.executable, 'tools/analyze_localization.py', run['config'], ckpt,
                  '--out-dir', analysis, *opts], osp.join(eval_dir, 'analyze.log'), args.threads)
            shutil.copy(osp.join(analysis, results.SUMMARY), summary)
            shutil.copy(osp.join(analysis, results.RAW_DETECTIONS), osp.join(out, results.RAW_DETECTIONS))
        shutil.copy(osp.join(work_dir, 'train_done.json'), osp.join(out, results.TRAIN))


def verify(spec, name, seed, args):
    """Retrain (run, seed) from scratch in a separate work folder and compare its test
    metrics with the committed metrics.json of every split: True when all reproduce."""
    base, run = training_config(spec, name)
    fresh = argparse.Namespace(**vars(args))
    fresh.work_dir = osp.join(args.work_dir, 'verify')
    work_dir, ckpt = train(spec, name, seed, fresh)
    options = [f'randomness.seed={seed}', *run_options(run, seed, args)]
    options += run_options(spec['runs'][name], seed, args) if name != base else []
    same = True
    for folder, split_options in spec['splits'].items():
        committed = osp.join(results.run_dir(args.results_dir, folder, name, seed), results.METRICS)
        if not osp.isfile(committed):
            print(f'[verify] {folder}/{name}/seed{seed}: no committed {results.METRICS}')
            same = False
            continue
        eval_dir = osp.join(work_dir, 'eval', folder, name)
        os.makedirs(eval_dir, exist_ok=True)
        got_path = osp.join(eval_dir, 'verify_' + results.METRICS)
        call([sys.executable, 'tools/test.py', run['config'], ckpt, '--work-dir', eval_dir,
              '--metrics-json', got_path, '--cfg-options', *options, *split_options],
             osp.join(eval_dir, 'test.log'), args.threads)
        want = results.flatten_metrics(results.read_json(committed), committed)
        got = results.flatten_metrics(results.read_json(got_path), got_path)
        moved = {k: (want[k], got.get(k)) for k in want if got.get(k) != want[k]}
        same &= not moved
        print(f'[verify] {folder}/{name}/seed{seed}: ' + (
            'reproduces (every metric equal)' if not moved else 'DIFFERS: ' + ', '.join(
                f'{k} {100 * w:.1f} -> {"-" if g is None else f"{100 * g:.1f}"}'
                for k, (w, g) in moved.items())), flush=True)
    return same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('spec', help='benchmark file (benchmarks/specs/*.json)')
    parser.add_argument('--runs', nargs='+', help='only these runs (default: all)')
    parser.add_argument('--seeds', nargs='+', type=int, help='only these seeds')
    parser.add_argument('--work-dir', default='work_dirs/benchmarks',
                        help='checkpoints and logs')
    parser.add_argument('--results-dir', default='benchmarks/results', help='the evidence folder')
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU threads per run (OMP_NUM_THREADS; default 1, as every '
                        'committed result)')
    parser.add_argument('--table-only', action='store_true',
                        help='print the table from the results files; run nothing')
    parser.add_argument('--columns', nargs='+', default=None)
    parser.add_argument('--verify', action='store_true',
                        help='retrain the selected runs from scratch (under WORK_DIR/verify) '
                        'and report whether their committed metrics reproduce; exit 1 if not')
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    names = args.runs or list(spec['runs'])
    unknown = [n for n in names if n not in spec['runs']]
    if unknown:
        parser.error(f'unknown run(s) {unknown}; {args.spec} has {list(spec["runs"])}')
    if args.seeds is not None and not args.table_only:
        # a seed a run does not list would otherwise be skipped without a word
        missing = [(n, s, run_seeds(spec, n)) for n in names
                   for s in args.seeds if s not in run_seeds(spec, n)]
        if missing:
            parser.error('--seeds: ' + '; '.join(
                f'run {n!r} lists seeds {listed}, not {s}' for n, s, listed in missing)
                + f'; add the seed to the run\'s "seeds" in {args.spec}')
    if args.verify:
        trained = [n for n in names if 'eval_of' not in spec['runs'][n]]
        ok = all([verify(spec, n, s, args) for n in trained for s in run_seeds(spec, n)
                  if args.seeds is None or s in args.seeds])
        return 0 if ok else 1
    if not args.table_only:
        for name in names:
            seeds = run_seeds(spec, name)
            for seed in (s for s in seeds if args.seeds is None or s in args.seeds):
                work_dir, ckpt = train(spec, name, seed, args)
                evaluate(spec, name, seed, work_dir, ckpt, args)
    columns = args.columns or spec.get('columns', DEFAULT_COLUMNS)
    for folder in spec['splits']:
        pending = []  # another benchmark process may be writing into the same folder
        found = results.load_benchmark(args.results_dir, folder, pending=pending)
        rows = [(results.seeds_label(n, len(found[n])), results.aggregate(list(found[n].values())))
                for n in names if n in found]
        print(f'\n{spec["name"]}: {folder} (mean ± sd over seeds; AP in %)\n'
              + results.markdown_table(rows, columns))
        for path in pending:
            print(f'not in the table: {path} has no results file yet (still being written?)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
