"""PrRoIPool against independent oracles: the cell-by-cell exact reference, numerical
integration with torch's grid_sample, finite differences (gradcheck) and opcheck.

Tests taking `device` run once per entry of tests.conftest.DEVICES: on the CPU kernels, and
on the CUDA kernels where a GPU is present (skipped with a reason otherwise). Without a GPU
the CUDA kernels' own code is still checked, through the test-only ops _prroi_pool_*_nchw
that run it on the host. Property-based tests: test_prroi_pool_properties.py.
"""
import pytest
import torch
import torch.nn.functional as F

from iou_aware.ops import PrRoIPool2d, has_extension, prroi_pool, prroi_pool_reference
from tests.conftest import DEVICES

pytestmark = pytest.mark.skipif(not has_extension(), reason='iou_aware._C not built')

op = torch.ops.iou_aware
on_devices = pytest.mark.parametrize('device', DEVICES)

# Agreement with the float64 reference on inputs of each dtype, relative to the largest
# reference value: ~10x the worst error seen (float32/16 and bfloat16 accumulate in float32).
TOL = {torch.float64: 1e-10, torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}
ALL_DTYPES = list(TOL)


def random_rois(num, batch, height, width, scale, dtype, generator=None, outside=True):
    """Fractional boxes in image coordinates, some reaching past the map's border."""
    g = generator
    h_img, w_img = height / scale, width / scale
    lo = -0.3 if outside else 0.0
    hi = 1.3 if outside else 1.0
    cx = (lo + (hi - lo) * torch.rand(num, generator=g, dtype=torch.float64)) * w_img
    cy = (lo + (hi - lo) * torch.rand(num, generator=g, dtype=torch.float64)) * h_img
    bw = (0.05 + 0.6 * torch.rand(num, generator=g, dtype=torch.float64)) * w_img
    bh = (0.05 + 0.6 * torch.rand(num, generator=g, dtype=torch.float64)) * h_img
    idx = torch.randint(0, batch, (num,), generator=g).double()
    rois = torch.stack([idx, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=1)
    return rois.to(dtype)


def edge_case_rois(batch, height, width, scale, dtype):
    """Boxes (image coordinates) at the edge cases: edges on grid lines, the whole map,
    partly and fully outside, reversed, zero-size, huge."""
    h, w = height / scale, width / scale
    big = 3e4 if dtype == torch.float16 else 1e6  # float16 ends at 65504
    return torch.tensor([[0, 1 / scale, 2 / scale, 5 / scale, 6 / scale],  # edges on grid lines
                         [batch - 1, 0, 0, w, h],                           # the whole map
                         [0, -0.4 * w, 0.5 * h, 0.3 * w, 1.6 * h],          # partly outside
                         [batch - 1, 1.2 * w, -0.9 * h, 1.9 * w, -0.1 * h],  # fully outside
                         [0, 0.7 * w, 0.2 * h, 0.2 * w, 0.6 * h],           # reversed x
                         [0, 0.3 * w, 0.3 * h, 0.3 * w, 0.9 * h],           # zero width
                         [batch - 1, -big, -big / 3, big, 2 * big]],        # huge
                        dtype=torch.float64).to(dtype)


def numeric_prroi_pool(input, rois, ph, pw, scale, samples=96):
    """Midpoint-rule integral of the bilinear interpolant (zero outside the map), sampled
    with grid_sample: an oracle that shares no code or formula with the kernels."""
    n_img, channels, height, width = input.shape
    out = input.new_zeros(rois.shape[0], channels, ph, pw)
    t = (torch.arange(samples, dtype=input.dtype, device=input.device) + 0.5) / samples
    for k, (n, x1, y1, x2, y2) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = x1 * scale, y1 * scale, x2 * scale, y2 * scale
        bw, bh = max(x2 - x1, 0) / pw, max(y2 - y1, 0) / ph
        if bw * bh == 0:
            continue
        xs = x1 + (torch.arange(pw, dtype=t.dtype, device=t.device)[:, None] + t[None, :]) * bw
        ys = y1 + (torch.arange(ph, dtype=t.dtype, device=t.device)[:, None] + t[None, :]) * bh
        gx = 2 * xs.reshape(-1) / (width - 1) - 1
        gy = 2 * ys.reshape(-1) / (height - 1) - 1
        grid = torch.stack(torch.meshgrid(gy, gx, indexing='ij')[::-1], dim=-1)[None]
        vals = F.grid_sample(input[int(n)][None], grid, mode='bilinear', padding_mode='zeros',
                             align_corners=True)[0]  # [C, ph*S, pw*S]
        out[k] = vals.reshape(channels, ph, samples, pw, samples).mean(dim=(2, 4))
    return out


def pool_with_grads(pool, input, rois, weight):
    """(output, d loss/d input, d loss/d rois) for loss = sum(pool(input, rois) * weight).
    The leaves keep the layouts of input and rois; weight is the output gradient as is."""
    x = input.detach().requires_grad_()
    r = rois.detach().requires_grad_()
    out = pool(x, r)
    out.backward(weight)
    return out.detach(), x.grad, r.grad


def assert_close_scaled(got, want, tol):
    """|got - want| <= tol * (|want| + max|want|), in float64 on the CPU."""
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=tol, atol=tol * max(1.0, want.abs().max().item()))


