"""`make demo`: the product on real images, quietly.

Trains the tiny RetinaNet and the shipped IoU-aware RetinaNet on BCCD (blood-smear
photographs that ship with the repository) with the benchmark's own schedule, side by side,
one CPU thread each; runs both on the val and test splits; calibrates the IoU-aware model on
val (tools/calibrate.py); prints one table of what a user acts on (test split: AP, and
LRP_0 / LaECE_0 under the calibration authors' protocol: thresholds fitted on val) and draws
one test image with each box's class, calibrated score and predicted IoU.

    python tools/demo.py [--epochs N] [--work-dir work_dirs/demo] [--cfg-options ...]

Each step's full log goes to a file under the work folder; the terminal gets one line per
stage. Finished steps are reused when the demo is run again with the same work folder.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from iou_aware.utils.cli import latest_checkpoint  # noqa: E402

MODELS = (('RetinaNet', 'retinanet', 'configs/retinanet/retinanet_tiny-r18_fpn_bccd.py'),
          ('IoU-aware RetinaNet', 'iou-aware', 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_bccd.py'))
SPLIT_OPTIONS = {'test': [], 'val': ['test_dataloader.dataset.ann_file=coco/val.json',
                                     'test_evaluator.ann_file=datasets/bccd/coco/val.json']}
ANNOTATIONS = {s: f'datasets/bccd/coco/{s}.json' for s in ('val', 'test')}
CLASSES = ('RBC', 'WBC', 'Platelets')
DEMO_IMAGE = 'datasets/bccd/JPEGImages/BloodImage_00007.jpg'  # a test-split image


class StepFailed(RuntimeError):
    pass


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--epochs', type=int, default=0,
                        help="epochs per model (default 0: the benchmark's 36)")
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to every training and evaluation')
    return parser.parse_args(argv)


def start(cmd, log):
    """A tool in the background, one thread, its output in ``log``."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    f = open(log, 'w')
    return subprocess.Popen([sys.executable, *cmd], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                            env=env), log


def cfg_options(*groups):
    """``--cfg-options`` with the given items, or nothing (argparse refuses the flag alone)."""
    items = [item for group in groups for item in group]
    return ['--cfg-options', *items] if items else []


def wait(jobs):
    for proc, log in jobs:
        if proc.wait() != 0:
            with open(log) as f:
                last = [line for line in f.read().splitlines() if line.strip()][-1:]
            raise StepFailed(f'{" ".join(proc.args[1:3])} failed (exit {proc.returncode}): '
                             f'{last[0] if last else ""}; full log: {log}')


def trained_iters(work_dir):
    """The last iteration mmengine logged for a run (its scalars.json), 0 before the first."""
    from benchmarks.run_logs import latest_scalars_file
    try:
        with open(latest_scalars_file(work_dir)) as f:
            steps = [json.loads(line).get('step', 0) for line in f if '"loss"' in line]
        return max(steps, default=0)
    except (OSError, FileNotFoundError, ValueError):
        return 0


def train_both(args, schedule, total_iters):
    """Both trainings at once, one progress line every quarter (or in place on a terminal)."""
    jobs, dirs = [], {}
    for _, key, cfg in MODELS:
        work = osp.join(args.work_dir, key)
        dirs[key] = work
        if osp.isfile(osp.join(work, 'train_done')):
            continue
        os.makedirs(work, exist_ok=True)
        jobs.append(start(['tools/train.py', cfg, '--work-dir', work,
                           *cfg_options(schedule, args.cfg_options)], osp.join(work, 'train.log')))
    logs = ', '.join(log for _, log in jobs)
    if not jobs:
        print('[demo] 1/4 training: done before, reused', flush=True)
        return dirs
    begin, next_quarter, tty = time.time(), 1, sys.stdout.isatty()
    while any(p.poll() is None for p, _ in jobs):
        time.sleep(5)
        done = min(trained_iters(w) for w in dirs.values()) / max(total_iters, 1)
        elapsed = time.time() - begin
        eta = elapsed / done - elapsed if done > 0 else float('nan')
        line = (f'[demo] 1/4 training both models: {100 * done:3.0f}% '
                f'({elapsed / 60:.1f} min, ETA {eta / 60:.1f} min)')
        if tty:
            print('\r' + line, end='', flush=True)
        elif done >= next_quarter / 4:
            print(line, flush=True)
            next_quarter += 1
    if tty:
        print()
    wait(jobs)
    for w in dirs.values():
        open(osp.join(w, 'train_done'), 'w').close()
    print(f'[demo] 1/4 training: done in {(time.time() - begin) / 60:.1f} min (logs: {logs})',
          flush=True)
    return dirs


