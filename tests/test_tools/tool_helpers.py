"""Shared by the tool tests: a tiny generated dataset and running tools as subprocesses."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Config overrides that keep tool tests quick: no loader workers, log every step, short warmup.
FAST = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1', 'param_scheduler.0.end=2']


def make_tiny_shapes(out):
    from iou_aware.datasets import ShapesConfig, generate_dataset
    generate_dataset(out, num_images=dict(train=16, val=8), seed=0,
                     config=ShapesConfig(image_size=128))
    return str(out)


def data_options(root):
    from iou_aware.utils.cli import shapes_data_options
    return shapes_data_options(root)


def load_tool(relpath, name=None):
    """A script under tools/ imported as a module (``iou_aware.utils.cli.load_tool``)."""
    from iou_aware.utils.cli import load_tool as load
    return load(relpath, name)


def run_tool(tool, *args, **kwargs):
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *args],
                          capture_output=True, text=True, cwd=ROOT, **kwargs)


def one_error_line(out):
    assert out.returncode == 2, out.stderr[-3000:]
    assert 'Traceback' not in out.stderr
    lines = [line for line in out.stderr.strip().splitlines() if line.startswith('error:')]
    assert len(lines) == 1
    return lines[0]
