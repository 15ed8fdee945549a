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
    """A script (``relpath`` from the repository root, e.g. ``'tools/test.py'``) imported as
    a module."""
    from benchmarks.scripts import load_script
    return load_script(relpath, name)


def run_tool(script, *args, **kwargs):
    """Run a script (``script`` from the repository root) in a subprocess from the root."""
    return subprocess.run([sys.executable, osp.join(ROOT, script), *args],
                          capture_output=True, text=True, cwd=ROOT, **kwargs)


def one_error_line(out):
    assert out.returncode == 2, out.stderr[-3000:]
    assert 'Traceback' not in out.stderr
    lines = [line for line in out.stderr.strip().splitlines() if line.startswith('error:')]
    assert len(lines) == 1
    return lines[0]