def evaluate_all(args, dirs):
    """Every model on val and test (tools/analyze_localization.py: summary and the raw
    detections), two at a time."""
    begin, jobs = time.time(), []
    for _, key, cfg in MODELS:
        ckpt = latest_checkpoint(dirs[key])
        for split, split_opts in SPLIT_OPTIONS.items():
            out = osp.join(dirs[key], split)
            if osp.isfile(osp.join(out, 'detections.npz')):
                continue
            jobs.append(start(['tools/analyze_localization.py', cfg, ckpt, '--out-dir', out,
                               *cfg_options(split_opts, args.cfg_options)],
                              osp.join(dirs[key], f'analyze_{split}.log')))
            if len(jobs) == 2:
                wait(jobs)
                jobs = []
    wait(jobs)
    print(f'[demo] 2/4 evaluation on val and test: done in {time.time() - begin:.0f} s', flush=True)


def calibrate_and_draw(args, dirs):
    """The shipped calibration of the IoU-aware model (fitted on val) and one test image."""
    key, cfg = MODELS[1][1], MODELS[1][2]
    ckpt, cal_dir = latest_checkpoint(dirs[key]), osp.join(dirs[key], 'calibration')
    begin = time.time()
    cal_cfg = osp.join(cal_dir, osp.splitext(osp.basename(cfg))[0] + '_calibrated.py')
    if not osp.isfile(cal_cfg):
        wait([start(['tools/calibrate.py', cfg, ckpt, '--out-dir', cal_dir,
                     *cfg_options(args.cfg_options)], osp.join(dirs[key], 'calibrate.log'))])
    print(f'[demo] 3/4 calibration fitted on val: {cal_cfg} ({time.time() - begin:.0f} s)',
          flush=True)
    out = osp.join(args.work_dir, 'picture')
    wait([start(['tools/image_demo.py', cal_cfg, ckpt, DEMO_IMAGE, '--out-dir', out,
                 '--score-thr', '0'], osp.join(args.work_dir, 'image_demo.log'))])
    picture = osp.join(out, 'vis', osp.basename(DEMO_IMAGE))
    print(f'[demo] 4/4 picture: {picture} (class, calibrated score | predicted IoU)', flush=True)
    return picture


def table(dirs):
    """Markdown rows from the raw detections: AP on test, and the field's calibration
    protocol (thresholds and calibrator fitted on val) for each model's shipped score."""
    from benchmarks.protocol import run_protocol
    from benchmarks.results import read_json
    rows = ['| model | AP | AP75 | AP90 | LRP_0 | LaECE_0 | LaECE_0 calibrated | LaACE_0 calibrated |',
            '|---|---:|---:|---:|---:|---:|---:|---:|']
    figures = {}
    for name, key, _ in MODELS:
        test = osp.join(dirs[key], 'test')
        ap = read_json(osp.join(test, 'summary.json'))['ap_by_iou_threshold']
        prot = run_protocol(osp.join(dirs[key], 'val', 'detections.npz'), ANNOTATIONS['val'],
                            osp.join(test, 'detections.npz'), ANNOTATIONS['test'], CLASSES)
        score = prot['by_confidence']['fused_score']
        figures[key] = dict(AP=sum(ap.values()) / len(ap), AP75=ap['0.75'], AP90=ap['0.90'],
                            protocol=score)
        pct = lambda v: f'{100 * v:.1f}'  # noqa: E731
        rows.append(f'| {name} | {pct(figures[key]["AP"])} | {pct(ap["0.75"])} | '
                    f'{pct(ap["0.90"])} | {pct(score["thresholded"]["lrp"])} | '
                    f'{pct(score["thresholded"]["laece"])} | {pct(score["isotonic"]["laece"])} | '
                    f'{pct(score["isotonic"]["laace"])} |')
    return rows, figures


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    if args.epochs < 0:
        sys.exit(f'error: --epochs must be >= 0, got {args.epochs}')
    os.makedirs(args.work_dir, exist_ok=True)
    from iou_aware.utils.cli import load_config
    from benchmarks.schedule import epoch_schedule_options
    base = load_config(MODELS[0][2])
    epochs = args.epochs or base.train_cfg.max_epochs
    schedule = epoch_schedule_options(base, epochs) if args.epochs else []
    iters = epochs * 52  # 205 training images, batch 4, aspect-ratio batches: 52 a epoch
    print(f'[demo] BCCD (real blood-smear images): RetinaNet and the shipped IoU-aware '
          f'RetinaNet, {epochs} epochs each, side by side, one thread each; logs under '
          f'{args.work_dir}', flush=True)
    begin = time.time()
    try:
        dirs = train_both(args, schedule, iters)
        evaluate_all(args, dirs)
        picture = calibrate_and_draw(args, dirs)
        rows, figures = table(dirs)
    except StepFailed as exc:
        sys.exit(f'[demo] error: {exc}')
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(figures, f, indent=2, sort_keys=True)
    print(f'\n[demo] BCCD test split, each model\'s shipped score (in %; LRP_0 and LaECE_0: '
          'lower is better; thresholds and calibration fitted on val):')
    print('\n'.join(rows))
    print('\nThe IoU-aware score is cls x predicted IoU, the expected IoU of the box; '
          'calibrated (tools/calibrate.py), it is the IoU you can expect.')
    print(f'[demo] done in {(time.time() - begin) / 60:.1f} min; picture: {picture}; '
          f'figures: {osp.join(args.work_dir, "summary.json")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
