"""Where a result came from: the git commit and a hash of the resolved config it was made with,
and the machine's CPU instruction set. Every results record carries this
(``provenance`` key), so a table row whose config has changed since it was made can be listed
(``benchmarks/update_docs.py --provenance``).

The config hash covers what shapes the model, data and training; it leaves out what names a
place or a run rather than a setting (work and data folders, checkpoints to load or resume,
launcher, seed; the seed is part of the record's folder name).
"""
import glob
import hashlib
import json
import os
import os.path as osp
import subprocess

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# top-level keys that name where or which run, not how it is made
NOT_SETTINGS = ('work_dir', 'load_from', 'resume', 'launcher', 'experiment_name', 'randomness',
                'env_cfg', 'visualizer', 'log_level')


def config_hash(cfg):
    """sha256 (first 16 hex digits) of the resolved config without :data:`NOT_SETTINGS`."""
    data = {k: v for k, v in cfg.to_dict().items() if k not in NOT_SETTINGS}
    text = json.dumps(data, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_hash_of(path, cfg_options=None):
    """:func:`config_hash` of a config file with parsed ``--cfg-options`` (a dict) applied."""
    from iou_aware.utils.cli import load_config
    return config_hash(load_config(path, cfg_options or None))


def parse_options(items):
    """``--cfg-options`` items (``key=value`` strings) parsed as the tools parse them."""
    import argparse

    from iou_aware.utils.cli import add_runner_args
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    return parser.parse_args(['--cfg-options', *items]).cfg_options


def git_commit(root=ROOT):
    """(commit, dirty) of the checkout, or (None, None) outside a git checkout."""
    try:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        status = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                                cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(status.strip())


KERNEL_VARIABLES = ('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA',
                    'MKL_ENABLE_INSTRUCTIONS')


def cpu_environment():
    """What decides which CPU kernels run, hence the last bits of every result: torch's
    dispatch level, the CPU model and the variables that cap the instruction set. The same
    code and seed trained on another CPU gives other weights (BCCD RetinaNet seeds 1-2 of
    2026-11-30 do not reproduce here; their code does, bit for bit)."""
    import torch
    info = {}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    caches = []  # oneDNN sizes its blocks by the caches: another size, other sums
    for index in sorted(glob.glob('/sys/devices/system/cpu/cpu0/cache/index*/size')):
        with open(index) as f:
            caches.append(f.read().strip())
    flags = info.get('flags')
    return dict(cpu_capability=torch.backends.cpu.get_cpu_capability(),
                cpu_model=info.get('model name'), cpu_caches=' '.join(caches) or None,
                cpu_flags_sha256=hashlib.sha256(flags.encode()).hexdigest()[:12] if flags else None,
                **{k.lower(): os.environ[k] for k in KERNEL_VARIABLES if k in os.environ})


def provenance(cfg, config_path=None, cfg_options=None):
    """The ``provenance`` entry of a results record: ``cfg`` is the resolved config,
    ``cfg_options`` the parsed overrides it was resolved with (a dict, as the tools get it)."""
    import torch
    commit, dirty = git_commit()
    return dict(git_commit=commit, git_dirty=dirty, config=config_path,
                cfg_options=dict(cfg_options or {}), config_sha256=config_hash(cfg),
                torch=torch.__version__, **cpu_environment())
