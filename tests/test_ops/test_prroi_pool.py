"""PrRoIPool against independent oracles: the cell-by-cell exact reference, numerical
integration with torch's grid_sample, finite differences (gradcheck) and opcheck."""
import pytest
import torch
import torch.nn.functional as F

from iou_aware.ops import PrRoIPool2d, has_extension, prroi_pool, prroi_pool_reference
from tests.conftest import cuda_only

pytestmark = pytest.mark.skipif(not has_extension(), reason='iou_aware._C not built')

op = torch.ops.iou_aware


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


def numeric_prroi_pool(input, rois, ph, pw, scale, samples=96):
    """Midpoint-rule integral of the bilinear interpolant (zero outside the map), sampled
    with grid_sample: an oracle that shares no code or formula with the kernels."""
    n_img, channels, height, width = input.shape
    out = input.new_zeros(rois.shape[0], channels, ph, pw)
    t = (torch.arange(samples, dtype=input.dtype) + 0.5) / samples
    for k, (n, x1, y1, x2, y2) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = x1 * scale, y1 * scale, x2 * scale, y2 * scale
        bw, bh = max(x2 - x1, 0) / pw, max(y2 - y1, 0) / ph
        if bw * bh == 0:
            continue
        xs = x1 + (torch.arange(pw, dtype=input.dtype)[:, None] + t[None, :]) * bw  # [pw, S]
        ys = y1 + (torch.arange(ph, dtype=input.dtype)[:, None] + t[None, :]) * bh  # [ph, S]
        gx = 2 * xs.reshape(-1) / (width - 1) - 1
        gy = 2 * ys.reshape(-1) / (height - 1) - 1
        grid = torch.stack(torch.meshgrid(gy, gx, indexing='ij')[::-1], dim=-1)[None]
        vals = F.grid_sample(input[int(n)][None], grid, mode='bilinear', padding_mode='zeros',
                             align_corners=True)[0]  # [C, ph*S, pw*S]
        out[k] = vals.reshape(channels, ph, samples, pw, samples).mean(dim=(2, 4))
    return out


@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize('output_size,scale', [((7, 7), 0.25), ((3, 5), 0.5), ((2, 1), 1.0)])
def test_matches_exact_reference(dtype, tol, output_size, scale):
    g = torch.Generator().manual_seed(1)
    input = torch.randn(3, 4, 13, 17, generator=g, dtype=torch.float64).to(dtype)
    rois = random_rois(12, 3, 13, 17, scale, dtype, g)
    got = prroi_pool(input, rois, output_size, scale)
    want = prroi_pool_reference(input.double(), rois.double(), *output_size, scale)
    assert got.shape == (12, 4, *output_size) and got.dtype == dtype
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


def test_matches_numerical_integration():
    g = torch.Generator().manual_seed(2)
    input = torch.randn(2, 3, 9, 11, generator=g, dtype=torch.float64)
    rois = random_rois(8, 2, 9, 11, 0.5, torch.float64, g)
    got = prroi_pool(input, rois, (3, 4), 0.5)
    want = numeric_prroi_pool(input, rois, 3, 4, 0.5)
    # Midpoint rule on a piecewise bilinear function: error O(1/samples^2).
    torch.testing.assert_close(got, want, rtol=0, atol=2e-3)
    assert got.abs().max() > 0.05


def test_mmcv_hand_computed_case():
    input = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    rois = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0]])
    out = prroi_pool(input, rois, 2)
    torch.testing.assert_close(out, torch.tensor([[[[1.75, 2.25], [2.75, 3.25]]]]))


def test_constant_map_inside_gives_the_constant():
    input = torch.full((1, 2, 10, 10), 3.0, dtype=torch.float64)
    rois = torch.tensor([[0, 1.3, 2.7, 8.1, 6.6]], dtype=torch.float64)
    torch.testing.assert_close(prroi_pool(input, rois, (4, 3)), torch.full((1, 2, 4, 3), 3.0,
                                                                          dtype=torch.float64))