def gradcheck_prroi(input, rois, output_size, scale, **kwargs):
    """float64 gradcheck w.r.t. the features and the four box coordinates (gradcheck
    perturbs every element, and the batch-index column must stay integral)."""
    index = rois[:, :1].detach()
    coords = rois[:, 1:].detach().clone().requires_grad_()
    x = input.detach().clone().requires_grad_()
    fn = lambda x, c: prroi_pool(x, torch.cat([index, c], dim=1), output_size, scale)  # noqa: E731
    return torch.autograd.gradcheck(fn, (x, coords), eps=1e-6, atol=1e-6, **kwargs)


# ---- values against the oracles, per device ----

@on_devices
@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize('output_size,scale', [((7, 7), 0.25), ((3, 5), 0.5), ((2, 1), 1.0)])
def test_matches_exact_reference(device, dtype, tol, output_size, scale):
    g = torch.Generator().manual_seed(1)
    input = torch.randn(3, 4, 13, 17, generator=g, dtype=torch.float64).to(dtype)
    rois = random_rois(12, 3, 13, 17, scale, dtype, g)
    got = prroi_pool(input.to(device), rois.to(device), output_size, scale)
    want = prroi_pool_reference(input.double(), rois.double(), *output_size, scale)
    assert got.shape == (12, 4, *output_size) and got.dtype == dtype and got.device.type == device
    torch.testing.assert_close(got.double().cpu(), want, rtol=tol, atol=tol)


@on_devices
def test_matches_numerical_integration(device):
    g = torch.Generator().manual_seed(2)
    input = torch.randn(2, 3, 9, 11, generator=g, dtype=torch.float64)
    rois = random_rois(8, 2, 9, 11, 0.5, torch.float64, g)
    got = prroi_pool(input.to(device), rois.to(device), (3, 4), 0.5).cpu()
    want = numeric_prroi_pool(input, rois, 3, 4, 0.5)
    # Midpoint rule on a piecewise bilinear function: error O(1/samples^2).
    torch.testing.assert_close(got, want, rtol=0, atol=2e-3)
    assert got.abs().max() > 0.05


@on_devices
def test_mmcv_hand_computed_case(device):
    input = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], device=device)
    rois = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0]], device=device)
    out = prroi_pool(input, rois, 2)
    torch.testing.assert_close(out.cpu(), torch.tensor([[[[1.75, 2.25], [2.75, 3.25]]]]))


@on_devices
def test_constant_map_inside_gives_the_constant(device):
    input = torch.full((1, 2, 10, 10), 3.0, dtype=torch.float64, device=device)
    rois = torch.tensor([[0, 1.3, 2.7, 8.1, 6.6]], dtype=torch.float64, device=device)
    torch.testing.assert_close(prroi_pool(input, rois, (4, 3)).cpu(),
                               torch.full((1, 2, 4, 3), 3.0, dtype=torch.float64))


@on_devices
@pytest.mark.parametrize('dtype', ALL_DTYPES, ids=str)
def test_forward_and_gradients_match_cpu_kernel_and_reference(device, dtype):
    # Random and edge-case boxes; the reference runs in float64 on the dtype's values.
    g = torch.Generator().manual_seed(8)
    input = torch.randn(2, 6, 12, 14, generator=g, dtype=torch.float64).to(dtype)
    rois = torch.cat([random_rois(12, 2, 12, 14, 0.5, dtype, g), edge_case_rois(2, 12, 14, 0.5, dtype)])
    weight = torch.randn(len(rois), 6, 3, 4, generator=g, dtype=torch.float64).to(dtype)
    pool = lambda x, r: prroi_pool(x, r, (3, 4), 0.5)  # noqa: E731
    got = pool_with_grads(pool, input.to(device), rois.to(device), weight.to(device))
    assert all(t.dtype == dtype and t.device.type == device for t in got)
    want = pool_with_grads(lambda x, r: prroi_pool_reference(x, r, 3, 4, 0.5),
                           input.double(), rois.double(), weight.double())
    for a, b in zip(got, want):
        assert_close_scaled(a, b, TOL[dtype])
    assert torch.all(got[2][:, 0] == 0)  # no gradient for the batch index
    if device != 'cpu':
        for a, b in zip(got, pool_with_grads(pool, input, rois, weight)):
            assert_close_scaled(a, b, TOL[dtype])


