"""Golden training traces: a short, deterministic training per shipped config family whose
per-step losses and final-weight checksum are committed (``tests/golden/<family>.json``), so a
change that moves training shows up as a failing test instead of a shifted table weeks later.

Each trace trains the family's shapes config, through mmengine's Runner and the config's own
loop, hooks, optimizer wrapper and samplers (only the data, its image size and the length
change), for
``STEPS`` steps on a tiny generated shapes set, at one CPU thread. Regenerate with

    python tools/misc/update_golden_traces.py [--only FAMILY ...]

in the same commit as the change that moved a trace, with the reason in the commit message.

Exactness: the losses and the checksum are compared bit for bit when the trace is replayed on
the environment it was recorded on (``environment()``: torch/mmcv/mmdet versions and the CPU
instruction set torch dispatches to). The same code can round differently on another CPU
(oneDNN/MKL pick kernels by instruction set: AVX2, AVX-512, AMX), so elsewhere only a loose
check of the first steps' losses is possible (:data:`LOOSE_RTOL`).
"""
import hashlib
import os.path as osp
import platform
import uuid

import torch

# family -> (config, cfg options): the shipped default of each method and its paper setting
FAMILIES = {
    'retinanet': ('configs/retinanet/retinanet_tiny-r18_fpn_shapes.py', []),
    'iou-aware': ('configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py', []),
    'iou-aware_paper': (
        'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_paper_shapes.py', []),
    'faster-rcnn': ('configs/faster_rcnn/faster-rcnn_tiny-r18_fpn_shapes.py', []),
    'iou-net_paper': ('configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_paper_shapes.py', []),
    'iou-net_own-boxes': ('configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py', []),
    'gfl': ('configs/peers/gfl_tiny-r18_fpn_shapes.py', []),
    'gfl-dgqp': ('configs/peers/gfl-dgqp_tiny-r18_fpn_shapes.py', []),
    'vfnet': ('configs/peers/vfnet_tiny-r18_fpn_shapes.py', []),
    'paa': ('configs/peers/paa_tiny-r18_fpn_shapes.py', []),
    'atss': ('configs/peers/atss_tiny-r18_fpn_shapes.py', []),
    'iou-aware-atss': ('configs/iou_aware_atss/iou-aware-atss_tiny-r18_fpn_shapes.py', []),
    'iou-aware-atss_decoupled': (
        'configs/iou_aware_atss/iou-aware-atss_decoupled_tiny-r18_fpn_shapes.py', []),
}
STEPS = 20  # 5 epochs of 4 batches of 4 images: crosses epochs, so shuffling is covered
TRAIN_IMAGES, IMAGE_SIZE = 16, 128
LOOSE_RTOL, LOOSE_STEPS = 1e-3, 3  # another CPU or stack: the first steps' losses only
TRACE_VERSION = 1


def environment():
    """What a bitwise replay depends on besides the code (the kernels' instruction set:
    torch's dispatch level, the CPU model, and the variables that cap torch's or oneDNN's
    choice: ONEDNN_MAX_CPU_ISA=AVX2 alone moves every loss from the first step)."""
    import mmcv
    import mmdet
    import mmengine

    from iou_aware.utils.provenance import cpu_environment
    return dict(torch=torch.__version__, mmcv=mmcv.__version__, mmdet=mmdet.__version__,
                mmengine=mmengine.__version__, python=platform.python_version(),
                **cpu_environment())


def make_data(root):
    """The tiny shapes set every trace trains on (deterministic: seed 0)."""
    from iou_aware.datasets import ShapesConfig, generate_dataset
    generate_dataset(root, num_images=dict(train=TRAIN_IMAGES, val=4), seed=0,
                     config=ShapesConfig(image_size=IMAGE_SIZE))
    return root


def trace_config(family, data_root, work_dir):
    """The family's config, shortened to STEPS steps on the tiny data; nothing else changes."""
    from iou_aware.utils.cli import load_config, shapes_data_options
    from iou_aware.utils.provenance import parse_options
    config, options = FAMILIES[family]
    epochs = STEPS // (TRAIN_IMAGES // 4)
    cfg = load_config(config, None)
    cfg.merge_from_dict(parse_options(options + shapes_data_options(data_root) + [
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_dataloader.batch_size=4',
        f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs + 1}',
        'default_hooks.logger.interval=1000', 'default_hooks.checkpoint.interval=1000']))
    for step in cfg.train_dataloader.dataset.pipeline:  # the images' own size, not 256 px:
        if step['type'] == 'Resize':                     # a quarter of the pixels, of the time
            step['scale'] = (IMAGE_SIZE, IMAGE_SIZE)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = work_dir
    # mmengine names loggers and visualizers by experiment; unique per trace in one process
    cfg.experiment_name = f'golden_{family}_{uuid.uuid4().hex[:8]}'
    return cfg




def run_trace(family, data_root, work_dir):
    """Train ``family`` for STEPS steps at one thread: {'losses': [{name: float}],
    'weights_sha256': str, 'environment': {...}}."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    losses = []

    class Record(Hook):
        priority = 'LOWEST'

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            losses.append({k: float(v) for k, v in sorted(outputs.items())})

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a kernel may sum in another order with another count
    try:
        runner = Runner.from_cfg(trace_config(family, data_root, work_dir))
        runner.register_hook(Record())
        runner.train()
    finally:
        torch.set_num_threads(threads)
    return dict(trace_version=TRACE_VERSION, family=family, config=FAMILIES[family][0],
                cfg_options=FAMILIES[family][1], steps=len(losses), losses=losses,
                weights_sha256=weights_checksum(runner.model), environment=environment())


def weights_checksum(model):
    """sha256 over every parameter and buffer (name, dtype, shape, bytes), in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f'{name}|{t.dtype}|{tuple(t.shape)}|'.encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else
                      t.view(torch.int16).numpy().tobytes())
    return digest.hexdigest()


def golden_path(root, family):
    return osp.join(root, f'{family}.json')


def compare(golden, trace):
    """Differences between a committed trace and a fresh one, as readable lines (empty when
    they agree). Exact on the recorded environment, loose elsewhere (module docstring)."""
    problems = []
    exact = golden['environment'] == trace['environment']
    if golden['steps'] != trace['steps']:
        return [f'{trace["steps"]} steps recorded, the golden trace has {golden["steps"]}']
    steps = range(golden['steps']) if exact else range(min(LOOSE_STEPS, golden['steps']))
    for step in steps:
        want, got = golden['losses'][step], trace['losses'][step]
        if set(want) != set(got):
            problems.append(f'step {step}: loss terms {sorted(got)} instead of {sorted(want)}')
            continue
        for name in want:
            w, g = want[name], got[name]
            same = w == g if exact else abs(w - g) <= LOOSE_RTOL * max(abs(w), 1e-12)
            if not same:
                problems.append(f'step {step}: {name} = {g!r}, golden {w!r}')
    if exact and golden['weights_sha256'] != trace['weights_sha256']:
        problems.append('final weights differ (sha256 '
                        f'{trace["weights_sha256"][:12]} vs golden {golden["weights_sha256"][:12]})')
    return problems