def gradcheck_prroi(input, rois, output_size, scale):
    """float64 gradcheck w.r.t. the features and the four box coordinates (gradcheck
    perturbs every element, and the batch-index column must stay integral)."""
    index = rois[:, :1].detach()
    coords = rois[:, 1:].detach().clone().requires_grad_()
    x = input.detach().clone().requires_grad_()
    fn = lambda x, c: prroi_pool(x, torch.cat([index, c], dim=1), output_size, scale)  # noqa: E731
    return torch.autograd.gradcheck(fn, (x, coords), eps=1e-6, atol=1e-6)


def test_gradcheck_features_and_rois():
    g = torch.Generator().manual_seed(3)
    input = torch.randn(2, 2, 6, 7, generator=g, dtype=torch.float64)
    rois = random_rois(5, 2, 6, 7, 0.5, torch.float64, g)
    assert gradcheck_prroi(input, rois, (2, 3), 0.5)


def test_gradients_match_reference_autograd():
    g = torch.Generator().manual_seed(4)
    input = torch.randn(2, 3, 8, 9, generator=g, dtype=torch.float64)
    rois = random_rois(6, 2, 8, 9, 0.5, torch.float64, g)
    weight = torch.randn(6, 3, 3, 2, generator=g, dtype=torch.float64)
    grads = []
    for fn in (lambda x, r: prroi_pool(x, r, (3, 2), 0.5),
               lambda x, r: prroi_pool_reference(x, r, 3, 2, 0.5)):
        x, r = input.clone().requires_grad_(), rois.clone().requires_grad_()
        (fn(x, r) * weight).sum().backward()
        grads.append((x.grad, r.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-9, atol=1e-9)
    assert torch.all(grads[0][1][:, 0] == 0)  # no gradient for the batch index


@pytest.mark.parametrize('channels', [8, 19])
def test_gradients_match_reference_many_channels_and_grid_aligned_edges(channels):
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
    grads, outs = [], []
    for fn in (lambda x, r: prroi_pool(x, r, 3, 0.5),
               lambda x, r: prroi_pool_reference(x, r, 3, 3, 0.5)):
        x, r = input.clone().requires_grad_(), rois.clone().requires_grad_()
        out = fn(x, r)
        (out * weight).sum().backward()
        outs.append(out.detach())
        grads.append((x.grad, r.grad))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-9, atol=1e-9)
    # channels-last input (what IoU-Net's refinement passes) gives the same values
    cl = input.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(prroi_pool(cl, rois, 3, 0.5), outs[0], rtol=0, atol=0)


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
            ('cpu', op.prroi_pool_forward, op.prroi_pool_backward_input, op.prroi_pool_backward_rois),
            ('cuda code', op._prroi_pool_forward_nchw, op._prroi_pool_backward_input_nchw,
             op._prroi_pool_backward_rois_nchw)]:
        o = fwd(input, rois, *args)
        results[name] = (o, bwd_in(grad, rois, *args, *input.shape), bwd_rois(grad, o, input, rois, *args))
    for got, want in zip(results['cuda code'], results['cpu']):
        assert got.dtype == want.dtype == dtype and got.shape == want.shape
        scale = max(1.0, want.double().abs().max().item())
        torch.testing.assert_close(got.double(), want.double(), rtol=tol, atol=tol * scale)
    if dtype == torch.float64:
        x, r = input.clone().requires_grad_(), rois.clone().requires_grad_()
        ref = prroi_pool_reference(x, r, *args)
        ref.backward(grad)
        for got, want in zip(results['cuda code'], (ref.detach(), x.grad, r.grad)):
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('pool', ['compiled', 'reference'])
def test_box_gradient_on_grid_lines_matches_finite_differences(pool):
    # Edges exactly on grid lines (clipped boxes land there) are where a cell-by-cell
    # integral's autograd can lose the derivative; the integral itself is smooth there.
    g = torch.Generator().manual_seed(7)
    input = torch.randn(1, 3, 9, 11, generator=g, dtype=torch.float64)
    rois = torch.tensor([[0, 2.0, 4.0, 12.0, 10.0], [0, 0.0, 0.0, 22.0, 18.0]], dtype=torch.float64)
    weight = torch.randn(2, 3, 3, 3, generator=g, dtype=torch.float64)
    fn = ((lambda r: prroi_pool(input, r, 3, 0.5)) if pool == 'compiled'
          else (lambda r: prroi_pool_reference(input, r, 3, 3, 0.5)))
    r = rois.clone().requires_grad_()
    (fn(r) * weight).sum().backward()
    numeric = torch.zeros_like(rois)
    for k in range(2):
        for d in range(1, 5):
            step = torch.zeros_like(rois)
            step[k, d] = 1e-6
            numeric[k, d] = ((fn(rois + step) - fn(rois - step)) * weight).sum() / 2e-6
    torch.testing.assert_close(r.grad, numeric, rtol=1e-6, atol=1e-7)


