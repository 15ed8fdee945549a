from .jittered_gt_sampler import jitter_gt_boxes

__all__ = ['jitter_gt_boxes']
