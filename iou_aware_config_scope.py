"""Makes ``_base_ = 'iou_aware::...'`` work wherever mmengine reads configs, without importing
iou_aware first (mmdet's stock tools/train.py, ``mim``, a bare ``Config.fromfile``).

Installed beside the package with ``iou_aware_config_scope.pth``, which Python's ``site`` runs
at interpreter start. Importing torch, mmengine or iou_aware there would slow every Python
start in the environment, so this module only adds an import hook: when (and if)
``mmengine.config.config`` is imported, it registers the ``iou_aware`` scope there, as
``import iou_aware`` does (iou_aware/compat.py, which defers to :func:`register`). Cost at
interpreter start: one small module and one entry in ``sys.meta_path``.
"""
import importlib.abc
import importlib.util
import os.path as osp
import sys

TARGET = 'mmengine.config.config'


def register(config_module=None):
    """Map the ``iou_aware`` scope to this package's configs (``iou_aware/.mim/configs``)."""
    if config_module is None:
        config_module = sys.modules[TARGET]
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('iou_aware', 'iou-aware')
    original = config_module.get_installed_path
    if getattr(original, '_iou_aware', False):
        return
    spec = importlib.util.find_spec('iou_aware')  # locates the package, does not import it
    if spec is None or not spec.submodule_search_locations:
        return
    package_dir = osp.abspath(list(spec.submodule_search_locations)[0])

    def get_installed_path(package):
        if package in ('iou-aware', 'iou_aware'):
            return package_dir
        return original(package)

    get_installed_path._iou_aware = True
    config_module.get_installed_path = get_installed_path


class _Loader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            register(module)
        except Exception:  # never break mmengine's import because of us
            pass


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def install():
    if TARGET in sys.modules:
        register()
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
