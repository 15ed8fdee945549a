"""Shared pieces of the command-line tools (tools/): argument parsing, one-line failures,
config and checkpoint checks."""
import os
import os.path as osp
import pickle
import sys

from mmengine.config import Config, DictAction

from .dataset_checks import DatasetError, check_dataset_files


def shapes_data_options(root):
    """``--cfg-options`` items that point a shapes config's loaders and evaluators at the
    dataset in ``root`` (tests and evaluation on its val split)."""
    root = root.rstrip('/') + '/'
    return [f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            f'val_evaluator.ann_file={root}annotations/val.json',
            f'test_evaluator.ann_file={root}annotations/val.json']


def fail(message):
    """Exit with one clear line on stderr (no traceback)."""
    print(f'error: {message}', file=sys.stderr)
    raise SystemExit(2)


def add_runner_args(parser):
    """The arguments train.py and test.py share: config overrides and the launcher."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_epochs=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher for distributed runs')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser, argv=None):
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def prepare_config(args):
    """Load args.config with its overrides, set the launcher and the work dir."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.launcher != 'none':
        from .cpu_distributed import prepare_cpu_distributed
        prepare_cpu_distributed(cfg, fail)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    return cfg


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
    try:
        return fn()
    except pickle.UnpicklingError as exc:
        _unsafe_checkpoint(exc)


def check_checkpoint_readable_or_fail(path):
    """Load ``path`` as torch's safe loader would; a missing, truncated or corrupt file (or
    one holding no state_dict) fails with one line instead of an unpickler traceback.
    Returns the loaded checkpoint."""
    import torch
    if not osp.isfile(path):
        fail(f'checkpoint not found: {path}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as exc:
        if 'Unsupported global' in str(exc):  # a readable pickle of types we do not allow
            _unsafe_checkpoint(exc)
        fail(f'cannot read checkpoint {path}: corrupt ({type(exc).__name__}: '
             f'{_first_line(exc)})')
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        fail(f'cannot read checkpoint {path}: truncated or corrupt ({type(exc).__name__}: '
             f'{_first_line(exc)})')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        fail(f'checkpoint {path} holds no state_dict')
    return ckpt


def check_checkpoint_or_fail(model, path):
    """Fail with one line when the checkpoint cannot be read or its weights do not fit the
    config's model.

    mmengine loads non-strictly and only logs the mismatch, so a checkpoint of another
    model would be evaluated with random weights in the unmatched layers.
    """
    ckpt = check_checkpoint_readable_or_fail(path)
    state = ckpt.get('state_dict', ckpt)
    from mmengine.model import is_model_wrapper
    own = (model.module if is_model_wrapper(model) else model).state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = [f'{len(v)} {what} (e.g. {v[0]})' for what, v in
                 (('missing', missing), ('unexpected', unexpected), ('with another shape', wrong)) if v]
        fail(f'checkpoint {path} does not match the config\'s model: ' + '; '.join(parts))


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ''


def _unsafe_checkpoint(exc):
    fail('torch refuses to load the checkpoint with weights_only=True (it pickles '
         f'arbitrary Python objects): {_first_line(exc)}. If you trust the file, rerun with '
         'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1.')


def latest_checkpoint(work_dir):
    """The checkpoint mmengine's ``resume=True`` would pick (``last_checkpoint``), or None
    when the run has written none (or the file it names is gone)."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        path = f.read().strip()
    return path if osp.isfile(path) else None


def default_work_dir(config_path):
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
