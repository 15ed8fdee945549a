"""Both detectors end to end on a GPU: set up, train, evaluate, time; one table.

    python tools/gpu/gpu_e2e.py [--bundle .gpu-bundle] [--epochs 12] [--jobs 16]
    python tools/gpu/gpu_e2e.py --cpu-dry-run     # the same steps at toy size, on the CPU

For a machine with a GPU and torch but no package registry (the device machine of the
tool library). Steps, each timed and logged under --work-dir:

1. install what is missing from the carried bundle (``scripts/gpu_bundle.sh`` fills it:
   mmengine, mmdet, pycocotools and their pure-Python or binary wheels, the mmcv 2.1.0
   sdist), with ``pip --no-index --find-links``;
2. build mmcv's ops with CUDA for this GPU's architecture only (MAX_JOBS=--jobs), and this
   package's extension in place;
3. generate the shapes benchmark; train the tiny RetinaNet, IoU-aware RetinaNet, Faster
   R-CNN and IoU-Net for --epochs on the device (seed 0); evaluate each (AP, AP75, AP90);
4. ``benchmarks/speed/benchmark_detectors.py --device cuda``: inference ms/image of every model, and
   IoU-Net with refinement of all detections, as ratios to the baselines in one run;
5. print one table (and write it as JSON).

``--cpu-dry-run`` runs steps 3-5 on the CPU with 24 training images and one epoch, so the
script itself is tested without a GPU (tests/test_tools/test_gpu_scripts.py).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS = {
    'retinanet': 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py',
    'iou-aware': 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py',
    'faster-rcnn': 'configs/faster_rcnn/faster-rcnn_tiny-r18_fpn_shapes.py',
    'iou-net': 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py',
}


def step(name, cmd, log_dir, env=None):
    log = osp.join(log_dir, f'{name}.log')
    start = time.time()
    print(f'[gpu-e2e] {name}: {" ".join(cmd)}', flush=True)
    with open(log, 'w') as f:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                            env=dict(os.environ, **(env or {}))).returncode
    seconds = time.time() - start
    if rc != 0:
        with open(log) as f:
            sys.exit(f'[gpu-e2e] {name} failed (exit {rc}) after {seconds:.0f} s; end of {log}:\n'
                     + f.read()[-3000:])
    print(f'[gpu-e2e] {name}: done in {seconds:.0f} s', flush=True)
    return seconds


def importable(module):
    return subprocess.run([sys.executable, '-c', f'import {module}'],
                          capture_output=True).returncode == 0


def setup(args, log_dir, timings):
    import torch
    major, minor = torch.cuda.get_device_capability()
    arch = dict(TORCH_CUDA_ARCH_LIST=f'{major}.{minor}', MAX_JOBS=str(args.jobs),
                FORCE_CUDA='1', MMCV_WITH_OPS='1')
    pip = [sys.executable, '-m', 'pip', 'install', '--no-index', '--find-links', args.bundle]
    missing = [m for m in ('mmengine', 'pycocotools', 'cv2') if not importable(m)]
    if missing:
        timings['install wheels'] = step('install', pip + ['mmengine', 'pycocotools',
                                                           'opencv-python-headless', 'scipy',
                                                           'matplotlib', 'terminaltables',
                                                           'shapely'], log_dir)
    if not importable('mmcv.ops'):
        sdist = osp.join(args.bundle, 'mmcv-2.1.0.tar.gz')
        timings['mmcv build (CUDA ops)'] = step(
            'mmcv', [sys.executable, osp.join(ROOT, 'scripts', 'build_mmcv_cuda.py'), sdist],
            log_dir, env=arch)
    if not importable('mmdet'):
        timings['install mmdet'] = step('mmdet', pip + ['--no-deps', 'mmdet'], log_dir)
    timings['iou_aware extension'] = step(
        'extension', [sys.executable, 'setup.py', 'build_ext', '--inplace'], log_dir, env=arch)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--bundle', default='.gpu-bundle')
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--jobs', type=int, default=16)
    parser.add_argument('--work-dir', default='work_dirs/gpu_e2e')
    parser.add_argument('--images', type=int, default=60, help='val images timed per round')
    parser.add_argument('--cpu-dry-run', action='store_true')
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    log_dir = args.work_dir
    timings = {}
    if args.cpu_dry_run:
        device, epochs, data = 'cpu', 1, osp.join(args.work_dir, 'shapes')
        data_args = ['--train-images', '24', '--val-images', '8', '--image-size', '128']
    else:
        import torch
        if not torch.cuda.is_available():
            sys.exit('[gpu-e2e] no CUDA device: run with --cpu-dry-run to check the steps')
        setup(args, log_dir, timings)
        device, epochs, data, data_args = 'cuda', args.epochs, 'data/shapes', []
    if not osp.isfile(osp.join(data, 'annotations', 'val.json')):
        timings['dataset'] = step('dataset', [sys.executable, 'tools/make_shapes_dataset.py',
                                              '--out-dir', data, *data_args], log_dir)
    sys.path.insert(0, ROOT)
    from iou_aware.utils.cli import load_config, shapes_data_options
    from benchmarks.schedule import epoch_schedule_options
    data_opts = shapes_data_options(data)
    rows, ckpts = {}, {}
    for name, config in MODELS.items():
        schedule = epoch_schedule_options(load_config(osp.join(ROOT, config)), epochs)
        work = osp.join(args.work_dir, name)
        seconds = step(f'train {name}', [sys.executable, 'tools/train.py', config, '--work-dir',
                                         work, '--cfg-options', *data_opts, *schedule], log_dir)
        ckpts[name] = osp.join(work, f'epoch_{epochs}.pth')
        metrics = osp.join(work, 'metrics.json')
        step(f'test {name}', [sys.executable, 'tools/test.py', config, ckpts[name],
                              '--work-dir', work, '--metrics-json', metrics, '--cfg-options',
                              *data_opts], log_dir)
        from benchmarks.run_logs import read_run_summary
        with open(metrics) as f:
            m = json.load(f)
        rows[name] = dict(AP=m['coco/bbox_mAP'], AP75=m['coco/bbox_mAP_75'],
                          AP90=m['coco/bbox_mAP_90'],
                          train_s_per_step=read_run_summary(work)['sec_per_iter'],
                          train_wall_s=round(seconds))
    bench_json = osp.join(args.work_dir, 'benchmark.json')
    models = []
    for name, config in MODELS.items():
        models += ['--model', name, config, ckpts[name], *data_opts]
    models += ['--model', 'iou-net refine all', MODELS['iou-net'], ckpts['iou-net'], *data_opts,
               'model.test_cfg.rcnn.refine.max_per_img=-1']
    step('benchmark', [sys.executable, 'benchmarks/speed/benchmark_detectors.py', '--device', device,
                       '--images', str(8 if args.cpu_dry_run else args.images),
                       '--train-steps', '0', '--rounds', '1' if args.cpu_dry_run else '3',
                       '--json', bench_json, *models], log_dir)
    with open(bench_json) as f:
        bench = {r['name']: r['inference_ms_per_img'] for r in json.load(f)}
    base = {'retinanet': 'retinanet', 'iou-aware': 'retinanet', 'faster-rcnn': 'faster-rcnn',
            'iou-net': 'faster-rcnn', 'iou-net refine all': 'faster-rcnn'}
    lines = [f'device: {device}; {epochs} epochs; setup: '
             + ', '.join(f'{k} {v:.0f} s' for k, v in timings.items()),
             '| model | AP | AP75 | AP90 | train s/step | inference ms/img | vs baseline |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for name, ms in bench.items():
        r = rows.get(name, rows['iou-net'])
        ap = (f'{100 * r["AP"]:.1f} | {100 * r["AP75"]:.1f} | {100 * r["AP90"]:.1f} | '
              f'{r["train_s_per_step"]:.3f}') if name in rows else '(iou-net) | - | - | -'
        lines.append(f'| {name} | {ap} | {ms:.1f} | {ms / bench[base[name]]:.2f}x |')
    print('\n'.join(lines))
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(dict(rows=rows, inference_ms=bench, setup_s=timings, device=device), f,
                  indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
