"""Property-based tests (hypothesis): IoU-guided NMS and its batched variant equal the
plain-loop reference, the greedy kernel and the mask algorithm on generated inputs.

Deterministic (derandomize=True, no example database), so CI sees the same examples on
every run. Two kinds of inputs: "recipes" (sizes 0..300 from a few drawn knobs: scale up to
1e6, placement far outside any canvas, density, integer grids for exact ties and
threshold-equal IoUs, degenerate and reversed boxes, tied predicted IoUs, float32/float64)
filled in by a seeded generator, and a handful of boxes drawn value by value, which
hypothesis can shrink to a minimal counterexample.
"""
import pytest
import torch

from iou_aware.ops import (batched_iou_guided_nms, has_extension, iou_guided_nms,
                           iou_guided_nms_reference)

from tests.test_ops.nms_cases import batched_reference, greedy, masked

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import given, settings, strategies as st  # noqa: E402

pytestmark = pytest.mark.skipif(not has_extension(), reason='iou_aware._C not built')

EXAMPLES = {'recipe': 120, 'recipe_batched': 80, 'drawn': 300, 'drawn_batched': 200}


def deterministic(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


@pytest.fixture(autouse=True)
def _one_thread():
    # Hundreds of tiny ops per example: on a busy 2-core machine, ATen's thread pool costs
    # more than it gains (tens of ms per parallel op), which would dominate the run time.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


THRESHOLDS = st.one_of(st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 2 / 3, 1.0]),
                       st.floats(0, 1, allow_nan=False))


@st.composite
def recipes(draw, max_n=300):
    n = draw(st.integers(0, max_n))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    size = draw(st.sampled_from([1e-3, 1.0, 20.0, 1e3, 1e6]))
    origin = draw(st.sampled_from([0.0, -5e3, 1e6, -1e6]))  # outside any image, huge
    spread = draw(st.sampled_from([0.0, 0.5, 3.0, 50.0]))  # in box sizes: dense .. sparse
    if draw(st.booleans()):  # integer grid: duplicates, IoUs of exactly 1/2, 1/3, ...
        xy = torch.randint(0, 1 + int(4 * spread), (n, 2), generator=g).to(dtype)
        wh = torch.randint(0, 4, (n, 2), generator=g).to(dtype)  # 0: no area
        boxes = origin + size * torch.cat([xy, xy + wh], dim=1)
    else:
        xy = torch.rand(n, 2, generator=g, dtype=dtype) * spread * size
        wh = size * torch.exp(torch.randn(n, 2, generator=g, dtype=dtype))
        boxes = origin + torch.cat([xy, xy + wh], dim=1)
    odd = torch.rand(n, generator=g) < draw(st.sampled_from([0.0, 0.1, 0.5]))
    boxes[odd] = boxes[odd][:, [2, 3, 0, 1]]  # reversed
    flat = torch.rand(n, generator=g) < draw(st.sampled_from([0.0, 0.1]))
    boxes[flat, 2] = boxes[flat, 0]  # zero width
    levels = draw(st.sampled_from([0, 1, 3, 16]))  # predicted IoUs on few levels: ties
    ious = torch.rand(n, generator=g, dtype=dtype)
    if levels:
        ious = torch.floor(ious * levels) / levels
    scores = torch.rand(n, generator=g, dtype=dtype)
    if draw(st.booleans()):
        scores = torch.floor(scores * 4) / 4  # equal scores within clusters
    idxs = torch.randint(0, draw(st.integers(1, 4)), (n,), generator=g)
    return boxes, scores, ious, idxs, draw(THRESHOLDS)


COORD = st.one_of(st.integers(0, 3).map(float), st.floats(-1, 5, allow_nan=False, width=32))
SIDE = st.one_of(st.integers(0, 4).map(float), st.floats(-1, 6, allow_nan=False, width=32))  # <= 0: no area


@st.composite
def drawn(draw, max_n=10):
    n = draw(st.integers(0, max_n))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    rows = [(x, y, x + w, y + h) for x, y, w, h in
            draw(st.lists(st.tuples(COORD, COORD, SIDE, SIDE), min_size=n, max_size=n))]
    origin = draw(st.sampled_from([0.0, 1e6, -1e6]))  # float32 rounds small boxes there
    level = st.sampled_from([0.0, 0.25, 0.5, 1.0])
    scores = draw(st.lists(level, min_size=n, max_size=n))
    ious = draw(st.lists(level, min_size=n, max_size=n))
    idxs = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    return (origin + torch.tensor(rows, dtype=dtype).reshape(n, 4), torch.tensor(scores, dtype=dtype),
            torch.tensor(ious, dtype=dtype), torch.tensor(idxs, dtype=torch.long),
            draw(THRESHOLDS))


def assert_same(got, expected):
    assert got[0].tolist() == expected[0].tolist()
    assert got[1].dtype == expected[1].dtype and torch.equal(got[1], expected[1])


def check_single(boxes, scores, ious, thr):
    expected = iou_guided_nms_reference(boxes, scores, ious, thr)
    assert_same(iou_guided_nms(boxes, scores, ious, thr), expected)
    assert_same(greedy(boxes, scores, ious, thr), expected)
    assert_same(masked(boxes, scores, ious, thr, chunk_words=2), expected)


def check_batched(boxes, scores, ious, idxs, thr):
    expected = batched_reference(boxes, scores, ious, idxs, thr)
    assert_same(batched_iou_guided_nms(boxes, scores, ious, idxs, thr), expected)
    assert_same(greedy(boxes, scores, ious, thr, idxs), expected)
    assert_same(masked(boxes, scores, ious, thr, idxs, chunk_words=2), expected)


@deterministic(EXAMPLES['recipe'])
@given(recipes())
def test_iou_guided_nms_equals_reference(case):
    boxes, scores, ious, _, thr = case
    check_single(boxes, scores, ious, thr)


@deterministic(EXAMPLES['recipe_batched'])
@given(recipes())
def test_batched_equals_per_category_reference(case):
    check_batched(*case)


@deterministic(EXAMPLES['drawn'])
@given(drawn())
def test_iou_guided_nms_equals_reference_on_drawn_boxes(case):
    boxes, scores, ious, _, thr = case
    check_single(boxes, scores, ious, thr)


@deterministic(EXAMPLES['drawn_batched'])
@given(drawn())
def test_batched_equals_per_category_reference_on_drawn_boxes(case):
    check_batched(*case)
