"""IoU-guided NMS against a plain-loop reference, on hand-made and random inputs."""
import pytest
import torch

from iou_aware.ops import (batched_iou_guided_nms, has_extension, iou_guided_nms,
                           iou_guided_nms_reference)

from tests.conftest import cuda_only

pytestmark = pytest.mark.skipif(not has_extension(), reason='iou_aware._C not built')


def masked_nms(boxes, scores, ious, iou_threshold):
    """The CUDA kernel's algorithm (overlap bitmasks, then one sweep), run on the CPU."""
    return torch.ops.iou_aware._iou_guided_nms_masked(boxes, scores, ious, float(iou_threshold))


both_algorithms = pytest.mark.parametrize('nms', [iou_guided_nms, masked_nms],
                                          ids=['greedy', 'masked'])


def random_boxes(n, generator, dtype=torch.float64, clusters=6):
    """Boxes jittered around a few centres, so clusters and suppression chains occur."""
    centres = torch.rand(clusters, 2, generator=generator, dtype=dtype) * 100
    which = torch.randint(0, clusters, (n,), generator=generator)
    xy = centres[which] + torch.randn(n, 2, generator=generator, dtype=dtype) * 6
    wh = 10 + torch.rand(n, 2, generator=generator, dtype=dtype) * 30
    return torch.cat([xy - wh / 2, xy + wh / 2], dim=1)


@both_algorithms
def test_cluster_takes_its_best_score_and_ranking_follows_predicted_iou(nms):
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60.0]])
    scores = torch.tensor([0.3, 0.9, 0.6])
    ious = torch.tensor([0.9, 0.8, 0.5])
    keep, kept = nms(boxes, scores, ious, 0.5)
    assert keep.tolist() == [0, 2]
    torch.testing.assert_close(kept, torch.tensor([0.9, 0.6]))


@both_algorithms
def test_overlap_equal_to_the_threshold_does_not_suppress(nms):
    boxes = torch.tensor([[0, 0, 3, 1], [1, 0, 4, 1.0]])  # IoU exactly 2 / 4
    keep, _ = nms(boxes, torch.tensor([0.5, 0.6]), torch.tensor([0.7, 0.6]), 0.5)
    assert keep.tolist() == [0, 1]
    keep, kept = nms(boxes, torch.tensor([0.5, 0.6]), torch.tensor([0.7, 0.6]), 0.49)
    assert keep.tolist() == [0] and kept.tolist() == [pytest.approx(0.6)]


@both_algorithms
def test_ties_in_predicted_iou_keep_the_lower_index_first(nms):
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10.0]])
    keep, kept = nms(boxes, torch.tensor([0.1, 0.7, 0.2]), torch.full((3,), 0.5), 0.5)
    assert keep.tolist() == [0] and kept.tolist() == [pytest.approx(0.7)]


@both_algorithms
@pytest.mark.parametrize('threshold', [0.3, 0.5, 0.7])
@pytest.mark.parametrize('seed,n', [(0, 300), (1, 300), (2, 64), (3, 129)])
def test_matches_reference_on_random_inputs(nms, threshold, seed, n):
    # 64 and 129 boxes: masks of exactly one word, and a last word with one bit.
    g = torch.Generator().manual_seed(seed)
    boxes = random_boxes(n, g)
    scores, ious = torch.rand(n, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)
    ious[::7] = ious[3]  # some ties
    keep, kept = nms(boxes, scores, ious, threshold)
    ref_keep, ref_kept = iou_guided_nms_reference(boxes, scores, ious, threshold)
    assert 5 < len(keep) < n
    assert keep.tolist() == ref_keep.tolist()
    torch.testing.assert_close(kept, ref_kept)
    assert torch.all(kept >= scores[keep])  # a kept box never loses score
    assert torch.all(ious[keep][:-1] >= ious[keep][1:])  # kept in predicted-IoU order


