"""COCO ground truth as the calibration and analysis code takes it: boxes and labels per image,
through the same annotation check as training and evaluation."""
import numpy as np

from iou_aware.datasets.annotation_checks import sanitize_coco_api


def load_ground_truth(coco, classes, source='ground truth'):
    """{image_id: (boxes xyxy [G, 4], labels [G])} with labels indexing ``classes``.

    The annotations go through the same check as for training and evaluation (flawed
    boxes dropped, boxes past the border clipped); returns the check's report too.
    """
    report = sanitize_coco_api(coco, source)
    cat_ids = coco.getCatIds(catNms=list(classes))
    name_of = {c['id']: c['name'] for c in coco.loadCats(cat_ids)}
    label_of = {cid: list(classes).index(name_of[cid]) for cid in cat_ids}
    gt = {}
    for img_id in coco.getImgIds():
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=[img_id], iscrowd=False))
                if a['category_id'] in label_of]
        boxes = np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                           a['bbox'][1] + a['bbox'][3]] for a in anns], float).reshape(-1, 4)
        gt[img_id] = (boxes, np.array([label_of[a['category_id']] for a in anns], int))
    return gt, cat_ids, report
