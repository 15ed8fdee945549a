# Runtime of the tiny benchmarks (shapes, BCCD): mmdet's defaults, a fixed seed, logs every
# 50 steps, one checkpoint kept.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
randomness = dict(seed=0)
# Stop at the first NaN/inf loss term with one line naming it (iou_aware.engine).
custom_hooks = [dict(type='FiniteLossHook')]
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
