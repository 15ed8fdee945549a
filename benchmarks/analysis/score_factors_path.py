"""Does mmdet's own score-factor predict path give the IoU-aware paper head the same AP as
ours? (The question of the one-scoring-path issue; answered in docs/design.md.)

    python benchmarks/analysis/score_factors_path.py CONFIG CHECKPOINT [--out result.json]
                                                [--cfg-options k=v ...]

Evaluates one trained IoU-aware RetinaNet twice on its test split: as shipped (our
``FusedScorePredictMixin``: cls and IoU fused first, then the score threshold, the top-k and
NMS on the fused score) and through mmdet's ``BaseDenseHead._predict_by_feat_single`` with the
IoU logits as ``score_factors`` (FCOS/ATSS centerness handling: threshold and top-k on cls
alone at the config's ``cls_score_thr``, the factor multiplied in before NMS, so the score is
cls x IoU). mmdet's path takes one factor per anchor, so it serves the paper head only; the
class-aware default head has one IoU per (anchor, class), which that path cannot select.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # the lab is not installed

from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.registry import MODELS

from iou_aware.models.dense_heads import IoUAwareRetinaHead
from iou_aware.models.scoring import check_scoring
from benchmarks.scripts import load_script  # noqa: E402


@MODELS.register_module(force=True)
class MMDetScoreFactorsIoURetinaHead(IoUAwareRetinaHead):
    """The paper head predicting through mmdet's score-factor path (measurement only)."""
    _predict_by_feat_single = BaseDenseHead._predict_by_feat_single
    _bbox_post_process = BaseDenseHead._bbox_post_process


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', help='write both paths\' metrics to this json file')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args(argv)
    from mmengine.config import Config
    model = Config.fromfile(args.config).model
    if model.get('bbox_head', {}).get('type') != 'IoUAwareRetinaHead':
        parser.error(f"config: needs the paper head (bbox_head.type='IoUAwareRetinaHead', one "
                     f"IoU per anchor), got {model.get('bbox_head', {}).get('type')!r}; mmdet's "
                     f'score-factor path cannot select a class-aware IoU')
    test_cfg = model.test_cfg
    if check_scoring(test_cfg, 'config: model.test_cfg')[0] == 'cls':
        parser.error('the config scores by cls alone; nothing to compare')
    cls_thr = test_cfg.get('cls_score_thr', 0.05)
    test = load_script('tools/test.py', 'iou_aware_tools_test').main
    paths = {
        'ours (fused, then threshold / top-k / NMS)': [],
        "mmdet's score_factors (cls threshold / top-k, then x IoU)": [
            'model.bbox_head.type=MMDetScoreFactorsIoURetinaHead',
            f'model.test_cfg.score_thr={cls_thr}'],
    }
    record = {'config': args.config, 'checkpoint': args.checkpoint}
    for name, options in paths.items():
        options = [*args.cfg_options, *options]
        metrics = test([args.config, args.checkpoint] + (['--cfg-options', *options]
                                                        if options else []))
        record[name] = {k: round(float(v), 4) for k, v in metrics.items()}
        print(name, record[name])
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(record, f, indent=2)
    return record


if __name__ == '__main__':
    main()