def test_empty_roi_set():
    input = torch.randn(2, 3, 5, 5, requires_grad=True)
    rois = torch.zeros(0, 5, requires_grad=True)
    out = prroi_pool(input, rois, 2)
    assert out.shape == (0, 3, 2, 2)
    out.sum().backward()
    assert torch.all(input.grad == 0) and rois.grad.shape == (0, 5)


@pytest.mark.parametrize('box', [[0, 2.0, 2.0, 2.0, 4.0],   # zero width
                                 [0, 2.0, 3.0, 5.0, 3.0],   # zero height
                                 [0, 4.0, 1.0, 1.0, 3.0],   # reversed x
                                 [0, 1.0, 4.0, 3.0, 1.0]])  # reversed y
def test_degenerate_boxes_give_zero_output_and_gradient(box):
    input = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([box], dtype=torch.float64, requires_grad=True)
    out = prroi_pool(input, rois, 2)
    assert torch.all(out == 0)
    out.sum().backward()
    assert torch.all(input.grad == 0) and torch.all(rois.grad == 0)


def test_box_far_outside_gives_zero():
    input = torch.randn(1, 2, 6, 6)
    rois = torch.tensor([[0, 100.0, 100.0, 120.0, 130.0], [0, -50.0, -40.0, -2.0, -1.5]])
    assert torch.all(prroi_pool(input, rois, 3) == 0)


def test_list_of_boxes_equals_tensor_form():
    input = torch.randn(2, 3, 8, 8)
    boxes = [torch.tensor([[1.0, 1.0, 5.0, 6.0]]), torch.tensor([[0.5, 2.0, 7.0, 7.5], [2.0, 2.0, 3.0, 3.0]])]
    rois = torch.tensor([[0, 1.0, 1.0, 5.0, 6.0], [1, 0.5, 2.0, 7.0, 7.5], [1, 2.0, 2.0, 3.0, 3.0]])
    torch.testing.assert_close(prroi_pool(input, boxes, 2), prroi_pool(input, rois, 2))


def test_non_contiguous_inputs():
    g = torch.Generator().manual_seed(5)
    base = torch.randn(2, 9, 10, 3, generator=g, dtype=torch.float64)
    input = base.permute(0, 3, 1, 2)  # [2, 3, 9, 10], channels-last memory
    rois_wide = torch.zeros(6, 10, dtype=torch.float64)
    rois_wide[:, ::2] = random_rois(6, 2, 9, 10, 1.0, torch.float64, g)
    rois = rois_wide[:, ::2]
    assert not input.is_contiguous() and not rois.is_contiguous()
    torch.testing.assert_close(prroi_pool(input, rois, 3),
                               prroi_pool(input.contiguous(), rois.contiguous(), 3))
    assert gradcheck_prroi(input, rois, 2, 1.0)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_accumulates_in_float32(dtype):
    # The CPU kernel takes half/bfloat16 too, which exercises the opmath (float32)
    # accumulation path the CUDA kernel uses for these types.
    g = torch.Generator().manual_seed(6)
    input = torch.randn(2, 4, 12, 12, generator=g)
    rois = random_rois(10, 2, 12, 12, 1.0, torch.float32, g)
    want = prroi_pool(input.double(), rois.double(), 3)
    got = prroi_pool(input.to(dtype), rois.to(dtype), 3)
    assert got.dtype == dtype
    tol = 2e-2 if dtype == torch.float16 else 1e-1
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


