"""The benchmark specs and the committed results agree: no results folder without a spec
entry (a run, or a retired run with its reason), no table row without results."""
import glob
import json
import os
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(ROOT, 'benchmarks', 'results')
SPECS = sorted(glob.glob(osp.join(ROOT, 'benchmarks', 'specs', '*.json')))


def result_runs(benchmark):
    """Run folders (those holding seed<k>/ folders) under every benchmarks/results/<benchmark>*/."""
    runs = {}
    for folder in glob.glob(osp.join(RESULTS, benchmark + '*')):
        for run in os.listdir(folder):
            if glob.glob(osp.join(folder, run, 'seed*')):
                runs.setdefault(run, []).append(osp.basename(folder))
    return runs


@pytest.mark.parametrize('spec_path', SPECS, ids=osp.basename)
def test_every_results_folder_has_a_spec_entry(spec_path):
    spec = json.load(open(spec_path))
    retired = spec.get('retired_runs', {})
    assert all(isinstance(v, str) and v for v in retired.values()), 'a retired run needs a reason'
    assert not set(retired) & set(spec['runs']), 'a run is either live or retired'
    orphans = {run: where for run, where in result_runs(spec['name']).items()
               if run not in spec['runs'] and run not in retired}
    assert not orphans, f'results without a spec entry in {osp.basename(spec_path)}: {orphans}'
    stale = sorted(set(retired) - set(result_runs(spec['name'])))
    assert not stale, f'retired runs without results: {stale}'


def test_every_table_row_has_results():
    """Every row of every table the generator fills (README, docs/, method pages, the lab's
    pages) has results folders behind it."""
    from benchmarks.update_docs import default_files, table_rows
    missing = [f'{bench}/{run}' for bench, run in table_rows(default_files())
               if not glob.glob(osp.join(RESULTS, bench, run, 'seed*'))]
    assert not missing, missing


def test_a_source_checkout_reads_its_own_configs_through_the_scope():
    """`iou_aware::` configs resolve to iou_aware/.mim/configs; in a source checkout that
    must be the repository's configs/ (a symlink), never a stale copy: setup.py copies only
    for a wheel or an sdist (an in-place build_ext once left a copy behind)."""
    mim = osp.join(ROOT, 'iou_aware', '.mim', 'configs')
    if not osp.lexists(mim):
        pytest.skip('not installed from this checkout (no iou_aware/.mim/configs)')
    assert osp.realpath(mim) == osp.realpath(osp.join(ROOT, 'configs')), \
        f'{mim} is a copy, not a link to configs/: re-run `make setup`'


@pytest.mark.parametrize('spec_path', SPECS, ids=osp.basename)
def test_every_run_resolves(spec_path):
    """Each run's config with its cfg_options (as the runner passes them) loads, and an
    ``eval_of`` names a run of the same spec: a deleted or renamed config fails here, not
    in the middle of a benchmark."""
    from benchmarks.provenance import parse_options
    from iou_aware.utils.cli import load_config
    import iou_aware  # noqa: F401
    spec = json.load(open(spec_path))
    for name, run in spec['runs'].items():
        if 'eval_of' in run:
            assert run['eval_of'] in spec['runs'], f'{name}: eval_of {run["eval_of"]!r} is no run'
            continue
        options = [o.format(seed=0, work_dir='work_dirs/benchmarks') for o in run.get('cfg_options', [])]
        load_config(osp.join(ROOT, run['config']), parse_options(options) if options else None)
