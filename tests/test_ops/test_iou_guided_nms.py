"""IoU-guided NMS: the sweep (CPU op), the mask algorithm (CUDA op, and its CPU twin) and
the old greedy kernel against the plain-loop reference and each other."""
import importlib
import math

import numpy as np
import pytest
import torch

from iou_aware.ops import (batched_iou_guided_nms, has_extension, iou_guided_nms,
                           iou_guided_nms_reference)

from tests.conftest import DEVICES
from tests.test_ops.nms_cases import batched_reference, greedy, make_case, masked

pytestmark = pytest.mark.skipif(not has_extension(), reason='iou_aware._C not built')


def masked_in_chunks(*args):
    return masked(*args, chunk_words=3)  # a few rows per chunk: exercises the chunk seams


ALGORITHMS = pytest.mark.parametrize('nms', [iou_guided_nms, greedy, masked, masked_in_chunks],
                                     ids=['sweep', 'greedy', 'masked', 'masked-chunks'])


def assert_same(got, expected):
    assert got[0].tolist() == expected[0].tolist()
    assert got[1].dtype == expected[1].dtype and torch.equal(got[1].cpu(), expected[1].cpu())


@ALGORITHMS
def test_cluster_takes_its_best_score_and_ranking_follows_predicted_iou(nms):
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60.0]])
    scores = torch.tensor([0.3, 0.9, 0.6])
    ious = torch.tensor([0.9, 0.8, 0.5])
    keep, kept = nms(boxes, scores, ious, 0.5)
    assert keep.tolist() == [0, 2]
    torch.testing.assert_close(kept, torch.tensor([0.9, 0.6]))


@ALGORITHMS
def test_overlap_equal_to_the_threshold_does_not_suppress(nms):
    boxes = torch.tensor([[0, 0, 3, 1], [1, 0, 4, 1.0]])  # IoU exactly 2 / 4
    keep, _ = nms(boxes, torch.tensor([0.5, 0.6]), torch.tensor([0.7, 0.6]), 0.5)
    assert keep.tolist() == [0, 1]
    keep, kept = nms(boxes, torch.tensor([0.5, 0.6]), torch.tensor([0.7, 0.6]), 0.49)
    assert keep.tolist() == [0] and kept.tolist() == [pytest.approx(0.6)]


@ALGORITHMS
def test_ties_in_predicted_iou_keep_the_lower_index_first(nms):
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10.0]])
    keep, kept = nms(boxes, torch.tensor([0.1, 0.7, 0.2]), torch.full((3,), 0.5), 0.5)
    assert keep.tolist() == [0] and kept.tolist() == [pytest.approx(0.7)]


@ALGORITHMS
def test_suppressed_boxes_do_not_suppress(nms):
    # 0 removes 1; 1 would have removed 2, but a removed box takes no part any more.
    boxes = torch.tensor([[0, 0, 10, 10], [4, 0, 14, 10], [9, 0, 19, 10.0]])
    keep, kept = nms(boxes, torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.9, 0.8, 0.7]), 0.3)
    assert keep.tolist() == [0, 2] and kept.tolist() == pytest.approx([0.2, 0.3])


@ALGORITHMS
def test_boxes_without_area_overlap_nothing(nms):
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 0], [10, 10, 0, 0], [5, 5, 5, 5.0]])
    keep, kept = nms(boxes, torch.rand(4), torch.tensor([0.4, 0.9, 0.8, 0.7]), 0.0)
    assert keep.tolist() == [1, 2, 3, 0]


