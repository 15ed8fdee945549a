"""One scoring vocabulary (iou_aware.models.scoring): the expected IoU (cls x IoU) ranks as
the paper's geometric mean, and a head scoring either way emits the same detections."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import ConfigDict

from iou_aware.models.scoring import check_scoring, fuse_scores

from .test_iou_aware_retina_head import head_cfg, inputs


def test_cls_x_iou_ranks_as_the_geometric_mean_at_half():
    g = torch.Generator().manual_seed(0)
    cls, iou = torch.rand(500, 3, generator=g), torch.rand(500, 3, generator=g)
    product = fuse_scores(cls, iou, 'cls_x_iou')
    geometric = fuse_scores(cls, iou, 'geometric', 0.5)
    torch.testing.assert_close(product, cls * iou)
    torch.testing.assert_close(geometric, (cls * iou).sqrt())
    assert torch.equal(product.flatten().argsort(stable=True),
                       geometric.flatten().argsort(stable=True))


def test_cls_score_type_ignores_the_iou():
    cls = torch.tensor([[0.3, 0.9]])
    assert torch.equal(fuse_scores(cls, torch.tensor([[0.0, 0.1]]), 'cls'), cls)


@pytest.mark.parametrize('cfg, message', [
    (dict(score_type='sum'), 'score_type must be one of'),
    (dict(score_type='geometric', alpha=1.5), 'alpha must be a number in'),
    (dict(score_type='geometric', alpha=True), 'alpha must be a number in'),
    (dict(score_type='cls_x_iou', alpha=0.5), "alpha is used only with score_type='geometric'"),
])
def test_bad_scoring_settings_are_named(cfg, message):
    with pytest.raises(ValueError, match=message):
        check_scoring(cfg, 'Head: test_cfg')


def test_alpha_alone_means_the_paper_geometric_mean():
    assert check_scoring(dict(alpha=0.3), 'x') == ('geometric', 0.3)
    assert check_scoring(dict(), 'x') == ('cls_x_iou', 0.5)
    assert check_scoring(dict(), 'x', default='cls') == ('cls', 0.5)


def test_head_emits_the_same_detections_scored_either_way():
    """cls x IoU with score_thr t^2 keeps exactly the boxes of sqrt(cls x IoU) with t, in
    the same order, with the scores squared: the same AP."""
    torch.manual_seed(0)
    paper = head_cfg()
    paper['test_cfg'].update(score_thr=0.05, cls_score_thr=0.05)
    ours = head_cfg(test_cfg=ConfigDict({k: v for k, v in paper['test_cfg'].items()
                                         if k != 'alpha'}, score_type='cls_x_iou',
                                        score_thr=0.05 ** 2))
    a = MODELS.build(paper).eval()
    b = MODELS.build(ours).eval()
    b.load_state_dict(a.state_dict())
    feats, metas = inputs(2)
    with torch.no_grad():
        (pa,) = a.predict_by_feat(*a(feats), batch_img_metas=metas, rescale=False)
        (pb,) = b.predict_by_feat(*b(feats), batch_img_metas=metas, rescale=False)
    assert len(pa) == len(pb) > 0
    assert torch.equal(pa.bboxes, pb.bboxes) and torch.equal(pa.labels, pb.labels)
    torch.testing.assert_close(pb.scores, pa.scores ** 2)
    torch.testing.assert_close(pb.scores, pb.cls_scores * pb.pred_ious)
