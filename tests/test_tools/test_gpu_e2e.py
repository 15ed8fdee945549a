"""tools/gpu/gpu_e2e.py without a GPU: one line saying what to do (its --cpu-dry-run runs the
whole pipeline at toy size; too slow for the suite, run by hand)."""
import pytest
import torch

from .tool_helpers import run_tool


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-GPU path')
def test_without_gpu_it_says_to_dry_run():
    out = run_tool('tools/gpu/gpu_e2e.py')
    assert out.returncode != 0 and 'Traceback' not in out.stderr
    assert 'no CUDA device: run with --cpu-dry-run' in out.stderr
