"""Training cannot move silently: each shipped config family replays its committed golden
trace (per-step losses, final-weight checksum; benchmarks/golden_trace.py), bit for bit
on an environment it was recorded on, within the measured spread elsewhere. Regenerate:
benchmarks/update_golden_traces.py."""
import os.path as osp

import pytest

import iou_aware  # noqa: F401
from benchmarks.results import read_json
from benchmarks.golden_trace import (FAMILIES, LOOSE_STEPS, SPREAD_FACTOR, compare,
                                            golden_path, kernel_variations, loose_differences,
                                            make_data, matching_record, run_trace)

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
        f'({"exact" if matching_record(golden, trace) else "loose"} check):\n'
        + '\n'.join(problems[:10]) + '\nIf the change is intended, regenerate with '
        f'`python benchmarks/update_golden_traces.py --only {family}` in the same commit.')


def test_every_shipped_family_has_a_golden_trace_with_its_spread():
    for family in FAMILIES:
        golden = read_json(golden_path(GOLDEN_DIR, family))
        loose = golden['loose']
        assert len(loose['spread']) == LOOSE_STEPS and loose['variations'], family
        reference = golden['records'][loose['reference']]['losses']
        assert all(set(s) == set(r) for s, r in zip(loose['spread'], reference)), family


# The deliberate one-line change: RetinaNet's head convs initialised with std 0.02, not
# mmdet's 0.01 (RetinaHead's default init_cfg otherwise).
INIT_STD_CHANGE = {'model.bbox_head.init_cfg': dict(
    type='Normal', layer='Conv2d', std=0.02,
    override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.01))}


def test_the_loose_check_catches_a_one_line_init_change(trace_data, tmp_path):
    """Whatever the machine: the changed training, checked loosely against the reference
    record (as any other CPU would be), fails; one epoch is enough for the first steps."""
    golden = read_json(golden_path(GOLDEN_DIR, 'retinanet'))
    reference = golden['records'][golden['loose']['reference']]['losses']
    changed = run_trace('retinanet', trace_data, str(tmp_path), steps=4,
                        overrides=INIT_STD_CHANGE)
    problems = loose_differences(reference, changed['losses'], golden['loose']['spread'])
    assert problems and problems[0].startswith('step 0:'), problems


def test_loose_bound_is_the_factor_times_the_spread():
    reference = [{'loss': 1.0}, {'loss': 2.0}]
    spreads = [{'loss': 1e-4}, {'loss': 1e-3}]
    inside = [{'loss': 1.0 + 0.9 * SPREAD_FACTOR * 1e-4}, {'loss': 2.0 - SPREAD_FACTOR * 1e-3}]
    outside = [{'loss': 1.0 + 1.1 * SPREAD_FACTOR * 1e-4}, {'loss': 2.0}]
    assert loose_differences(reference, inside, spreads) == []
    assert [p.split(':')[0] for p in loose_differences(reference, outside, spreads)] == ['step 0']
    assert 'loss terms' in loose_differences(reference, [{'x': 1.0}, {'loss': 2.0}], spreads)[0]


def test_kernel_variations_follow_the_cpu():
    names = [n for n, _, _ in kernel_variations('AVX512', {'avx2', 'avx512f'})]
    assert names == ['ATEN_CPU_CAPABILITY=default', 'ATEN_CPU_CAPABILITY=avx2',
                     'ONEDNN_MAX_CPU_ISA=SSE41', 'ONEDNN_MAX_CPU_ISA=AVX2',
                     'ONEDNN_MAX_CPU_ISA=AVX512_CORE', '2 threads']
    names = [n for n, _, _ in kernel_variations('AVX2', {'avx2'})]
    assert names == ['ATEN_CPU_CAPABILITY=default', 'ONEDNN_MAX_CPU_ISA=SSE41',
                     'ONEDNN_MAX_CPU_ISA=AVX2', '2 threads']