@on_devices
@pytest.mark.parametrize('channels', [8, 19])
def test_gradients_match_reference_many_channels_and_grid_aligned_edges(device, channels):
    # The CPU kernels vectorize over channels in blocks of 8 plus a tail, and the box
    # gradient reads one row/column past a bin's support when an edge sits on a grid line.
    g = torch.Generator().manual_seed(6)
    input = torch.randn(2, channels, 9, 11, generator=g, dtype=torch.float64)
    rois = torch.cat([random_rois(6, 2, 9, 11, 0.5, torch.float64, g),
                      torch.tensor([[0, 2.0, 4.0, 12.0, 10.0],      # every edge on a grid line
                                    [1, 0.0, 0.0, 22.0, 18.0],      # the whole map
                                    [1, -2.0, 6.0, 4.0, 20.0],      # past the left/bottom border
                                    [0, 16.0, -4.0, 24.0, 2.0]],    # past the right/top border
                                   dtype=torch.float64)])
    weight = torch.randn(len(rois), channels, 3, 3, generator=g, dtype=torch.float64)
    got = pool_with_grads(lambda x, r: prroi_pool(x, r, 3, 0.5), input.to(device), rois.to(device),
                          weight.to(device))
    want = pool_with_grads(lambda x, r: prroi_pool_reference(x, r, 3, 3, 0.5), input, rois, weight)
    for a, b, tol in zip(got, want, (1e-10, 1e-10, 1e-9)):
        torch.testing.assert_close(a.cpu(), b, rtol=tol, atol=tol)


def box_gradient_by_finite_differences(pool, input, rois, weight, step=1e-6):
    numeric = torch.zeros_like(rois)
    for k in range(len(rois)):
        for d in range(1, 5):
            delta = torch.zeros_like(rois)
            delta[k, d] = step
            diff = pool(input, rois + delta) - pool(input, rois - delta)
            numeric[k, d] = (diff * weight).sum() / (2 * step)
    return numeric


GRID_LINE_ROIS = [[0, 2.0, 4.0, 12.0, 10.0], [0, 0.0, 0.0, 22.0, 18.0]]


@on_devices
def test_box_gradient_on_grid_lines_matches_finite_differences(device):
    # Edges exactly on grid lines (clipped boxes land there): the integral is smooth there.
    g = torch.Generator().manual_seed(7)
    input = torch.randn(1, 3, 9, 11, generator=g, dtype=torch.float64).to(device)
    rois = torch.tensor(GRID_LINE_ROIS, dtype=torch.float64, device=device)
    weight = torch.randn(2, 3, 3, 3, generator=g, dtype=torch.float64).to(device)
    pool = lambda x, r: prroi_pool(x, r, 3, 0.5)  # noqa: E731
    _, _, grad = pool_with_grads(pool, input, rois, weight)
    numeric = box_gradient_by_finite_differences(pool, input, rois, weight)
    torch.testing.assert_close(grad, numeric, rtol=1e-6, atol=1e-7)


def test_reference_box_gradient_on_grid_lines_matches_finite_differences():
    # ... which is where a cell-by-cell integral's autograd can lose the derivative.
    g = torch.Generator().manual_seed(7)
    input = torch.randn(1, 3, 9, 11, generator=g, dtype=torch.float64)
    rois = torch.tensor(GRID_LINE_ROIS, dtype=torch.float64)
    weight = torch.randn(2, 3, 3, 3, generator=g, dtype=torch.float64)
    pool = lambda x, r: prroi_pool_reference(x, r, 3, 3, 0.5)  # noqa: E731
    _, _, grad = pool_with_grads(pool, input, rois, weight)
    numeric = box_gradient_by_finite_differences(pool, input, rois, weight)
    torch.testing.assert_close(grad, numeric, rtol=1e-6, atol=1e-7)


@on_devices
def test_gradcheck_features_and_rois(device):
    g = torch.Generator().manual_seed(3)
    input = torch.randn(2, 2, 6, 7, generator=g, dtype=torch.float64)
    rois = torch.cat([random_rois(5, 2, 6, 7, 0.5, torch.float64, g),
                      edge_case_rois(2, 6, 7, 0.5, torch.float64)[:3]])  # grid lines, whole map, outside
    assert gradcheck_prroi(input.to(device), rois.to(device), (2, 3), 0.5)


