"""Scripts (tools/ and the lab's) imported as modules, for a script that reuses another's code
and for the tool tests: neither folder is a package of importable modules."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_script(relpath, name=None):
    """The script at ``relpath`` (from the repository root, e.g. ``'tools/test.py'``)."""
    path = osp.join(ROOT, relpath)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no script {relpath} under {ROOT}')
    name = name or osp.splitext(osp.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
