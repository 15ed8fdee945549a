"""The annotation check: every kind of flawed box, the dataset's one warning line, and the
two real flaws of BCCD."""
import json

import pytest

from iou_aware.datasets.annotation_checks import CLIPPED, check_box, check_coco_annotations


@pytest.mark.parametrize('bbox,kind', [
    ([1, 2, 3], 'malformed'), ('1,2,3,4', 'malformed'), ([1, 2, 3, None], 'malformed'),
    ([1, 2, float('nan'), 4], 'non-finite'), ([1, 2, float('inf'), 4], 'non-finite'),
    ([5, 5, 0, 0], 'zero-size'), ([5, 5, 10, 0], 'zero-size'),
    ([5, 5, -3, 10], 'reversed'), ([5, 5, 10, -1], 'reversed'),
    ([120, 5, 10, 10], 'outside the image'), ([-30, 5, 10, 10], 'outside the image'),
    ([99.5, 5, 10, 10], 'under 1 px'),
])
def test_dropped_kinds(bbox, kind):
    assert check_box(bbox, 100, 80) == (kind, None)


def test_zero_area_is_dropped_and_good_boxes_pass():
    assert check_box([1, 2, 3, 4], 100, 80, area=0) == ('zero area', None)
    assert check_box([1, 2, 3, 4], 100, 80, area=12) == (None, [1, 2, 3, 4])
    assert check_box([0, 0, 100, 80], 100, 80) == (None, [0, 0, 100, 80])


def test_box_past_the_border_is_clipped():
    assert check_box([-10, 70, 30, 20], 100, 80) == (CLIPPED, [0.0, 70.0, 20.0, 10.0])
    assert check_box([90, -5, 50, 100], 100, 80) == (CLIPPED, [90.0, 0.0, 10.0, 80.0])


def test_report_names_counts_and_first_ids():
    images = [dict(id=1, width=100, height=80, file_name='a.png')]
    anns = [dict(id=i, image_id=1, bbox=b) for i, b in enumerate(
        [[1, 1, 5, 5], [2, 2, 0, 0], [3, 3, 0, 0], [4, 4, 0, 0], [5, 5, 0, 0], [-5, 0, 10, 10],
         [1, 1, 5, -5]], start=10)] + [dict(id=99, image_id=7, bbox=[1, 1, 2, 2])]
    kept, report = check_coco_annotations(images, anns, 'x.json')
    assert [a['id'] for a in kept] == [10, 15]
    assert kept[1]['bbox'] == [0.0, 0.0, 5.0, 10.0] and anns[5]['bbox'] == [-5, 0, 10, 10]
    assert report.num_dropped == 6 and report.num_clipped == 1
    line = report.describe()
    assert '\n' not in line
    assert line.startswith('x.json: dropped 6 and clipped 1 annotated box(es): ')
    assert '4 zero-size (id 11 in a.png, 12 in a.png, 13 in a.png, +1 more)' in line
    assert '1 reversed (id 16 in a.png)' in line and '1 outside the image (id 99)' in line
    assert '1 clipped to the image (id 15 in a.png)' in line


def write_coco(path, anns):
    path.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='1.png', width=100, height=80)],
        annotations=[dict(id=i, image_id=1, category_id=1, bbox=b, area=abs(b[2] * b[3]) or 0,
                          iscrowd=0) for i, b in enumerate(anns, start=1)],
        categories=[dict(id=1, name='a')])))
    return str(path)


def test_checked_coco_dataset_drops_clips_and_warns_once(tmp_path, mm_log_lines):
    from iou_aware.datasets.checked_coco import CheckedCocoDataset
    ann_file = write_coco(tmp_path / 'ann.json', [[10, 10, 20, 20], [30, 30, 0, 0],
                                                   [40, 40, -5, 10], [90, 70, 20, 20],
                                                   [float('nan'), 1, 2, 3]])
    ds = CheckedCocoDataset(ann_file=ann_file, metainfo=dict(classes=('a',)),
                            data_prefix=dict(img=str(tmp_path)), pipeline=[],
                            filter_cfg=None, test_mode=True)
    boxes = [inst['bbox'] for inst in ds.get_data_info(0)['instances']]
    assert boxes == [[10, 10, 30, 30], [90.0, 70.0, 100.0, 80.0]]
    lines = [line for line in mm_log_lines if 'dropped' in line]
    assert len(lines) == 1
    assert f'{ann_file}: dropped 3 and clipped 1' in lines[0]
    assert '1 zero-size (id 2 in 1.png)' in lines[0] and '1 reversed (id 3 in 1.png)' in lines[0]
    assert '1 non-finite (id 5 in 1.png)' in lines[0]