# ---- layouts and edge cases, per device ----

@on_devices
def test_non_contiguous_and_channels_last_inputs_give_the_same_results(device):
    g = torch.Generator().manual_seed(5)
    base = torch.randn(2, 9, 10, 3, generator=g, dtype=torch.float64).to(device)
    permuted = base.permute(0, 3, 1, 2)  # [2, 3, 9, 10], channels-last memory
    rois_wide = torch.zeros(6, 10, dtype=torch.float64, device=device)
    rois_wide[:, ::2] = random_rois(6, 2, 9, 10, 1.0, torch.float64, g).to(device)
    strided_rois = rois_wide[:, ::2]
    weight = torch.randn(6, 3, 1, 3, generator=g, dtype=torch.float64).to(device).expand(6, 3, 2, 3)
    assert not permuted.is_contiguous() and not strided_rois.is_contiguous()
    assert not weight.is_contiguous()  # the output gradient
    pool = lambda x, r: prroi_pool(x, r, (2, 3), 1.0)  # noqa: E731
    want = pool_with_grads(pool, permuted.contiguous(), strided_rois.contiguous(), weight.contiguous())
    layouts = (permuted, permuted.contiguous().contiguous(memory_format=torch.channels_last),
               permuted.transpose(2, 3).contiguous().transpose(2, 3))
    for input in layouts:
        got = pool_with_grads(pool, input, strided_rois, weight)
        for a, b in zip(got, want):  # (CUDA's atomic adds make the order vary: not bitwise)
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # the backward ops called directly with non-contiguous arguments
    out = op.prroi_pool_forward(permuted, strided_rois, 2, 3, 1.0)
    torch.testing.assert_close(op._prroi_pool_backward_input(weight, strided_rois, 2, 3, 1.0, *permuted.shape),
                               want[1], rtol=1e-12, atol=1e-12)
    out_strided = out.transpose(2, 3).contiguous().transpose(2, 3)
    torch.testing.assert_close(
        op._prroi_pool_backward_rois(weight, out_strided, permuted, strided_rois, 2, 3, 1.0), want[2],
        rtol=1e-12, atol=1e-12)
    assert gradcheck_prroi(permuted, strided_rois, 2, 1.0, fast_mode=True)


@on_devices
def test_empty_roi_set(device):
    input = torch.randn(2, 3, 5, 5, device=device, requires_grad=True)
    rois = torch.zeros(0, 5, device=device, requires_grad=True)
    out = prroi_pool(input, rois, 2)
    assert out.shape == (0, 3, 2, 2)
    out.sum().backward()
    assert torch.all(input.grad == 0) and rois.grad.shape == (0, 5)


@on_devices
@pytest.mark.parametrize('box', [[0, 2.0, 2.0, 2.0, 4.0],   # zero width
                                 [0, 2.0, 3.0, 5.0, 3.0],   # zero height
                                 [0, 4.0, 1.0, 1.0, 3.0],   # reversed x
                                 [0, 1.0, 4.0, 3.0, 1.0],   # reversed y
                                 [0, 3.0, 3.0, 3.0, 3.0]])  # a point
def test_degenerate_boxes_give_zero_output_and_gradient(device, box):
    input = torch.randn(1, 2, 6, 6, dtype=torch.float64, device=device, requires_grad=True)
    rois = torch.tensor([box], dtype=torch.float64, device=device, requires_grad=True)
    out = prroi_pool(input, rois, 2)
    assert torch.all(out == 0)
    out.sum().backward()
    assert torch.all(input.grad == 0) and torch.all(rois.grad == 0)


@on_devices
def test_box_far_outside_gives_zero(device):
    input = torch.randn(1, 2, 6, 6, device=device, requires_grad=True)
    rois = torch.tensor([[0, 100.0, 100.0, 120.0, 130.0], [0, -50.0, -40.0, -2.0, -1.5]],
                        device=device, requires_grad=True)
    out = prroi_pool(input, rois, 3)
    assert torch.all(out == 0)
    out.sum().backward()
    assert torch.all(input.grad == 0) and torch.all(rois.grad == 0)


