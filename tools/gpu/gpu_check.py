"""One-command GPU check for iou_aware._C, for anyone with an NVIDIA GPU and torch.

Steps, each run as a subprocess with the interpreter that runs this script:
  1. build   the CUDA extension in place for the local GPU's arch
             (TORCH_CUDA_ARCH_LIST from torch.cuda.get_device_capability(), FORCE_CUDA=1);
  2. tests   pytest tests/test_ops -m cuda (pytest and hypothesis, if missing, are installed
             offline from .gpu-wheels/: see scripts/gpu_wheels.sh);
  3. memcheck, racecheck: tools/gpu/cuda_kernels_smoke.py (every CUDA kernel) under
             compute-sanitizer, with the error counts;
  4. the GPU benchmarks: benchmarks/speed/benchmark_nms.py and benchmarks/speed/benchmark_prroi_pool.py with
             --device cuda.
Then one summary table (step, status, key figure). Exit status: 0 when every step passed,
1 when one failed, 2 without a GPU (one line says so). Needs torch with CUDA and nvcc
(and compute-sanitizer for step 3); not mmdet, mmcv or mmengine.

    python tools/gpu/gpu_check.py [--dry-run] [--arch 9.0] [--skip-build]
"""
import argparse
import importlib.util
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
WHEELS = '.gpu-wheels'
TEST_DEPS = ('pytest', 'hypothesis')


def cuda_home():
    """The toolkit root holding lib64/libcudart.so (as scripts/cuda_compile_check.sh finds
    it): $CUDA_HOME, the TOP that nvcc reports (nvcc on PATH may be a wrapper), or
    /usr/local/cuda. None if there is none."""
    cands = [os.environ.get('CUDA_HOME')]
    if shutil.which('nvcc'):
        out = subprocess.run(['nvcc', '--dryrun', '-x', 'cu', '-c', os.devnull, '-o', os.devnull],
                             capture_output=True, text=True).stderr
        cands += re.findall(r'^#\$ TOP=(.*)$', out, re.M)[:1]
    cands.append('/usr/local/cuda')
    for cand in cands:
        if cand and osp.exists(osp.join(cand, 'lib64', 'libcudart.so')):
            return osp.realpath(cand)
    return None


def sanitizer(home):
    found = shutil.which('compute-sanitizer')
    if not found and home and osp.exists(osp.join(home, 'bin', 'compute-sanitizer')):
        found = osp.join(home, 'bin', 'compute-sanitizer')
    return found or 'compute-sanitizer'


# ---- parsers: (ok, key figure) from a step's return code and output -------------------

def parse_build(rc, out):
    so = re.findall(r'(iou_aware/_C[^\s]*\.so)', out)
    return rc == 0, (osp.basename(so[-1]) if so else 'built') if rc == 0 else last_error(out)


def parse_pytest(rc, out):
    summary = re.findall(r'^=* ?(\d+ (?:passed|failed|error).*?)(?: in [\d.]+s.*)?=*$', out, re.M)
    figure = summary[-1].strip() if summary else last_error(out)
    passed = re.search(r'(\d+) passed', figure)
    # All CUDA tests skipped (e.g. the extension did not load) is a failure too.
    return rc == 0 and passed is not None and int(passed.group(1)) > 0, figure


def parse_sanitizer(rc, out):
    errors = [int(e) for e in re.findall(r'ERROR SUMMARY: (\d+) error', out)]
    errors += [int(e) for e in re.findall(r'RACECHECK SUMMARY: \d+ hazards? displayed \((\d+) error', out)]
    warnings = sum(int(w) for w in re.findall(r'RACECHECK SUMMARY: .*?(\d+) warning', out))
    if not errors:
        return False, last_error(out)
    figure = f'{sum(errors)} errors' + (f', {warnings} warnings' if warnings else '')
    return rc == 0 and sum(errors) == 0, figure


def parse_nms_benchmark(rc, out):
    rows = [line.split() for line in out.splitlines()
            if line.split()[:1] in (['clustered'], ['sparse'])]
    if rc != 0 or not rows:
        return False, last_error(out)
    same = sum(r[-1] == 'yes' for r in rows)
    big = max(rows, key=lambda r: (r[0] == 'sparse', int(r[1])))
    figure = (f'{big[0]} {int(big[1]) // 1000}k: {big[4]} ms (tv nms {big[3]} ms); '
              f'same as CPU {same}/{len(rows)}')
    return same == len(rows), figure


def parse_tail(rc, out):
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return rc == 0, (lines[-1][:70] if rc == 0 and lines else last_error(out))


def last_error(out):
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    bad = [line for line in lines if re.search(r'error|Error|FAILED|No module', line)]
    return ((bad or lines or ['no output'])[-1])[:70]


# ---- the plan ----------------------------------------------------------------------------

