import pytest
import torch

cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
