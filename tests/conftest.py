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


@pytest.fixture
def mm_log_lines():
    """Lines logged at WARNING or above to mmengine's current logger during the test.
    capsys cannot see them reliably: the logger's stream handler is bound to whatever
    sys.stdout was when an earlier test created it."""
    import logging

    from mmengine.logging import MMLogger

    class Lines(logging.Handler):
        def __init__(self):
            super().__init__(level=logging.WARNING)
            self.lines = []

        def emit(self, record):
            self.lines.extend(record.getMessage().splitlines())

    logger, handler = MMLogger.get_current_instance(), Lines()
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
