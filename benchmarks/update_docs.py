"""Regenerate every results table (README.md, docs/, configs/*/README.md, benchmarks/*.md) from
benchmarks/results/.

    python benchmarks/update_docs.py          # rewrite the tables in place
    python benchmarks/update_docs.py --check  # exit 1 if any table differs from its results
    python benchmarks/update_docs.py --provenance  # rows whose config changed since their records

A table is a block between two markers; the opening marker says what to show:

    <!-- results benchmark=shapes columns=AP,AP75,ece rows=retinanet:RetinaNet,iou-aware:IoU-aware -->
    | ... generated ... |
    <!-- /results -->

``rows`` lists run folders under ``benchmarks/results/<benchmark>/`` with the label to show
(``run:label``, label defaults to the run name); each row is the mean ± sd over the run's
seeds (``seed<k>`` folders), with the seed count after the label. ``columns`` are
``benchmarks.results`` columns. Labels may not contain commas or colons; ``_`` in a label is
shown as a space.
"""
import argparse
import json
import glob
import os.path as osp
import re
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import results  # noqa: E402

BLOCK = re.compile(r'(<!-- results (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /results -->)',
                   re.S)


def parse_spec(spec):
    fields = dict(item.split('=', 1) for item in spec.split())
    for key in ('benchmark', 'columns', 'rows'):
        if key not in fields:
            raise results.ResultsError(f'results block without {key}=: {spec}')
    rows = []
    for item in fields['rows'].split(','):
        run, _, label = item.partition(':')
        rows.append((run, (label or run).replace('_', ' ')))
    return fields['benchmark'], fields['columns'].split(','), rows


def render(spec, root):
    benchmark, columns, rows = parse_spec(spec)
    out = []
    for run, label in rows:
        seeds = results.load_rows(osp.join(root, benchmark, run))
        out.append((results.seeds_label(label, len(seeds)),
                    results.aggregate(list(seeds.values()))))
    return results.markdown_table(out, columns, first='model') + '\n'


def default_files():
    """Every page that may hold a results table."""
    pages = [osp.join(ROOT, 'README.md')]
    for pattern in ('docs/**/*.md', 'configs/**/README.md', 'benchmarks/**/*.md'):
        pages += sorted(glob.glob(osp.join(ROOT, pattern), recursive=True))
    results_dir = osp.join(ROOT, 'benchmarks', 'results') + osp.sep
    return [p for p in pages if not p.startswith(results_dir)]


def update(text, root):
    return BLOCK.sub(lambda m: m.group(1) + render(m.group('spec'), root) + m.group(4), text)


def table_rows(files):
    """Every (benchmark, run) that a results block in ``files`` shows, in order."""
    rows = []
    for path in files:
        with open(path) as f:
            for m in BLOCK.finditer(f.read()):
                benchmark, _, runs = parse_spec(m.group('spec'))
                rows += [(benchmark, run) for run, _ in runs if (benchmark, run) not in rows]
    return rows


EQUIVALENCES = 'config_equivalences.json'


def _config_history(root):
    """From ``<results>/config_equivalences.json`` (absent: nothing):

    - ``equivalences``: {(recorded hash, current hash): why}, configs rewritten without
      changing what they train or evaluate, each pair with its evidence;
    - ``moves``: {old config path: (new path, why)}, a config whose settings now live under
      another name (its old name took on other settings); a record made with the old path is
      current only if the new path resolves, with the record's options, to the very hash it
      recorded;
    - ``relocations``: {old config path: (new path, cfg_options)}, a file moved as it was
      (same settings), or folded into another config plus ``--cfg-options`` items that
      resolve to the same hash (a loss variant is now a benchmark-spec override): a record made
      at the old path is read at the new one, with those options before its own, before
      anything else.
    """
    path = osp.join(root, EQUIVALENCES)
    if not osp.isfile(path):
        return {}, {}, {}
    history = results.read_json(path)
    equivalent, moves = {}, {}
    for entry in history['equivalences']:
        if not entry.get('why'):
            raise ValueError(f'{path}: every equivalence needs a "why" (the evidence)')
        for old in entry['from']:
            equivalent[(old, entry['to'])] = entry['why']
    for entry in history.get('moves', []):
        if not entry.get('why'):
            raise ValueError(f'{path}: every move needs a "why"')
        moves[entry['from']] = (entry['to'], entry['why'])
    relocated = {}
    for entry in history.get('relocations', []):
        if not entry.get('why'):
            raise ValueError(f'{path}: every relocation needs a "why"')
        relocated[entry['from']] = (entry['to'], list(entry.get('cfg_options', [])))
    return equivalent, moves, relocated