@on_devices
def test_boxes_covering_the_whole_map(device):
    # [0, W-1] x [0, H-1] is where the interpolant lives; past it, it falls to zero at -1
    # and W (resp. H), and is zero beyond. 1x1 output: the mean over the box.
    height, width = 7, 9
    g = torch.Generator().manual_seed(11)
    ramp = torch.randn(1, 2, height, width, generator=g, dtype=torch.float64)
    const = torch.full((1, 1, height, width), 2.0, dtype=torch.float64)
    inner = [0, 0.0, 0.0, width - 1.0, height - 1.0]
    ring = [0, -1.0, -1.0, float(width), float(height)]
    huge = [0, -1e7, -1e7, 1e7, 1e7]
    rois = torch.tensor([inner, ring, huge], dtype=torch.float64)
    out = prroi_pool(const.to(device), rois.to(device), 1).cpu().flatten()
    # The constant inside; on the ring, integral of the hat-shaped fall-off is 1/2 per side.
    area_ring = (width + 1) * (height + 1)
    torch.testing.assert_close(out, torch.tensor([2.0, 2.0 * width * height / area_ring,
                                                  2.0 * width * height / 4e14], dtype=torch.float64))
    got = pool_with_grads(lambda x, r: prroi_pool(x, r, (2, 3)), ramp.to(device), rois.to(device),
                          torch.ones(3, 2, 2, 3, dtype=torch.float64, device=device))
    want = pool_with_grads(lambda x, r: prroi_pool_reference(x, r, 2, 3), ramp, rois,
                           torch.ones(3, 2, 2, 3, dtype=torch.float64))
    for a, b in zip(got, want):
        assert_close_scaled(a, b, 1e-10)


@on_devices
def test_ten_thousand_rois(device):
    # Many RoIs (few channels, a small map keep the CPU run short): checked in full against
    # the CPU kernels (on a GPU) or the CUDA kernels' code on the host (on the CPU), and a
    # spread-out subset against the exact reference.
    g = torch.Generator().manual_seed(12)
    input = torch.randn(2, 2, 16, 20, generator=g, dtype=torch.float64)
    rois = torch.cat([random_rois(12000, 2, 16, 20, 0.25, torch.float64, g),
                      edge_case_rois(2, 16, 20, 0.25, torch.float64)])
    weight = torch.randn(len(rois), 2, 2, 2, generator=g, dtype=torch.float64)
    pool = lambda x, r: prroi_pool(x, r, 2, 0.25)  # noqa: E731
    got = pool_with_grads(pool, input.to(device), rois.to(device), weight.to(device))
    if device == 'cpu':
        out = op._prroi_pool_forward_nchw(input, rois, 2, 2, 0.25)
        other = (out, op._prroi_pool_backward_input_nchw(weight, rois, 2, 2, 0.25, *input.shape),
                 op._prroi_pool_backward_rois_nchw(weight, out, input, rois, 2, 2, 0.25))
    else:
        other = pool_with_grads(pool, input, rois, weight)
    for a, b in zip(got, other):
        assert_close_scaled(a, b, 1e-10)
    subset = torch.cat([torch.arange(0, len(rois), 1500), torch.arange(len(rois) - 7, len(rois))])
    want = pool_with_grads(lambda x, r: prroi_pool_reference(x, r, 2, 2, 0.25), input, rois[subset],
                           weight[subset])
    assert_close_scaled(got[0][subset], want[0], 1e-10)
    assert_close_scaled(got[2][subset], want[2], 1e-9)


@on_devices
def test_list_of_boxes_equals_tensor_form(device):
    input = torch.randn(2, 3, 8, 8, device=device)
    boxes = [torch.tensor([[1.0, 1.0, 5.0, 6.0]], device=device),
             torch.tensor([[0.5, 2.0, 7.0, 7.5], [2.0, 2.0, 3.0, 3.0]], device=device)]
    rois = torch.tensor([[0, 1.0, 1.0, 5.0, 6.0], [1, 0.5, 2.0, 7.0, 7.5], [1, 2.0, 2.0, 3.0, 3.0]],
                        device=device)
    torch.testing.assert_close(prroi_pool(input, boxes, 2), prroi_pool(input, rois, 2))


@on_devices
def test_opcheck(device):
    g = torch.Generator().manual_seed(7)
    input = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64).to(device).requires_grad_()
    rois = random_rois(4, 2, 7, 8, 0.5, torch.float64, g).to(device).requires_grad_()
    torch.library.opcheck(op.prroi_pool_forward, (input, rois, 2, 3, 0.5))
    out = op.prroi_pool_forward(input, rois, 2, 3, 0.5).detach()
    grad = torch.randn_like(out)
    torch.library.opcheck(op._prroi_pool_backward_input, (grad, rois.detach(), 2, 3, 0.5, 2, 3, 7, 8))
    torch.library.opcheck(op._prroi_pool_backward_rois,
                          (grad, out, input.detach(), rois.detach(), 2, 3, 0.5))