def plan(py, arch, home, skip_build):
    """[(name, command, extra env, parser, needs the build)]"""
    steps = []
    if not skip_build:
        env = {'FORCE_CUDA': '1', 'TORCH_CUDA_ARCH_LIST': arch,
               'MAX_JOBS': os.environ.get('MAX_JOBS', str(os.cpu_count() or 4))}
        if home:
            env['CUDA_HOME'] = home
        steps.append(('build', [py, 'setup.py', 'build_ext', '--inplace'], env, parse_build, False))
    missing = [m for m in TEST_DEPS if importlib.util.find_spec(m) is None]
    if missing:
        steps.append(('test deps', [py, '-m', 'pip', 'install', '--no-index', '--find-links', WHEELS,
                                    *missing], {}, parse_tail, False))
    steps.append(('cuda tests', [py, '-m', 'pytest', 'tests/test_ops', '-m', 'cuda', '-q',
                                 '-p', 'no:cacheprovider'], {}, parse_pytest, True))
    # No caching allocator under memcheck: an overrun inside a cached block is caught too.
    for tool in ('memcheck', 'racecheck'):
        steps.append((tool, [sanitizer(home), '--tool', tool, '--error-exitcode', '1', py,
                             'tools/gpu/cuda_kernels_smoke.py'],
                      {'PYTORCH_NO_CUDA_MEMORY_CACHING': '1'}, parse_sanitizer, True))
    steps.append(('benchmark nms', [py, 'benchmarks/speed/benchmark_nms.py', '--device', 'cuda'], {},
                  parse_nms_benchmark, True))
    steps.append(('benchmark prroi_pool', [py, 'benchmarks/speed/benchmark_prroi_pool.py', '--device', 'cuda'],
                  {}, parse_tail, True))
    return steps


def run_step(cmd, env, timeout):
    """Runs cmd in ROOT, echoing its output live; returns (rc, output)."""
    full_env = dict(os.environ, **env)
    # The checkout first on the path: the extension is built in place, not installed.
    full_env['PYTHONPATH'] = os.pathsep.join(filter(None, [ROOT, os.environ.get('PYTHONPATH')]))
    lines = []
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
    except OSError as exc:
        return 127, f'cannot run {cmd[0]}: {exc}'
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    for line in proc.stdout:
        print('    ' + line, end='', flush=True)
        lines.append(line)
    rc = proc.wait()
    if not watchdog.is_alive():
        lines.append(f'timed out after {timeout} s (killed)\n')
    watchdog.cancel()
    return rc, ''.join(lines)


def summary(results):
    width = max(len(name) for name, _, _ in results)
    print(f'\n{"step":<{width}}  {"status":<7} key figure')
    for name, status, figure in results:
        print(f'{name:<{width}}  {status:<7} {figure}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dry-run', action='store_true', help='print the planned commands only')
    parser.add_argument('--arch', help='TORCH_CUDA_ARCH_LIST (default: the local GPU\'s)')
    parser.add_argument('--skip-build', action='store_true', help='use the extension built already')
    parser.add_argument('--timeout', type=int, default=1800, help='seconds per step')
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print('gpu_check: torch is not installed; nothing to check')
        return 2
    has_gpu = torch.cuda.is_available()
    if not has_gpu and not args.dry_run:
        print(f'gpu_check: no CUDA GPU visible to torch {torch.__version__} '
              f'(CUDA build {torch.version.cuda}); nothing to check')
        return 2
    arch = args.arch or ('{}.{}'.format(*torch.cuda.get_device_capability()) if has_gpu
                         else '<local-gpu-arch>')
    home = cuda_home()
    steps = plan(sys.executable, arch, home, args.skip_build)
    if args.dry_run:
        print(f'gpu_check: planned commands (in {ROOT}; PYTHONPATH={ROOT}):')
        for name, cmd, env, *_ in steps:
            env_s = ' '.join(f'{k}={shlex.quote(v)}' for k, v in env.items())
            print(f'  {name}: {env_s + " " if env_s else ""}{shlex.join(cmd)}')
        return 0

    print(f'gpu_check: {torch.cuda.get_device_name()} (sm {arch}), torch {torch.__version__}, '
          f'CUDA_HOME={home}')
    results, built = [], True
    for name, cmd, env, parse, needs_build in steps:
        if needs_build and not built:
            results.append((name, 'skipped', 'the build failed'))
            continue
        print(f'\n== {name}: {shlex.join(cmd)}', flush=True)
        start = time.monotonic()
        rc, out = run_step(cmd, env, args.timeout)
        ok, figure = parse(rc, out)
        results.append((name, 'ok' if ok else 'FAILED', f'{figure} ({time.monotonic() - start:.0f} s)'))
        built = built and (ok or name != 'build')
    summary(results)
    return 0 if all(status == 'ok' for _, status, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
