# BCCD: 364 blood-smear microscope images (640x480), 3 classes, the dataset's own
# train/val/test splits (205/87/72), in the repository (datasets/bccd/, COCO json made from
# its VOC XML by tools/dataset_converters/voc_to_coco.py). Train on train, select on val,
# report test: test_dataloader reads the test split.
dataset_type = 'CheckedCocoDataset'  # drops its two zero-size boxes with a warning
data_root = 'datasets/bccd/'
metainfo = dict(classes=('RBC', 'WBC', 'Platelets'),
                palette=[(220, 20, 60), (0, 128, 255), (0, 170, 60)])
# Images are resized to half size (320x240), chosen by measurement (tiny RetinaNet, 36
# epochs, seed 0, 1 thread; val AP / AP90 / platelet AP / s per step): 320x240 50.0 / 2.3 /
# 40.4 / 0.37; 480x360 51.4 / 3.5 / 38.4 / 0.70; 640x480 52.8 / 5.4 / 37.9 / 1.08. Full size
# gains 2.8 AP at 3x the cost; platelets (median 40 px, smallest 21 px) stay at 10-70 px,
# within reach of the 16 px anchors, and are detected as well at half size.
image_size = (320, 240)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    # Smears have no up or left: both flips are label-preserving.
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
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
        ann_file='coco/train.json',
        data_prefix=dict(img='JPEGImages/'),
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
        ann_file='coco/val.json',
        data_prefix=dict(img='JPEGImages/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
# The test split, otherwise as val.
test_dataloader = dict(val_dataloader,
                       dataset=dict(val_dataloader['dataset'], ann_file='coco/test.json'))

# COCO AP with AP80/AP90 and per-class AP (classwise).
val_evaluator = dict(
    type='StrictIoUCocoMetric',
    ann_file=data_root + 'coco/val.json',
    metric='bbox',
    classwise=True,
    format_only=False,
    backend_args=backend_args)
test_evaluator = dict(val_evaluator, ann_file=data_root + 'coco/test.json')
