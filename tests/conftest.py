import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason='needs a CUDA device')

# Parametrize an op test over devices: `@pytest.mark.parametrize('device', DEVICES)`.
# The CUDA case carries the `cuda` marker (`pytest -m cuda` selects exactly the GPU tests)
# and skips with a reason on a machine without a GPU.
DEVICES = [pytest.param('cpu', id='cpu'),
           pytest.param('cuda', id='cuda', marks=[pytest.mark.cuda, cuda_only])]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
