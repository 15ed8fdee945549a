"""tools/gpu/gpu_check.py without a GPU: the dry run, the no-GPU exit, the step parsers and the
run/summary logic (steps faked)."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from .tool_helpers import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'gpu', 'gpu_check.py')


def run(*args):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')  # no GPU, even on a machine with one
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_dry_run_prints_every_planned_command():
    out = run('--dry-run', '--arch', '8.6')
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert 'FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=8.6' in text and 'setup.py build_ext --inplace' in text
    assert '-m pytest tests/test_ops -m cuda' in text
    for tool in ('memcheck', 'racecheck'):
        assert f'compute-sanitizer --tool {tool}' in text and 'tools/gpu/cuda_kernels_smoke.py' in text
    assert 'benchmarks/speed/benchmark_nms.py --device cuda' in text
    assert 'benchmarks/speed/benchmark_prroi_pool.py --device cuda' in text


def test_without_a_gpu_says_so_in_one_line_and_exits_2():
    out = run()
    assert out.returncode == 2
    assert out.stderr == ''
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1 and 'no CUDA GPU' in lines[0]


def test_parsers():
    tool = load_tool('tools/gpu/gpu_check.py')
    assert tool.parse_pytest(0, 'x\n12 passed, 3 skipped, 30 deselected in 4.20s\n') == (
        True, '12 passed, 3 skipped, 30 deselected')
    assert tool.parse_pytest(1, '1 failed, 11 passed in 3.00s\n')[0] is False
    assert tool.parse_pytest(0, '12 skipped, 30 deselected in 1.00s\n')[0] is False  # none ran
    assert tool.parse_pytest(5, '30 deselected in 0.50s\n')[0] is False
    assert tool.parse_sanitizer(0, '========= ERROR SUMMARY: 0 errors\n') == (True, '0 errors')
    assert tool.parse_sanitizer(1, '========= ERROR SUMMARY: 3 errors\n') == (False, '3 errors')
    race = '========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 2 warnings)\n'
    assert tool.parse_sanitizer(0, race) == (True, '0 errors, 2 warnings')
    assert tool.parse_sanitizer(1, 'compute-sanitizer: command not found\n')[0] is False
    bench = ('  workload   boxes    kept   tv nms ms  iou_guided_nms ms   ratio  same as CPU\n'
             ' clustered    1000     272        0.20               0.90   4.50x          yes\n'
             '    sparse  100000   92196        9.00              30.00   3.33x          yes\n')
    assert tool.parse_nms_benchmark(0, bench) == (
        True, 'sparse 100k: 30.00 ms (tv nms 9.00 ms); same as CPU 2/2')
    assert tool.parse_nms_benchmark(0, bench.replace('yes\n', 'NO\n', 1))[0] is False


@pytest.mark.parametrize('failing,code', [(None, 0), ('memcheck', 1), ('build', 1)])
def test_run_reports_a_table_and_fails_on_any_failed_step(monkeypatch, capsys, failing, code):
    tool = load_tool('tools/gpu/gpu_check.py')
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'get_device_capability', lambda *a: (9, 0))
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *a: 'Fake GPU')
    outputs = {'build': 'copying build/lib/iou_aware/_C.cpython-312.so -> iou_aware\n',
               'cuda tests': '20 passed, 300 deselected in 9.0s\n',
               'memcheck': '========= ERROR SUMMARY: 0 errors\n',
               'racecheck': '========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)\n',
               'benchmark nms': ' clustered 1000 272 0.2 0.9 4.5x yes\n',
               'benchmark prroi_pool': 'done\n'}
    names = {'setup.py': 'build', 'pytest': 'cuda tests', 'memcheck': 'memcheck',
             'racecheck': 'racecheck', 'benchmarks/speed/benchmark_nms.py': 'benchmark nms',
             'benchmarks/speed/benchmark_prroi_pool.py': 'benchmark prroi_pool'}
    ran = []

    def fake_run_step(cmd, env, timeout):
        name = next(v for k, v in names.items() if k in cmd)
        ran.append(name)
        return (1, 'error: boom\n') if name == failing else (0, outputs[name])

    monkeypatch.setattr(tool, 'run_step', fake_run_step)
    monkeypatch.setattr(sys, 'argv', ['gpu_check.py'])
    assert tool.main() == code
    table = capsys.readouterr().out.split('\nstep')[-1]
    for name in outputs:
        assert name in table
    if failing == 'build':
        assert ran == ['build'] and table.count('skipped') == 5
    elif failing:
        assert f'{failing}' in table and 'FAILED' in table and 'error: boom' in table
    else:
        assert 'FAILED' not in table and '20 passed' in table and '0 errors' in table


@pytest.mark.slow  # builds and runs the kernels' smoke script in a subprocess
def test_kernel_smoke_script_runs_on_the_cpu():
    # The script compute-sanitizer runs on the GPU; on the CPU it checks its own logic.
    from iou_aware.ops import has_extension
    if not has_extension():
        pytest.skip('iou_aware._C not built')
    out = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'gpu', 'cuda_kernels_smoke.py'),
                          '--device', 'cpu'], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert out.returncode == 0 and 'ok on cpu' in out.stdout, out.stderr[-3000:]
