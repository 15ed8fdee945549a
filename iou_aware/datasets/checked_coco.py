"""mmdet's CocoDataset with the project's annotation check (see annotation_checks)."""
import logging

from mmengine.logging import print_log

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from .annotation_checks import CLIPPED, check_coco_annotations


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """``CocoDataset`` that drops or clips flawed boxes with one warning line per file.

    mmdet's loader silently drops zero-size and reversed boxes and trains on boxes reaching
    outside the image as they are; here every box goes through
    :func:`~iou_aware.datasets.annotation_checks.check_coco_annotations` first, and one
    log line names the annotation file, the count of each flaw and the first offending
    annotation ids. Drop-in for ``CocoDataset`` (same arguments).
    """

    def load_data_list(self):
        self._report = None
        data_list = super().load_data_list()
        if self._report:
            print_log(self._report.describe(), logger='current', level=logging.WARNING)
        return data_list

    def parse_data_info(self, raw_data_info):
        img = raw_data_info['raw_img_info']
        kept, report = check_coco_annotations([dict(img, id=img['img_id'])],
                                              raw_data_info['raw_ann_info'], self.ann_file)
        if self._report is None:
            self._report = report
        else:
            for kind, items in report.found.items():
                for item in items:
                    self._report.add(kind, *item)
        return super().parse_data_info(dict(raw_data_info, raw_ann_info=kept))


__all__ = ['CheckedCocoDataset', 'CLIPPED']
