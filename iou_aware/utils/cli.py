"""Shared pieces of the command-line tools in tools/."""
import os.path as osp
import sys

from mmengine.config import Config

from .dataset_checks import DatasetError, check_dataset_files


def fail(message):
    """Exit with one clear line on stderr (no traceback)."""
    print(f'error: {message}', file=sys.stderr)
    raise SystemExit(2)


def load_config(path, cfg_options=None):
    if not osp.isfile(path):
        fail(f'config file not found: {path}')
    try:
        cfg = Config.fromfile(path)
    except Exception as exc:  # mmengine raises many types for a bad config
        fail(f'cannot load config {path}: {type(exc).__name__}: {exc}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def check_datasets_or_fail(cfg, splits):
    try:
        check_dataset_files(cfg, splits)
    except DatasetError as exc:
        fail(str(exc))


def run_or_fail(fn):
    """Run ``fn()``; turn torch's refusal to load an unsafe checkpoint into one line."""
    import pickle
    try:
        return fn()
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0][:200]
        fail('torch refuses to load the checkpoint with weights_only=True (it pickles '
             f'arbitrary Python objects): {first}. If you trust the file, rerun with '
             'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1.')


def default_work_dir(config_path):
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
