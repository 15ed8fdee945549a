"""Training cannot move silently: each shipped config family replays its committed golden
trace (per-step losses, final-weight checksum; iou_aware/testing/golden_trace.py), bit for bit
on the environment it was recorded on. Regenerate: tools/misc/update_golden_traces.py."""
import os.path as osp

import pytest

import iou_aware  # noqa: F401
from iou_aware.results import read_json
from iou_aware.testing.golden_trace import FAMILIES, compare, golden_path, make_data, run_trace

GOLDEN_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'golden')


@pytest.fixture(scope='module')
def trace_data(tmp_path_factory):
    return make_data(str(tmp_path_factory.mktemp('golden_shapes')))


@pytest.mark.parametrize('family', list(FAMILIES))
def test_training_replays_its_golden_trace(family, trace_data, tmp_path):
    golden = read_json(golden_path(GOLDEN_DIR, family))
    trace = run_trace(family, trace_data, str(tmp_path))
    problems = compare(golden, trace)
    assert not problems, (
        f'{family}: training moved against tests/golden/{family}.json '
        f'({"exact" if golden["environment"] == trace["environment"] else "loose"} check):\n'
        + '\n'.join(problems[:10]) + '\nIf the change is intended, regenerate with '
        f'`python tools/misc/update_golden_traces.py --only {family}` in the same commit.')


def test_every_shipped_family_has_a_golden_trace():
    for family in FAMILIES:
        assert osp.isfile(golden_path(GOLDEN_DIR, family)), family