@pytest.mark.parametrize('kind', ['clustered', 'detector', 'sparse', 'mixed', 'grid'])
@pytest.mark.parametrize('threshold', [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize('n,seed', [(64, 0), (129, 1), (300, 2)])
def test_matches_reference_and_greedy(kind, threshold, n, seed):
    # 64 and 129 boxes: masks of exactly one word, and a last word with one bit.
    boxes, scores, ious, _ = make_case(kind, n, seed)
    expected = iou_guided_nms_reference(boxes, scores, ious, threshold)
    assert_same(greedy(boxes, scores, ious, threshold), expected)
    for nms in (iou_guided_nms, masked, masked_in_chunks):
        keep, kept = nms(boxes, scores, ious, threshold)
        assert_same((keep, kept), expected)
    assert torch.all(kept >= scores[keep])  # a kept box never loses score
    assert torch.all(ious[keep][:-1] >= ious[keep][1:])  # kept in predicted-IoU order


def test_random_workloads_do_suppress():
    # Guards the cases above against being trivial (nothing or everything suppressed).
    for kind in ('clustered', 'detector', 'mixed', 'grid'):
        boxes, scores, ious, _ = make_case(kind, 300, 2)
        assert 5 < len(iou_guided_nms(boxes, scores, ious, 0.5)[0]) < 300
    boxes, scores, ious, _ = make_case('sparse', 3000, 2)
    assert 2000 < len(iou_guided_nms(boxes, scores, ious, 0.5)[0]) < 3000


@pytest.mark.parametrize('kind,n', [('clustered', 3000), ('detector', 20000), ('sparse', 10000),
                                    ('mixed', 5000)])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_many_boxes_equal_greedy(kind, n, dtype):
    boxes, scores, ious, _ = make_case(kind, n, 5, dtype=dtype, ties=False)
    expected = greedy(boxes, scores, ious, 0.5)
    assert_same(iou_guided_nms(boxes, scores, ious, 0.5), expected)
    assert_same(masked(boxes, scores, ious, 0.5, chunk_words=1 << 14), expected)


def test_float32_matches_float64_ranking():
    boxes, scores, ious, _ = make_case('clustered', 200, 9, ties=False)
    k64, _ = iou_guided_nms(boxes, scores, ious, 0.5)
    k32, s32 = iou_guided_nms(boxes.float(), scores.float(), ious.float(), 0.5)
    assert k32.tolist() == k64.tolist() and s32.dtype == torch.float32


def test_mixed_dtypes_are_promoted():
    boxes, scores, ious, _ = make_case('clustered', 100, 3)
    keep, kept = iou_guided_nms(boxes.half(), scores.float(), ious.half(), 0.5)
    assert kept.dtype == torch.float32
    assert_same((keep, kept), greedy(boxes.half().float(), scores.float(), ious.half().float(), 0.5))


@pytest.mark.parametrize('nms', [iou_guided_nms, greedy, masked, masked_in_chunks])
def test_empty_input(nms):
    for dtype in (torch.float32, torch.float64):
        keep, kept = nms(torch.zeros(0, 4, dtype=dtype), torch.zeros(0, dtype=dtype),
                         torch.zeros(0, dtype=dtype), 0.5)
        assert keep.shape == (0,) and keep.dtype == torch.long
        assert kept.shape == (0,) and kept.dtype == dtype
    keep, kept = batched_iou_guided_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0),
                                        torch.zeros(0, dtype=torch.long), 0.5)
    assert keep.shape == (0,) and kept.shape == (0,)


@pytest.mark.parametrize('kind', ['clustered', 'mixed', 'grid'])
@pytest.mark.parametrize('categories', [1, 4])
def test_batched_equals_per_category_reference(kind, categories):
    boxes, scores, ious, idxs = make_case(kind, 240, 11, categories=categories)
    got = batched_iou_guided_nms(boxes, scores, ious, idxs, 0.5)
    assert_same(got, batched_reference(boxes, scores, ious, idxs, 0.5))
    assert_same(got, greedy(boxes, scores, ious, 0.5, idxs))
    assert_same(masked_in_chunks(boxes, scores, ious, 0.5, idxs), got)


def test_batched_is_exact_where_coordinate_offsets_would_round():
    # Boxes 0 and 1 (category 1) overlap by exactly the threshold: both stay. Shifting
    # category 1 by the coordinate span (torchvision's batched trick) rounds their float32
    # coordinates near 1000 and made box 0 remove box 1; comparing categories keeps it exact.
    from torchvision.ops import box_iou
    x = 0.1685
    boxes = torch.tensor([[x, 0, x + 1, 1], [x + 0.5, 0, x + 1.5, 1], [0, 0, 1000.3, 1000.3]])
    thr = box_iou(boxes[:1], boxes[1:2]).item()
    args = (boxes, torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.9, 0.8, 0.7]), torch.tensor([1, 1, 0]))
    keep, _ = batched_iou_guided_nms(*args, thr)
    assert keep.tolist() == [0, 1, 2]
    assert_same((keep, _), batched_reference(*args, thr))


# ---- argument validation: the Python API and direct op calls (the C++ checks) --------