@on_devices
def test_torch_compile_matches_eager(device):
    input = torch.randn(1, 2, 8, 8, device=device, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 1.5, 6.0, 7.0]], device=device, requires_grad=True)
    compiled = torch.compile(lambda x, r: prroi_pool(x, r, 2, 1.0).sum(), backend='aot_eager',
                             fullgraph=True)
    compiled(input, rois).backward()
    g_compiled = (input.grad.clone(), rois.grad.clone())
    input.grad = rois.grad = None
    prroi_pool(input, rois, 2, 1.0).sum().backward()
    torch.testing.assert_close(g_compiled[0], input.grad)
    torch.testing.assert_close(g_compiled[1], rois.grad)


def test_module_repr_and_forward():
    m = PrRoIPool2d((7, 5), spatial_scale=0.125)
    assert repr(m) == 'PrRoIPool2d(output_size=(7, 5), spatial_scale=0.125)'
    out = m(torch.randn(1, 2, 20, 20), torch.tensor([[0, 8.0, 8.0, 100.0, 90.0]]))
    assert out.shape == (1, 2, 7, 5)


# ---- the CUDA kernels' code, run on the CPU ----

@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-12), (torch.float32, 1e-5),
                                       (torch.float16, 1e-3), (torch.bfloat16, 1e-2)])
def test_cuda_kernel_code_run_on_cpu_matches_cpu_kernels_and_reference(dtype, tol):
    # The _nchw ops run the CUDA kernels' launchers and per-thread functors on the host, so
    # this fails if the code the GPU runs disagrees with the CPU kernels or the reference,
    # on a machine without a GPU. Forward and input gradient add in the same order in both
    # (the shared window_integral / window_scatter); the box gradient sums differently.
    g = torch.Generator().manual_seed(9)
    input = torch.randn(2, 10, 9, 11, generator=g, dtype=torch.float64).to(dtype)
    rois = torch.cat([random_rois(10, 2, 9, 11, 0.5, dtype, g), edge_case_rois(2, 9, 11, 0.5, dtype)])
    args = (3, 4, 0.5)
    out = op.prroi_pool_forward(input, rois, *args)
    grad = torch.randn(out.shape, generator=g, dtype=torch.float64).to(dtype)
    results = {}
    for name, fwd, bwd_in, bwd_rois in [
            ('cpu', op.prroi_pool_forward, op._prroi_pool_backward_input, op._prroi_pool_backward_rois),
            ('cuda code', op._prroi_pool_forward_nchw, op._prroi_pool_backward_input_nchw,
             op._prroi_pool_backward_rois_nchw)]:
        o = fwd(input, rois, *args)
        results[name] = (o, bwd_in(grad, rois, *args, *input.shape), bwd_rois(grad, o, input, rois, *args))
    for got, want in zip(results['cuda code'], results['cpu']):
        assert got.dtype == want.dtype == dtype
        assert_close_scaled(got, want, tol)
    if dtype == torch.float64:
        x, r = input.clone().requires_grad_(), rois.clone().requires_grad_()
        ref = prroi_pool_reference(x, r, *args)
        ref.backward(grad)
        for got, want in zip(results['cuda code'], (ref.detach(), x.grad, r.grad)):
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


# ---- argument checks ----

