# The shapes benchmark: a generated COCO-format dataset (tools/make_shapes_dataset.py)
# with 256 px images, so detectors train on 2 CPU cores in minutes.
# mmdet's CocoDataset plus the annotation check: flawed boxes dropped or clipped with one
# warning line per file (iou_aware/datasets/annotation_checks.py).
dataset_type = 'CheckedCocoDataset'
data_root = 'data/shapes/'
metainfo = dict(
    classes=('rectangle', 'ellipse', 'triangle', 'star', 'ring', 'cross'),
    palette=[(220, 20, 60), (0, 128, 255), (0, 170, 60), (255, 170, 0), (160, 60, 220),
             (0, 200, 200)])
image_size = (256, 256)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=1),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# COCO AP, AP50, AP75, APs/m/l, plus AP80 and AP90: localization quality is what we study.
val_evaluator = dict(
    type='StrictIoUCocoMetric',
    ann_file=data_root + 'annotations/val.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