def _ops():
    return {'api': lambda b, s, i, t, c=None: (iou_guided_nms(b, s, i, t) if c is None else
                                               batched_iou_guided_nms(b, s, i, c, t)),
            'op': lambda b, s, i, t, c=None: torch.ops.iou_aware.iou_guided_nms(b, s, i, t, c),
            'greedy-op': greedy,
            'masked-op': masked}


CALLS = pytest.mark.parametrize('call', list(_ops()))


def _valid(n=5):
    boxes, scores, ious, _ = make_case('grid', n, 0)
    return boxes, scores, ious


@CALLS
@pytest.mark.parametrize('thr', [math.nan, math.inf, -math.inf, -0.1, 1.5])
def test_bad_threshold_value(call, thr):
    with pytest.raises(ValueError, match=r'iou_threshold must be a finite number in \[0, 1\]'):
        _ops()[call](*_valid(), thr)


@pytest.mark.parametrize('thr', ['0.5', None, True, torch.tensor(0.5), [0.5]])
def test_threshold_must_be_a_number(thr):
    for fn in (iou_guided_nms, lambda b, s, i, t: batched_iou_guided_nms(b, s, i, torch.zeros(5, dtype=torch.long), t)):
        with pytest.raises(TypeError, match='iou_threshold must be a number'):
            fn(*_valid(), thr)


def test_numpy_and_int_thresholds_are_numbers():
    for thr in (np.float32(0.5), np.float64(0.5), 0, 1):
        assert_same(iou_guided_nms(*_valid(), thr), greedy(*_valid(), float(thr)))


@CALLS
@pytest.mark.parametrize('name', ['boxes', 'scores', 'ious'])
@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
def test_non_finite_input_names_the_argument_and_first_index(call, name, bad):
    args = dict(zip(('boxes', 'scores', 'ious'), _valid(6)))
    args[name][4] = bad
    args[name][-1] = math.nan  # a later one is not the one reported
    with pytest.raises(ValueError, match=rf'{name} must be finite, got NaN or inf at index 4\b'):
        _ops()[call](args['boxes'], args['scores'], args['ious'], 0.5)


def test_non_finite_without_the_extension_same_message(monkeypatch):
    mod = importlib.import_module('iou_aware.ops.iou_guided_nms')  # (the function shadows it)
    monkeypatch.setattr(mod, 'has_extension', lambda: False)
    monkeypatch.setattr(mod, 'warn_fallback', lambda op: None)
    boxes, scores, ious = _valid(6)
    ious[3] = math.nan
    with pytest.raises(ValueError, match=r'ious must be finite, got NaN or inf at index 3: \[nan\]'):
        mod.iou_guided_nms(boxes, scores, ious, 0.5)
    boxes[2, 1] = math.inf
    with pytest.raises(ValueError, match=r'boxes must be finite, got NaN or inf at index 2: \[.*inf'):
        mod.batched_iou_guided_nms(boxes, scores, ious, torch.zeros(6, dtype=torch.long), 0.5)


@CALLS
@pytest.mark.parametrize('args,exc,match', [
    ((torch.zeros(3, 5), torch.zeros(3), torch.zeros(3)), ValueError, r'boxes must be Tensor\[N, 4\]'),
    ((torch.zeros(3), torch.zeros(3), torch.zeros(3)), ValueError, r'boxes must be Tensor\[N, 4\]'),
    ((torch.zeros(3, 4), torch.zeros(2), torch.zeros(3)), ValueError, r'scores must be Tensor\[3\]'),
    ((torch.zeros(3, 4), torch.zeros(3), torch.zeros(3, 1)), ValueError, r'ious must be Tensor\[3\]'),
    ((torch.zeros(3, 4, dtype=torch.long), torch.zeros(3), torch.zeros(3)), TypeError, 'boxes.*float'),
])
def test_bad_shapes_and_dtypes(call, args, exc, match):
    with pytest.raises(exc, match=match):
        _ops()[call](*args, 0.5)


def test_direct_op_calls_need_one_float_dtype():
    boxes, scores, ious = _valid()
    with pytest.raises(TypeError, match='float32 or float64, one dtype'):
        torch.ops.iou_aware.iou_guided_nms(boxes.float(), scores, ious, 0.5)


