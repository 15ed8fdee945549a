"""Record the golden training traces (tests/golden/<family>.json) on this machine.

    python benchmarks/update_golden_traces.py [--only FAMILY ...] [--add-environment]

Each family's trace is trained here (STEPS steps at one thread), then LOOSE_STEPS steps again
under every kernel variation this CPU can be forced into (benchmarks.golden_trace.
kernel_variations, each in a subprocess since the variables act at import), and the spread of
those steps is written with the record: other machines are checked against it.

Default: the code moved, so this machine's record replaces every other. Commit the files in
the same commit as the change that moved them, and say in the commit message why training
moved. ``--add-environment``: the code did not move; this machine's record joins the
existing ones (after checking it passes their loose check, so that nothing moved unseen) and
becomes the reference of the loose check, with its spread. ``--cross-check`` records
nothing: it prints, per family, how far this machine's trace is from the committed reference
record in units of its spread (what SPREAD_FACTOR must cover).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the lab is not installed: run from a checkout

import iou_aware  # noqa: E402,F401  (registers our components)
from benchmarks.results import read_json, write_json  # noqa: E402
from benchmarks.golden_trace import (  # noqa: E402
    FAMILIES, LOOSE_STEPS, STEPS, TRACE_VERSION, compare, golden_path, kernel_variations,
    loose_differences, make_data, matching_record, run_trace, spread)

GOLDEN_DIR = osp.join(ROOT, 'tests', 'golden')


def variation_losses(families, data, tmp):
    """{variation name: {family: losses of its first steps}}, each variation in a process."""
    out = {}
    for name, env, threads in kernel_variations():
        path = osp.join(tmp, 'variation.json')
        cmd = [sys.executable, osp.abspath(__file__), '--worker', path, '--data', data,
               '--threads', str(threads), '--only', *families]
        subprocess.run(cmd, check=True, env=dict(os.environ, **env), stdout=subprocess.DEVNULL)
        with open(path) as f:
            out[name] = json.load(f)
        print(f'  variation {name}: done', flush=True)
    return out


def worker(args):
    """One variation: the first whole epoch of each family's trace, losses only."""
    steps = -(-LOOSE_STEPS // 4) * 4
    with tempfile.TemporaryDirectory() as tmp:
        out = {f: run_trace(f, args.data, osp.join(tmp, f), threads=args.threads,
                            steps=steps)['losses'][:LOOSE_STEPS] for f in args.only}
    with open(args.worker, 'w') as f:
        json.dump(out, f)
    return 0


def cross_ratio(reference, losses, spreads):
    """The largest |this - reference| / spread over steps and terms (inf where spread is 0
    and they differ), and where it is."""
    worst = (0.0, None)
    for step, allowed in enumerate(spreads):
        for name, s in allowed.items():
            d = abs(losses[step][name] - reference[step][name])
            r = d / s if s > 0 else (0.0 if d == 0 else float('inf'))
            if r > worst[0]:
                worst = (r, f'step {step} {name}: off {d:.3g}, spread {s:.3g}')
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', nargs='+', choices=sorted(FAMILIES), metavar='FAMILY',
                        help=f'only these families (default: all of {", ".join(FAMILIES)})')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--add-environment', action='store_true',
                      help='keep the existing records and add (and refer the loose check '
                           "to) this machine's")
    mode.add_argument('--cross-check', action='store_true',
                      help='record nothing; print the distance to the reference record in '
                           'units of its spread')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--data', help=argparse.SUPPRESS)
    parser.add_argument('--threads', type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    families = args.only or list(FAMILIES)
    if args.worker:
        args.only = families
        return worker(args)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(osp.join(tmp, 'shapes'))
        traces = {f: run_trace(f, data, osp.join(tmp, f)) for f in families}
        if args.cross_check:
            for family, trace in traces.items():
                golden = read_json(golden_path(GOLDEN_DIR, family))
                ref = golden['records'][golden['loose']['reference']]
                ratio, where = cross_ratio(ref['losses'], trace['losses'],
                                           golden['loose']['spread'])
                print(f'{family}: {ratio:.3g} x spread ({where})', flush=True)
            return 0
        varied = variation_losses(families, data, tmp)
        for family, trace in traces.items():
            path = golden_path(GOLDEN_DIR, family)
            old = read_json(path) if osp.isfile(path) else None
            record = {k: trace[k] for k in ('environment', 'losses', 'weights_sha256')}
            spreads = spread(trace['losses'], [v[family] for v in varied.values()])
            records, note = [record], ''
            if args.add_environment:
                if old is None:
                    parser.error(f'--add-environment: {family} has no golden trace yet')
                others = [r for r in old['records']
                          if r['environment'] != record['environment']]
                for other in others:  # nothing moved: the old records pass the new check
                    problems = loose_differences(trace['losses'], other['losses'], spreads)
                    if problems:
                        parser.error(f'--add-environment: {family} moved against its record '
                                     f'of {other["environment"].get("cpu_model")}: '
                                     + '; '.join(problems[:3]))
                    ratio, where = cross_ratio(trace['losses'], other['losses'], spreads)
                    note += f'; {other["environment"].get("cpu_model")} at {ratio:.3g} x ' \
                            f'spread ({where})'
                records += others
            golden = dict(trace_version=TRACE_VERSION, family=family, config=trace['config'],
                          cfg_options=trace['cfg_options'], steps=trace['steps'],
                          records=records, loose=dict(
                              reference=0, steps=LOOSE_STEPS, variations=sorted(varied),
                              spread=spreads))
            moved = ('new' if old is None else 'unchanged' if matching_record(
                old, trace) == record else 'MOVED or new here')
            write_json(golden, path)
            print(f'{family}: {trace["steps"]} steps, final loss '
                  f'{trace["losses"][-1]["loss"]:.6f}, weights {trace["weights_sha256"][:12]} '
                  f'({moved}; {len(records)} record(s){note}) -> {osp.relpath(path, ROOT)}',
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