def _relocate(relocated, config, cfg_options):
    """Where a record made at ``config`` with ``cfg_options`` (a parsed dict, or None) is read
    now: relocations followed to the end of their chain (a BCCD config first moved into its
    method's folder, then folded into its base), their options applied before the record's."""
    from benchmarks.provenance import parse_options
    items, seen = [], {config}
    while config in relocated:
        config, extra = relocated[config]
        if config in seen:
            raise ValueError(f'{EQUIVALENCES}: relocations loop at {config}')
        seen.add(config)
        items = extra + items
    options = dict(parse_options(items)) if items else {}
    options.update(cfg_options or {})
    return config, options or None


def provenance_report(rows, root):
    """One line per table row: whether its records carry provenance, and whether the config
    they were made with still resolves to the same settings (needs mmengine/mmdet)."""
    import iou_aware  # noqa: F401  (configs inherit ours and mmdet's by scope)
    from benchmarks.provenance import config_hash_of
    lines, changed, cache = [], 0, {}
    equivalent, moves, relocated = _config_history(root)

    def hash_of(config, options):  # a config resolves once per set of options
        key = (config, json.dumps(options, sort_keys=True))
        if key not in cache:
            cache[key] = config_hash_of(config, options)
        return cache[key]
    for benchmark, run in rows:
        records = sorted(glob.glob(osp.join(root, benchmark, run, 'seed*', '*.json')))
        stamped = [(p, results.read_json(p).get('provenance')) for p in records]
        stamped = [(p, prov) for p, prov in stamped if isinstance(prov, dict)]
        if not stamped:
            lines.append(f'{benchmark}/{run}: {len(records)} records, none with provenance '
                         '(made before provenance was recorded)')
            continue
        moved, same, why = [], [], set()
        for path, prov in stamped:
            config, options = _relocate(relocated, prov['config'], prov.get('cfg_options'))
            current = hash_of(config, options)
            if current == prov['config_sha256']:
                continue
            reason = equivalent.get((prov['config_sha256'], current))
            if not reason and config in moves:
                new_path, move_why = moves[config]
                # the settings' new home may itself have moved on since (a later rename)
                new_path, new_options = _relocate(relocated, new_path, options)
                if hash_of(new_path, new_options) == prov['config_sha256']:
                    reason = f'now {new_path}: {move_why}'
            if reason:
                same.append(path)
                why.add(reason)
            else:
                moved.append(osp.relpath(path, root))
        commits = sorted({(prov['git_commit'] or '?')[:10] for _, prov in stamped})
        status = (f'CONFIG CHANGED since {len(moved)} of its records (e.g. {moved[0]})'
                  if moved else 'config unchanged' if not same else
                  f'config changed in form only for {len(same)} records ({"; ".join(sorted(why))})')
        changed += bool(moved)
        lines.append(f'{benchmark}/{run}: {len(stamped)}/{len(records)} records with provenance '
                     f'(commits {", ".join(commits)}): {status}')
    return lines, changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true', help='only check, change nothing')
    parser.add_argument('--results-dir', default=osp.join(ROOT, 'benchmarks', 'results'))
    parser.add_argument('--files', nargs='+', help='Markdown files (default: README.md, docs/, the method pages configs/*/README.md, '
                        'the lab\'s pages outside benchmarks/results/)')
    parser.add_argument('--provenance', action='store_true',
                        help='list the table rows whose records lack provenance or whose config '
                        'has changed since they were made (exit 1 if any changed)')
    args = parser.parse_args(argv)
    stale = []
    files = args.files or default_files()
    if args.provenance:
        lines, changed = provenance_report(table_rows(files), args.results_dir)
        print('\n'.join(lines))
        return 1 if changed else 0
    for path in files:
        with open(path) as f:
            text = f.read()
        try:
            new = update(text, args.results_dir)
        except results.ResultsError as exc:
            print(f'error: {osp.relpath(path, ROOT)}: {exc}', file=sys.stderr)
            return 2
        if new != text:
            stale.append(osp.relpath(path, ROOT))
            if not args.check:
                with open(path, 'w') as f:
                    f.write(new)
    if args.check and stale:
        print(f'stale results tables in {", ".join(stale)}: run benchmarks/update_docs.py',
              file=sys.stderr)
        return 1
    print(('checked' if args.check else 'updated') + f': {len(stale)} file(s) '
          + ('stale' if args.check else 'rewritten'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