@CALLS
@pytest.mark.parametrize('idxs,exc,match', [
    (torch.zeros(4, dtype=torch.long), ValueError, r'idxs must be Tensor\[5\]'),
    (torch.zeros(5, 1, dtype=torch.long), ValueError, r'idxs must be Tensor\[5\]'),
    (torch.zeros(5), TypeError, 'idxs must be an int'),
    (torch.zeros(5, dtype=torch.bool), TypeError, 'idxs must be an int'),
])
def test_bad_idxs(call, idxs, exc, match):
    with pytest.raises(exc, match=match):
        _ops()[call](*_valid(), 0.5, idxs)


def test_batched_accepts_any_integer_idxs():
    boxes, scores, ious, idxs = make_case('grid', 50, 1, categories=3)
    expected = batched_iou_guided_nms(boxes, scores, ious, idxs, 0.5)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        assert_same(batched_iou_guided_nms(boxes, scores, ious, idxs.to(dtype), 0.5), expected)


@pytest.mark.parametrize('op', ['iou_guided_nms', '_iou_guided_nms_greedy', '_iou_guided_nms_masked'])
@pytest.mark.parametrize('with_idxs', [False, True])
def test_opcheck(op, with_idxs):
    boxes, scores, ious, idxs = make_case('clustered', 50, 3, categories=3)
    torch.library.opcheck(getattr(torch.ops.iou_aware, op),
                          (boxes, scores, ious, 0.5, idxs if with_idxs else None))


# ---- on each device (the CUDA cases skip with a reason without a GPU) -------------------

def _on(device, *tensors):
    return tuple(None if t is None else t.to(device) for t in tensors)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('kind,n', [('clustered', 300), ('grid', 300), ('mixed', 300),
                                    ('sparse', 300)])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_device_matches_reference(device, kind, n, dtype):
    boxes, scores, ious, idxs = make_case(kind, n, 21, dtype=dtype, categories=3)
    expected = iou_guided_nms_reference(boxes, scores, ious, 0.5)
    args = _on(device, boxes, scores, ious)
    keep, kept = iou_guided_nms(*args, 0.5)
    assert keep.device.type == device and kept.device.type == device
    assert_same((keep, kept), expected)
    assert_same(masked(*args, 0.5, chunk_words=3), expected)
    expected = batched_reference(boxes, scores, ious, idxs, 0.5)
    assert_same(batched_iou_guided_nms(*args, idxs.to(device), 0.5), expected)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('kind,n', [('detector', 20000), ('sparse', 20000), ('mixed', 5000),
                                    ('clustered', 20000)])
def test_device_matches_cpu_kernel_on_many_boxes(device, kind, n):
    # Up to 20k boxes: many mask words per row, and several chunks at 2^16 words each.
    if device == 'cpu' and kind == 'clustered':
        pytest.skip('all 20k boxes x-overlap: the CPU twin would compute N^2 / 64 words')
    boxes, scores, ious, idxs = make_case(kind, n, 22, dtype=torch.float32, ties=False,
                                          categories=5)
    expected = iou_guided_nms(boxes, scores, ious, 0.5)
    if kind != 'sparse':  # greedy is O(N^2) on sparse boxes
        assert_same(expected, greedy(boxes, scores, ious, 0.5))
    args = _on(device, boxes, scores, ious)
    assert_same(iou_guided_nms(*args, 0.5), expected)
    assert_same(masked(*args, 0.5, chunk_words=1 << 16), expected)
    expected = batched_iou_guided_nms(boxes, scores, ious, idxs, 0.5)
    assert_same(batched_iou_guided_nms(*args, idxs.to(device), 0.5), expected)


@pytest.mark.parametrize('device', DEVICES)
def test_device_exact_ties_and_empty(device):
    # 130 identical boxes with equal predicted IoUs (three mask words): the first one stays.
    boxes = torch.tensor([[0, 0, 10, 10.0]]).repeat(130, 1)
    scores = torch.linspace(0, 1, 130)
    keep, kept = iou_guided_nms(*_on(device, boxes, scores, torch.full((130,), 0.5)), 0.5)
    assert keep.tolist() == [0] and kept.tolist() == [1.0]
    idxs = torch.arange(130) % 2
    keep, kept = batched_iou_guided_nms(*_on(device, boxes, scores, torch.full((130,), 0.5), idxs), 0.5)
    assert keep.tolist() == [0, 1] and kept.tolist() == [scores[128].item(), 1.0]
    keep, kept = iou_guided_nms(*_on(device, torch.zeros(0, 4), torch.zeros(0), torch.zeros(0)), 0.5)
    assert keep.shape == (0,) and keep.device.type == device
