"""Build and install mmcv from its sdist with compiled ops, on a machine without a package
registry (tools/gpu/gpu_e2e.py). Same C++ standard fix as scripts/build_mmcv_wheel.sh: mmcv
2.1.0's setup.py hard-codes an older -std than torch's headers accept. The CUDA settings
(FORCE_CUDA, TORCH_CUDA_ARCH_LIST, MAX_JOBS) come from the environment.

    python scripts/build_mmcv_cuda.py mmcv-2.1.0.tar.gz
"""
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path


def main(sdist):
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter='data')
        src = next(Path(tmp).glob('mmcv-*'))
        setup_py = src / 'setup.py'
        text, n = re.subn(r'-std=c\+\+1[147]', '-std=c++20', setup_py.read_text())
        if n == 0:
            sys.exit(f'{setup_py}: no -std flag to raise; has the sdist changed?')
        setup_py.write_text(text)
        start = time.time()
        subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-index',
                        '--no-build-isolation', '--no-deps', str(src)], check=True)
        print(f'mmcv built and installed in {time.time() - start:.0f} s')


if __name__ == '__main__':
    main(sys.argv[1])
