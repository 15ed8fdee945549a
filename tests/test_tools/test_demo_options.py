"""tools/demo.py passes ``--cfg-options`` only with items: argparse refuses the flag alone,
which is how `make demo` (no options) failed once while the tiny-schedule test (with options)
passed."""
import importlib.util
import os.path as osp

from .tool_helpers import ROOT


def load_demo():
    spec = importlib.util.spec_from_file_location('demo_tool', osp.join(ROOT, 'tools', 'demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_items_no_flag_and_items_in_order():
    demo = load_demo()
    assert demo.cfg_options([], []) == []
    assert demo.cfg_options(['a=1'], [], ['b=2']) == ['--cfg-options', 'a=1', 'b=2']
