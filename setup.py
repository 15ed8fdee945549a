"""Builds iou_aware._C, the compiled op library (see csrc/).

CPU kernels are always built. CUDA kernels are added when torch sees a GPU or when
FORCE_CUDA=1 (e.g. CI's compile check on a GPU-less machine).
"""
import glob
import os
import sys

from setuptools import setup

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


setup(
    ext_modules=[extension()],
    cmdclass={'build_ext': cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
