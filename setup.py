"""Builds iou_aware._C, the compiled op library (see csrc/), and ships the configs.

CPU kernels are always built. CUDA kernels are added when torch sees a GPU or when
FORCE_CUDA=1 (e.g. CI's compile check on a GPU-less machine).
The CUDA architectures are torch's choice (TORCH_CUDA_ARCH_LIST, else the visible GPUs).

The configs are installed inside the package as ``iou_aware/.mim/configs`` (as mmdet ships
its own), so that a user's config can inherit ours with ``_base_ = 'iou_aware::...'``: a
copy for wheels and installs, a symlink to ``configs/`` for editable installs.
"""
import glob
import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    import torch
    from torch.utils import cpp_extension
except ImportError:  # pip builds us with --no-build-isolation into a venv that has torch
    sys.exit('iou-aware: torch must be installed before building (run `make setup`).')

ROOT = os.path.dirname(os.path.abspath(__file__))


def want_cuda():
    if os.environ.get('FORCE_CUDA', '0') == '1':
        return True
    return torch.cuda.is_available() and cpp_extension.CUDA_HOME is not None


def cuda_include_dirs():
    # The pip-installed CUDA runtime ships headers (cusparse.h, ...) that torch's CUDA
    # headers include but a bare system toolkit may lack.
    dirs = []
    for path in torch.__path__:
        cand = os.path.join(os.path.dirname(path), 'nvidia', 'cu13', 'include')
        if os.path.isdir(cand):
            dirs.append(cand)
    return dirs


def extension():
    sources = sorted(glob.glob(os.path.join('csrc', '*.cpp')) +
                     glob.glob(os.path.join('csrc', '*', '*.cpp')))
    # -fopenmp: at::parallel_for is header code that parallelises with OpenMP pragmas.
    cxx = ['-O3', '-std=c++20', '-fopenmp']
    kwargs = dict(extra_link_args=['-fopenmp'], include_dirs=[os.path.join(ROOT, 'csrc')])
    if want_cuda():
        sources += sorted(glob.glob(os.path.join('csrc', '*', '*.cu')))
        kwargs['include_dirs'] += cuda_include_dirs()
        return cpp_extension.CUDAExtension(
            'iou_aware._C', sources,
            extra_compile_args={'cxx': cxx, 'nvcc': ['-O3', '-std=c++20']}, **kwargs)
    return cpp_extension.CppExtension(
        'iou_aware._C', sources, extra_compile_args={'cxx': cxx}, **kwargs)


def ship_configs():
    """iou_aware/.mim/configs: a symlink in editable mode, a copy otherwise (mmdet's way)."""
    target = os.path.join(ROOT, 'iou_aware', '.mim', 'configs')
    source = os.path.join(ROOT, 'configs')
    if not os.path.isdir(source):  # building from an sdist that already holds the copy
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(target) or os.path.isfile(target):
        os.remove(target)
    elif os.path.isdir(target):
        shutil.rmtree(target)
    # A copy only for what is installed or distributed (a wheel, an sdist); everything else
    # (editable installs, egg_info, an in-place build_ext) gets a symlink, so a source
    # checkout never reads a stale snapshot of its own configs through `iou_aware::`.
    if any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist', 'build', 'build_py', 'install',
                                       'bdist')) and 'editable_wheel' not in sys.argv:
        shutil.copytree(source, target)
    else:
        os.symlink(os.path.relpath(source, os.path.dirname(target)), target)
    # mmengine looks a scoped config up in the model index first; ours lists no models,
    # so it falls back to .mim/configs/<path>.
    with open(os.path.join(os.path.dirname(target), 'model-index.yml'), 'w') as f:
        f.write('Import: []\n')


SCOPE_PTH = 'iou_aware_config_scope.pth'


class BuildPyWithScopeHook(build_py):
    """Also puts iou_aware_config_scope.pth at the top of the install (site-packages), so
    that ``iou_aware::`` configs load in any interpreter (iou_aware_config_scope.py)."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(ROOT, SCOPE_PTH), os.path.join(self.build_lib, SCOPE_PTH))

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, SCOPE_PTH)]


ship_configs()
setup(
    py_modules=['iou_aware_config_scope'],
    package_data={'iou_aware': ['.mim/model-index.yml', '.mim/configs/*.py', '.mim/configs/*/*.py',
                                '.mim/configs/*/*/*.py', '.mim/configs/*/*.json']},
    ext_modules=[extension()],
    cmdclass={'build_ext': cpp_extension.BuildExtension.with_options(use_ninja=True),
              'build_py': BuildPyWithScopeHook},
)
