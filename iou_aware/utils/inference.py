"""Run a checkpoint over a config's test loader and return its raw predictions (the path
tools/analyze_localization.py and tools/calibrate.py share)."""
import os.path as osp
import pickle
import tempfile

from mmengine.runner import Runner

from .cli import check_checkpoint_or_fail, run_or_fail


def predict_test_split(cfg, checkpoint):
    """(predictions as mmdet's DumpDetResults writes them, the test dataset)."""
    with tempfile.TemporaryDirectory() as tmp:
        pkl = osp.join(tmp, 'predictions.pkl')
        cfg.load_from = checkpoint
        cfg.test_evaluator = dict(type='DumpDetResults', out_file_path=pkl)
        runner = Runner.from_cfg(cfg)
        check_checkpoint_or_fail(runner.model, checkpoint)
        run_or_fail(runner.test)
        with open(pkl, 'rb') as f:
            return pickle.load(f), runner.test_dataloader.dataset