@pytest.mark.parametrize('kwargs,match', [
    (dict(rois=torch.zeros(3, 4)), r'rois must be Tensor\[K, 5\]'),
    (dict(rois=torch.zeros(5)), r'rois must be Tensor\[K, 5\]'),
    (dict(rois='boxes'), r'rois must be a Tensor\[K, 5\] or a list'),
    (dict(input=torch.zeros(2, 5, 5)), 'input must be a 4-D'),
    (dict(input=[[0.0]]), 'input must be a 4-D Tensor'),
    (dict(input=torch.zeros(2, 3, 5, 5, dtype=torch.long)), 'input must be a floating-point'),
    (dict(rois=torch.tensor([[2.0, 0, 0, 1, 1]])), r'rois\[0, 0\] \(batch index\) must be an integer in \[0, 2\)'),
    (dict(rois=torch.tensor([[0.5, 0, 0, 1, 1]])), r'batch index\) must be an integer'),
    (dict(rois=torch.tensor([[-1.0, 0, 0, 1, 1]])), r'batch index\) must be an integer'),
    (dict(rois=torch.tensor([[float('nan'), 0, 0, 1, 1]])), r'batch index\) must be an integer'),
    (dict(rois=torch.tensor([[0, 0, 0, 1, 1]], dtype=torch.float64)), 'rois must have the dtype of input'),
    (dict(rois=torch.tensor([[0, float('nan'), 0, 1, 1]])), 'non-finite coordinate'),
    (dict(rois=torch.tensor([[0, 0, 0, float('inf'), 1]])), 'non-finite coordinate'),
    (dict(rois=[torch.zeros(2, 5)]), r'rois\[0\] must be a Tensor\[L, 4\]'),
    (dict(rois=[]), 'an empty list has no images'),
    (dict(output_size=0), 'output_size must be positive'),
    (dict(output_size=(2, -1)), 'output_size must be positive'),
    (dict(output_size=(2,)), 'output_size must be an int or a pair of ints'),
    (dict(output_size=(2, 3, 4)), 'output_size must be an int or a pair of ints'),
    (dict(output_size=2.5), 'output_size must be an int or a pair of ints'),
    (dict(output_size=(2, 3.0)), 'output_size must be an int or a pair of ints'),
    (dict(output_size=True), 'output_size must be an int or a pair of ints'),
    (dict(output_size=None), 'output_size must be an int or a pair of ints'),
    (dict(spatial_scale=float('nan')), 'spatial_scale must be a finite number > 0'),
    (dict(spatial_scale=float('inf')), 'spatial_scale must be a finite number > 0'),
    (dict(spatial_scale=-float('inf')), 'spatial_scale must be a finite number > 0'),
    (dict(spatial_scale=0.0), 'spatial_scale must be a finite number > 0'),
    (dict(spatial_scale=-0.25), 'spatial_scale must be a finite number > 0'),
    (dict(spatial_scale='0.25'), 'spatial_scale must be a number'),
    (dict(spatial_scale=None), 'spatial_scale must be a number'),
    (dict(spatial_scale=True), 'spatial_scale must be a number'),
])
def test_bad_input_gives_clear_error(kwargs, match):
    args = dict(input=torch.zeros(2, 3, 5, 5), rois=torch.tensor([[0, 0, 0, 1, 1.0]]), output_size=2)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        prroi_pool(**args)


@pytest.mark.parametrize('kwargs,match', [
    (dict(output_size=(0, 2)), 'output_size must be positive'),
    (dict(output_size='7'), 'output_size must be an int or a pair'),
    (dict(spatial_scale=float('nan')), 'spatial_scale must be a finite number > 0'),
    (dict(spatial_scale=0), 'spatial_scale must be a finite number > 0'),
])
def test_module_checks_its_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PrRoIPool2d(**{'output_size': 7, 'spatial_scale': 0.25, **kwargs})


def test_rois_on_another_device_is_a_clear_error():
    # The meta device stands in for a second device on this GPU-less machine.
    with pytest.raises(ValueError, match='rois must be on the device of input'):
        prroi_pool(torch.zeros(1, 2, 5, 5), torch.zeros(1, 5, device='meta'), 2)


