"""Record the golden training traces (tests/golden/<family>.json) on this machine.

    python tools/misc/update_golden_traces.py [--only FAMILY ...]

Commit the regenerated files in the same commit as the change that moved them, and say in
the commit message why training moved (iou_aware/testing/golden_trace.py).
"""
import argparse
import os.path as osp
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # tools/ run from a checkout

import iou_aware  # noqa: E402,F401  (registers our components)
from iou_aware.results import write_json  # noqa: E402
from iou_aware.testing.golden_trace import (FAMILIES, compare, golden_path,  # noqa: E402
                                            make_data, run_trace)
from iou_aware.results import read_json  # noqa: E402

GOLDEN_DIR = osp.join(ROOT, 'tests', 'golden')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', nargs='+', choices=sorted(FAMILIES), metavar='FAMILY',
                        help=f'only these families (default: all of {", ".join(FAMILIES)})')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(osp.join(tmp, 'shapes'))
        for family in args.only or FAMILIES:
            trace = run_trace(family, data, osp.join(tmp, family))
            path = golden_path(GOLDEN_DIR, family)
            old = read_json(path) if osp.isfile(path) else None
            write_json(trace, path)
            moved = 'new' if old is None else ('unchanged' if not compare(old, trace)
                                                else 'MOVED')
            print(f'{family}: {trace["steps"]} steps, final loss '
                  f'{trace["losses"][-1]["loss"]:.6f}, weights {trace["weights_sha256"][:12]} '
                  f'({moved}) -> {osp.relpath(path, ROOT)}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
