"""Change a config's training length without assuming where its schedulers sit."""


def epoch_schedule_options(cfg, epochs):
    """``--cfg-options`` items that train ``cfg`` for ``epochs`` epochs: the loop's length,
    validation at the end, and every epoch-based scheduler that ran to the old last epoch
    (its ``end``, and ``T_max`` for cosine decay) stretched or shrunk to the new one."""
    if epochs < 1:
        raise ValueError(f'epochs must be >= 1, got {epochs}')
    old = cfg.train_cfg.get('max_epochs')
    if old is None:
        raise ValueError('the config\'s train_cfg has no max_epochs (not an epoch-based loop)')
    opts = [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}']
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for i, sched in enumerate(schedulers):
        if not sched.get('by_epoch', True):
            continue  # iteration-based (e.g. warm-up): its length is not tied to epochs
        if sched.get('end') == old:
            opts.append(f'param_scheduler.{i}.end={epochs}')
        if sched.get('T_max') == old:
            opts.append(f'param_scheduler.{i}.T_max={epochs}')
    return opts
