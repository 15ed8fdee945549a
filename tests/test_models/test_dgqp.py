"""GFLv2's DGQP on mmdet's GFLHead: the product's logit is exact and finite, the statistics
are each edge's top-k probabilities, the score is cls x quality, and with the quality held at
1 the head trains exactly as GFL (everything after forward_single is mmdet's)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import iou_aware  # noqa: F401
from iou_aware.models.peers.dgqp_gfl_head import product_logit

from .head_helpers import build, losses_of, predict_one, total

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GFL = osp.join(ROOT, 'configs/peers/gfl_tiny-r18_fpn_shapes.py')
DGQP = osp.join(ROOT, 'configs/peers/gfl-dgqp_tiny-r18_fpn_shapes.py')


def test_product_logit_is_the_logit_of_the_product_everywhere():
    a = torch.linspace(-60, 60, 241, dtype=torch.float64)
    a, b = torch.meshgrid(a, a, indexing='ij')
    z = product_logit(a, b)
    p = torch.sigmoid(a) * torch.sigmoid(b)
    torch.testing.assert_close(torch.sigmoid(z), p, rtol=1e-12, atol=0)
    # the complement too (where the naive 1 - p loses every digit)
    torch.testing.assert_close(torch.sigmoid(-z), torch.sigmoid(-a) + torch.sigmoid(a) * torch.sigmoid(-b),
                               rtol=1e-12, atol=0)
    # float32 at the extremes: finite values and gradients
    x = torch.tensor([-80., -20., 0., 20., 80.]).repeat_interleave(5).requires_grad_()
    y = torch.tensor([-80., -20., 0., 20., 80.]).repeat(5).requires_grad_()
    out = product_logit(x, y)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    torch.autograd.gradcheck(product_logit, (torch.randn(7, dtype=torch.float64, requires_grad=True) * 5,
                                             torch.randn(7, dtype=torch.float64, requires_grad=True) * 5))


def test_statistics_are_each_edges_sorted_top_k_and_their_mean():
    head = build(DGQP).bbox_head
    k, n_bins = head.reg_topk, head.reg_max + 1
    bbox_pred = torch.randn(2, 4 * n_bins, 3, 5, generator=torch.Generator().manual_seed(0)) * 3
    stats = head.distribution_statistics(bbox_pred)
    assert stats.shape == (2, 4 * (k + 1), 3, 5)
    for i in range(2):
        for y in range(3):
            for x in range(5):
                for edge in range(4):
                    logits = bbox_pred[i, edge * n_bins:(edge + 1) * n_bins, y, x]
                    top = sorted(torch.softmax(logits, 0).tolist(), reverse=True)[:k]
                    got = stats[i, edge * (k + 1):(edge + 1) * (k + 1), y, x]
                    torch.testing.assert_close(got, torch.tensor(top + [sum(top) / k]))


def test_score_is_cls_times_the_quality_of_the_edge_distributions():
    head = build(DGQP).bbox_head
    x = torch.randn(1, 64, 8, 8, generator=torch.Generator().manual_seed(0))
    joint, bbox_pred = head.forward_single(x, head.scales[0])
    cls_feat, reg_feat = x, x
    for conv in head.cls_convs:
        cls_feat = conv(cls_feat)
    for conv in head.reg_convs:
        reg_feat = conv(reg_feat)
    ref_box = head.scales[0](head.gfl_reg(reg_feat))
    quality = torch.sigmoid(head.reg_conf(head.distribution_statistics(ref_box)))
    torch.testing.assert_close(bbox_pred, ref_box)
    torch.testing.assert_close(joint.sigmoid(), head.gfl_cls(cls_feat).sigmoid() * quality)


def test_with_the_quality_held_at_one_it_trains_as_gfl():
    dgqp, gfl = build(DGQP), build(GFL)
    state = {k: v for k, v in dgqp.state_dict().items() if 'reg_conf' not in k}
    gfl.load_state_dict(state)
    torch.nn.init.zeros_(dgqp.bbox_head.reg_conf[2].weight)
    torch.nn.init.constant_(dgqp.bbox_head.reg_conf[2].bias, 40.0)  # sigmoid(40) = 1 - 4e-18
    a, b = losses_of(dgqp, (3, 1)), losses_of(gfl, (3, 1))
    assert set(a) == set(b) == {'loss_cls', 'loss_bbox', 'loss_dfl'}
    for key in a:
        for x, y in zip(a[key], b[key]):
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-7)
    # and with its initial quality (about 1/2) the cls loss differs
    fresh = build(DGQP)
    gfl.load_state_dict({k: v for k, v in fresh.state_dict().items() if 'reg_conf' not in k})
    c = losses_of(fresh, (3, 1))
    assert not torch.allclose(sum(c['loss_cls']), sum(losses_of(gfl, (3, 1))['loss_cls']))


@pytest.mark.parametrize('num_items', [(0,), (1,)])
def test_losses_on_empty_and_one_gt_images(num_items):
    model = build(DGQP)
    losses = losses_of(model, num_items)
    loss = total(losses)
    assert torch.isfinite(loss) and sum(losses['loss_cls']) > 0
    loss.backward()
    grad = model.bbox_head.reg_conf[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    boxes = sum(losses['loss_bbox']) + sum(losses['loss_dfl'])
    assert (boxes > 0) == (num_items == (1,))
    if num_items == (1,):  # the quality learns from the positive's IoU target
        assert grad.abs().sum() > 0


def test_predict_carries_the_score_as_quality():
    pred, _ = predict_one(build(DGQP), cls_conv='gfl_cls')
    assert len(pred) > 0
    assert torch.equal(pred.pred_ious, pred.scores) and torch.equal(pred.cls_scores, pred.scores)
    assert (pred.scores > 0).all() and (pred.scores < 1).all()


@pytest.mark.parametrize('bad, match', [(dict(reg_topk=0), 'reg_topk'),
                                        (dict(reg_topk=18), 'reg_topk'),
                                        (dict(reg_channels=0), 'reg_channels')])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        build(DGQP, **bad)


def test_config_is_gfl_but_for_the_quality_predictor():
    ours, gfl = Config.fromfile(DGQP).model.to_dict(), Config.fromfile(GFL).model.to_dict()
    head = ours.pop('bbox_head')
    ref = gfl.pop('bbox_head')
    assert ours == gfl
    assert head.pop('type') == 'DGQPGFLHead' and ref.pop('type') == 'GFLHeadWithQuality'
    assert {k: head.pop(k) for k in ('reg_topk', 'reg_channels', 'add_mean')} == dict(
        reg_topk=4, reg_channels=64, add_mean=True)  # GFLv2's
    assert head == ref
    bccd = Config.fromfile(DGQP.replace('shapes', 'bccd')).model.to_dict()
    assert bccd['bbox_head'].pop('num_classes') == 3
    shapes = Config.fromfile(DGQP).model.to_dict()
    shapes['bbox_head'].pop('num_classes')
    assert bccd == shapes