def test_float32_matches_float64_ranking():
    g = torch.Generator().manual_seed(9)
    boxes = random_boxes(200, g)
    scores, ious = torch.rand(200, generator=g, dtype=torch.float64), torch.rand(200, generator=g, dtype=torch.float64)
    k64, _ = iou_guided_nms(boxes, scores, ious, 0.5)
    k32, s32 = iou_guided_nms(boxes.float(), scores.float(), ious.float(), 0.5)
    assert k32.tolist() == k64.tolist() and s32.dtype == torch.float32


def test_masked_algorithm_equals_greedy_on_many_boxes():
    g = torch.Generator().manual_seed(12)
    n = 2000
    boxes = random_boxes(n, g, clusters=40)
    scores, ious = torch.rand(n, generator=g), torch.rand(n, generator=g)
    keep, kept = iou_guided_nms(boxes.float(), scores, ious, 0.5)
    mkeep, mkept = masked_nms(boxes.float(), scores, ious, 0.5)
    assert 40 < len(keep) < n
    assert keep.tolist() == mkeep.tolist() and torch.equal(kept, mkept)


@cuda_only
def test_cuda_kernel_equals_cpu():
    g = torch.Generator().manual_seed(13)
    n = 3000
    boxes = random_boxes(n, g, clusters=50)
    scores, ious = torch.rand(n, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)
    for dtype in (torch.float32, torch.float64):
        args = (boxes.to(dtype), scores.to(dtype), ious.to(dtype), 0.5)
        keep, kept = iou_guided_nms(*args)
        ckeep, ckept = iou_guided_nms(*(a.cuda() if torch.is_tensor(a) else a for a in args))
        assert ckeep.is_cuda and ckeep.tolist() == keep.tolist()
        torch.testing.assert_close(ckept.cpu(), kept)


def test_empty_input():
    for nms in (iou_guided_nms, masked_nms):
        keep, kept = nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), 0.5)
        assert keep.shape == (0,) and keep.dtype == torch.long and kept.shape == (0,)
    keep, kept = batched_iou_guided_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0),
                                        torch.zeros(0, dtype=torch.long), 0.5)
    assert keep.shape == (0,) and kept.shape == (0,)


def test_batched_classes_never_suppress_each_other():
    g = torch.Generator().manual_seed(11)
    n = 240
    boxes = random_boxes(n, g, clusters=3)
    scores, ious = torch.rand(n, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)
    idxs = torch.randint(0, 4, (n,), generator=g)
    keep, kept = batched_iou_guided_nms(boxes, scores, ious, idxs, 0.5)
    expected = {}
    for c in range(4):
        members = (idxs == c).nonzero().squeeze(1)
        k, s = iou_guided_nms(boxes[members], scores[members], ious[members], 0.5)
        expected.update(zip(members[k].tolist(), s.tolist()))
    assert sorted(keep.tolist()) == sorted(expected)
    assert kept.tolist() == pytest.approx([expected[i] for i in keep.tolist()])
    assert torch.all(ious[keep][:-1] >= ious[keep][1:])


@pytest.mark.parametrize('args,match', [
    ((torch.zeros(3, 5), torch.zeros(3), torch.zeros(3)), r'boxes must be Tensor\[N, 4\]'),
    ((torch.zeros(3, 4), torch.zeros(2), torch.zeros(3)), r'scores must be Tensor\[3\]'),
    ((torch.zeros(3, 4), torch.zeros(3), torch.zeros(3, 1)), r'ious must be Tensor\[3\]'),
])
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        iou_guided_nms(*args, 0.5)


@pytest.mark.parametrize('op', ['iou_guided_nms', '_iou_guided_nms_masked'])
def test_opcheck(op):
    g = torch.Generator().manual_seed(3)
    boxes = random_boxes(50, g)
    torch.library.opcheck(getattr(torch.ops.iou_aware, op),
                          (boxes, torch.rand(50, dtype=torch.float64), torch.rand(50, dtype=torch.float64), 0.5))