def test_opcheck_cpu():
    g = torch.Generator().manual_seed(7)
    input = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64, requires_grad=True)
    rois = random_rois(4, 2, 7, 8, 0.5, torch.float64, g).requires_grad_()
    torch.library.opcheck(op.prroi_pool_forward, (input, rois, 2, 3, 0.5))
    out = op.prroi_pool_forward(input, rois, 2, 3, 0.5).detach()
    grad = torch.randn_like(out)
    torch.library.opcheck(op.prroi_pool_backward_input, (grad, rois.detach(), 2, 3, 0.5, 2, 3, 7, 8))
    torch.library.opcheck(op.prroi_pool_backward_rois,
                          (grad, out, input.detach(), rois.detach(), 2, 3, 0.5))


def test_torch_compile_matches_eager():
    input = torch.randn(1, 2, 8, 8, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 1.5, 6.0, 7.0]], requires_grad=True)
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


@pytest.mark.parametrize('kwargs,match', [
    (dict(rois=torch.zeros(3, 4)), r'rois must be Tensor\[K, 5\]'),
    (dict(input=torch.zeros(2, 5, 5)), 'input must be a 4-D'),
    (dict(rois=torch.tensor([[2.0, 0, 0, 1, 1]])), r'rois\[0, 0\] \(batch index\) must be an integer in \[0, 2\)'),
    (dict(rois=torch.tensor([[0.5, 0, 0, 1, 1]])), r'batch index\) must be an integer'),
    (dict(rois=torch.tensor([[0, 0, 0, 1, 1]], dtype=torch.float64)), 'rois must have the dtype of input'),
    (dict(output_size=0), 'output_size must be positive'),
    (dict(output_size=(2, -1)), 'output_size must be positive'),
    (dict(rois=torch.tensor([[0, float('nan'), 0, 1, 1]])), 'non-finite coordinate'),
    (dict(rois=[torch.zeros(2, 5)]), r'rois\[0\] must be a Tensor\[L, 4\]'),
])
def test_bad_input_gives_clear_error(kwargs, match):
    args = dict(input=torch.zeros(2, 3, 5, 5), rois=torch.tensor([[0, 0, 0, 1, 1.0]]), output_size=2)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        prroi_pool(**args)


def test_rois_on_another_device_is_a_clear_error():
    # The meta device stands in for a second device on this GPU-less machine.
    with pytest.raises(ValueError, match='rois must be on the device of input'):
        prroi_pool(torch.zeros(1, 2, 5, 5), torch.zeros(1, 5, device='meta'), 2)


def test_compiled_op_checks_batch_index_itself():
    # Direct op callers bypass the Python checks; the kernel must refuse, not read wild memory.
    with pytest.raises(RuntimeError, match='batch index'):
        op.prroi_pool_forward(torch.zeros(1, 1, 4, 4), torch.tensor([[3.0, 0, 0, 1, 1]]), 2, 2, 1.0)


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


@cuda_only
@pytest.mark.parametrize('dtype,tol', [(torch.float64, 1e-10), (torch.float32, 1e-5),
                                       (torch.float16, 2e-2), (torch.bfloat16, 1e-1)])
def test_cuda_matches_cpu(dtype, tol):
    g = torch.Generator().manual_seed(8)
    input = torch.randn(2, 4, 20, 24, generator=g, dtype=torch.float64)
    rois = random_rois(16, 2, 20, 24, 0.5, torch.float64, g)
    weight = torch.randn(16, 4, 7, 7, dtype=torch.float64)
    results = []
    for device, dt in (('cpu', torch.float64), ('cuda', dtype)):
        x = input.to(device, dt).requires_grad_()
        r = rois.to(device, dt).requires_grad_()
        out = prroi_pool(x, r, 7, 0.5)
        (out * weight.to(device, dt)).sum().backward()
        results.append([t.double().cpu() for t in (out, x.grad, r.grad)])
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, rtol=tol, atol=tol * max(1.0, want.abs().max().item()))


@cuda_only
def test_cuda_gradcheck_and_opcheck():
    input = torch.randn(2, 2, 6, 7, dtype=torch.float64, device='cuda')
    rois = random_rois(5, 2, 6, 7, 0.5, torch.float64).cuda()
    assert gradcheck_prroi(input, rois, 2, 0.5)
    torch.library.opcheck(op.prroi_pool_forward, (input, rois, 2, 2, 0.5))
