"""Property-based PrRoIPool tests (hypothesis): forward, feature gradient and box gradient
against the exact cell-by-cell reference over random map shapes, channel counts, output
sizes, spatial scales and boxes (zero-size, reversed, on grid lines, partly or fully
outside the map, huge), in float32 and float64.

Each runs on the CPU kernels, on the CUDA kernels' code run on the host (the test-only
_nchw ops) and, with a GPU, on the CUDA kernels. Deterministic: derandomize=True draws
the same examples on every run, and no example database is written.
"""
import pytest
import torch

from iou_aware.ops import has_extension, prroi_pool, prroi_pool_reference
from tests.conftest import cuda_only

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.skipif(not has_extension(), reason='iou_aware._C not built')

op = torch.ops.iou_aware
IMPLS = pytest.mark.parametrize('impl', [
    pytest.param('cpu', id='cpu'),
    pytest.param('cuda-code-on-cpu', id='cuda-code-on-cpu'),
    pytest.param('cuda', id='cuda', marks=[pytest.mark.cuda, cuda_only])])


def deterministic(max_examples):
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def pooling_cases(draw):
    """(input, rois, (ph, pw), spatial_scale) with boxes drawn in feature-map units."""
    dtype = draw(st.sampled_from([torch.float64, torch.float32]))
    batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 10))  # 10: a vector of 8 + tail
    height, width = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    ph, pw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    scale = draw(st.one_of(st.sampled_from([0.125, 0.25, 0.5, 1.0, 2.0]),
                           st.floats(0.1, 2.0, allow_nan=False)))

    def interval(size, bins):
        # Kinds weighted so that about two boxes in three are neither degenerate nor huge.
        # float32 bins are at least 1/4 cell: the box gradient divides the bin integral,
        # exact to float32's eps, by the bin size twice, so tinier bins are ill-conditioned
        # (float64 covers bins down to 1/80 cell).
        shortest = 0.05 if dtype == torch.float64 else 0.25 * bins
        start = draw(st.sampled_from(['near'] * 5 + ['grid line'] * 2 + ['huge']))
        lo = {'near': lambda: draw(st.floats(-2.0, size + 1.0)),  # around and past the map
              'grid line': lambda: float(draw(st.integers(-1, size))),
              'huge': lambda: draw(st.sampled_from([-1e6, 1e6]))}[start]()
        length = draw(st.sampled_from(['positive'] * 6 + ['grid line'] * 2 +
                                      ['zero', 'reversed', 'huge']))
        return lo, lo + {'positive': lambda: draw(st.floats(shortest, shortest + size + 3.0)),
                         'grid line': lambda: float(draw(st.integers(1, size + 1))),
                         'zero': lambda: 0.0,
                         'reversed': lambda: draw(st.floats(-size - 1.0, -0.05)),
                         'huge': lambda: 2e6}[length]()

    rois = []
    for _ in range(draw(st.integers(0, 4))):
        (x1, x2), (y1, y2) = interval(width, pw), interval(height, ph)
        rois.append([draw(st.integers(0, batch - 1)), x1 / scale, y1 / scale, x2 / scale, y2 / scale])
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    input = torch.randn(batch, channels, height, width, generator=g, dtype=torch.float64).to(dtype)
    rois = torch.tensor(rois, dtype=torch.float64).reshape(-1, 5).to(dtype)
    return input, rois, (ph, pw), scale


def run(impl, input, rois, output_size, scale, weight):
    """(output, d loss/d input, d loss/d rois), loss = sum(output * weight), on the CPU."""
    if impl == 'cuda-code-on-cpu':
        out = op._prroi_pool_forward_nchw(input, rois, *output_size, scale)
        return (out, op._prroi_pool_backward_input_nchw(weight, rois, *output_size, scale, *input.shape),
                op._prroi_pool_backward_rois_nchw(weight, out, input, rois, *output_size, scale))
    device = 'cuda' if impl == 'cuda' else 'cpu'
    x = input.detach().clone().to(device).requires_grad_()  # fresh leaves: .grad is ours
    r = rois.detach().clone().to(device).requires_grad_()
    out = prroi_pool(x, r, output_size, scale)
    out.backward(weight.to(device))
    return out.detach().cpu(), x.grad.cpu(), r.grad.cpu()


def reference(input, rois, output_size, scale, weight):
    x = input.detach().double().clone().requires_grad_()
    r = rois.detach().double().clone().requires_grad_()
    out = prroi_pool_reference(x, r, *output_size, scale)
    if out.requires_grad:  # not when every box is degenerate: the output is a constant
        out.backward(weight.double())
    zero_if_none = lambda grad, like: torch.zeros_like(like) if grad is None else grad  # noqa: E731
    return out.detach(), zero_if_none(x.grad, x), zero_if_none(r.grad, r)


def assert_matches(got, want, dtype):
    # Tolerance relative to the larger of the value's and the inputs' scale (1, randn
    # features): huge boxes give tiny values whose float32 bin edges are off by ~1e-7 of
    # the coordinates.
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    got, want = got.double(), want.double()
    scale = max(1.0, want.abs().max().item()) if want.numel() else 1.0
    torch.testing.assert_close(got, want, rtol=tol, atol=tol * scale)


@IMPLS
@deterministic(max_examples=200)
@given(case=pooling_cases())
def test_forward_matches_reference(impl, case):
    input, rois, output_size, scale = case
    weight = torch.zeros(rois.shape[0], input.shape[1], *output_size, dtype=input.dtype)
    got = run(impl, input, rois, output_size, scale, weight)[0]
    assert got.dtype == input.dtype and got.shape == weight.shape
    assert_matches(got, prroi_pool_reference(input.double(), rois.double(), *output_size, scale),
                   input.dtype)


@IMPLS
@deterministic(max_examples=150)
@given(case=pooling_cases(), seed=st.integers(0, 2**16))
def test_gradients_match_reference(impl, case, seed):
    input, rois, output_size, scale = case
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(rois.shape[0], input.shape[1], *output_size, generator=g,
                         dtype=torch.float64).to(input.dtype)
    got = run(impl, input, rois, output_size, scale, weight)
    want = reference(input, rois, output_size, scale, weight)
    for a, b in zip(got, want):
        assert a.dtype == input.dtype
        assert_matches(a, b, input.dtype)
    assert torch.all(got[2][:, 0] == 0)  # no gradient for the batch index
