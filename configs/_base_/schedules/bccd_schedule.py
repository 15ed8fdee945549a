# Schedule of the BCCD benchmark: the shapes schedule (AdamW 2e-3, cosine decay, from
# scratch) over 36 epochs of the 205 training images (52 steps each, 1,872 in all).
_base_ = './shapes_schedule.py'
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=300),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, by_epoch=True,
         eta_min_ratio=0.01, convert_to_iter_based=True),
]
