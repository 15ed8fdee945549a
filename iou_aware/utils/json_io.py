"""JSON files the tools write (analysis summaries, calibrations, metrics): one format so reruns
diff cleanly. Pure Python: no mmdet needed to read or write them."""
import json
import os
import os.path as osp


def write_json(data, path):
    """Write ``data`` to ``path``: sorted keys, 2-space indent, NaN allowed (undefined
    correlations), trailing newline."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, indent=2, sort_keys=True, allow_nan=True)
        f.write('\n')