def _direct_calls(impl):
    """The three ops called directly (no Python checks), for impl '' (the kernels) or
    '_nchw' (the CUDA kernels' code on the host), with one argument spoiled per case."""
    x, r = torch.zeros(2, 3, 5, 5), torch.tensor([[0, 0, 0, 4, 4.0]])
    g = torch.zeros(1, 3, 2, 2)
    prefix = '_' if impl else ''
    fwd = getattr(op, f'{prefix}prroi_pool_forward{impl}')
    bwd_in = getattr(op, f'_prroi_pool_backward_input{impl}')  # private either way
    bwd_rois = getattr(op, f'_prroi_pool_backward_rois{impl}')
    return [
        (lambda: fwd(x, r, 2, 2, 1.0), None),  # the unspoiled call
        (lambda: fwd(x[0], r, 2, 2, 1.0), r'input must be 4-D \[N, C, H, W\]'),
        (lambda: fwd(x.long(), r.long(), 2, 2, 1.0), 'input must be float16, bfloat16, float32 or float64'),
        (lambda: fwd(x, r[:, :4], 2, 2, 1.0), r'rois must have shape \[K, 5\]'),
        (lambda: fwd(x, r.double(), 2, 2, 1.0), 'rois must have the dtype of input'),
        (lambda: fwd(x, r, 0, 2, 1.0), r'output_size \(pooled_height, pooled_width\) must be positive'),
        (lambda: fwd(x, r, 2, -3, 1.0), r'output_size \(pooled_height, pooled_width\) must be positive'),
        (lambda: fwd(x, r, 2**31, 2, 1.0), r'output_size .* must be positive ints, got \(2147483648, 2\)'),
        (lambda: fwd(x, r, 2, 2, float('nan')), 'spatial_scale must be a finite number > 0, got nan'),
        (lambda: fwd(x, r, 2, 2, float('inf')), 'spatial_scale must be a finite number > 0, got inf'),
        (lambda: fwd(x, r, 2, 2, 0.0), 'spatial_scale must be a finite number > 0'),
        (lambda: fwd(x, r, 2, 2, -1.0), 'spatial_scale must be a finite number > 0'),
        (lambda: fwd(x, r + torch.tensor([3.0, 0, 0, 0, 0]), 2, 2, 1.0), r'rois\[0, 0\] \(batch index\)'),
        (lambda: fwd(x, r + torch.tensor([0.5, 0, 0, 0, 0]), 2, 2, 1.0), r'rois\[0, 0\] \(batch index\)'),
        (lambda: fwd(x, r * torch.tensor([1, 1, float('nan'), 1, 1]), 2, 2, 1.0),
         r'rois\[0, 2\] \(a box coordinate\) must be finite'),
        (lambda: fwd(x, r * torch.tensor([1, 1, 1, float('inf'), 1]), 2, 2, 1.0),
         r'rois\[0, 3\] \(a box coordinate\) must be finite'),
        (lambda: bwd_in(g, r, 2, 2, 1.0, 2, 3, 5, 5), None),  # the unspoiled call
        (lambda: bwd_in(g[:, :2], r, 2, 2, 1.0, 2, 3, 5, 5),
         r'grad_output must have shape \[K, C, ph, pw\] = \[1, 3, 2, 2\]'),
        (lambda: bwd_in(g, r, 2, 3, 1.0, 2, 3, 5, 5), r'grad_output must have shape'),
        (lambda: bwd_in(g.double(), r, 2, 2, 1.0, 2, 3, 5, 5), 'rois must have the dtype of grad_output'),
        (lambda: bwd_in(g, r, 2, 2, float('nan'), 2, 3, 5, 5), 'spatial_scale must be a finite number > 0'),
        (lambda: bwd_in(g, r, 2, 2, 1.0, 2, 3, -5, 5), r'must be \[N, C, H, W\] with sizes >= 0'),
        (lambda: bwd_in(g, r, 2, 2, 1.0, 0, 3, 5, 5), r'batch index\) must be an integer in \[0, 0\)'),
        (lambda: bwd_rois(g, g, x, r, 2, 2, 1.0), None),  # the unspoiled call
        (lambda: bwd_rois(g, g[:, :, :1], x, r, 2, 2, 1.0), 'output must have shape'),
        (lambda: bwd_rois(g, g.double(), x, r, 2, 2, 1.0), 'output must have the dtype and device of rois'),
        (lambda: bwd_rois(g.double(), g, x, r, 2, 2, 1.0), 'grad_output must have the dtype and device of rois'),
        (lambda: bwd_rois(g, g, x[:, :2], r, 2, 2, 1.0), r'grad_output must have shape .* = \[1, 2, 2, 2\]'),
        (lambda: bwd_rois(g, g, x, r, 2, 2, -0.5), 'spatial_scale must be a finite number > 0'),
        (lambda: bwd_rois(g, g, x, r.half(), 2, 2, 1.0), 'rois must have the dtype of input'),
    ]


@pytest.mark.parametrize('impl', ['', '_nchw'], ids=['kernels', 'cuda-code-on-cpu'])
@pytest.mark.parametrize('case', range(len(_direct_calls(''))))
def test_direct_op_calls_check_every_argument(impl, case):
    # Direct torch.ops callers bypass the Python checks; the ops must refuse with a message
    # naming the argument, not compute garbage or read wild memory.
    call, match = _direct_calls(impl)[case]
    if match is None:  # the unspoiled call works, so each spoiled one fails for its reason
        call()
        return
    with pytest.raises(RuntimeError, match=match):
        call()


def test_fallback_without_extension_warns_and_agrees(monkeypatch):
    import importlib
    library = importlib.import_module('iou_aware.ops._library')
    module = importlib.import_module('iou_aware.ops.prroi_pool')
    input, rois = torch.randn(1, 2, 6, 6), torch.tensor([[0, 0.5, 1.0, 4.5, 5.0]])
    want = prroi_pool(input, rois, 2)
    monkeypatch.setattr(module, 'has_extension', lambda: False)
    monkeypatch.setattr(library, '_warned', set())
    with pytest.warns(RuntimeWarning, match='falls back to the slow pure-PyTorch reference'):
        got = prroi_pool(input, rois, 2)
    torch.testing.assert_close(got, want)
