"""The ``iou_aware`` registry scope: a child of each of mmdet's registries.

Our components register in mmdet's registries (a config with ``default_scope='mmdet'``
finds them). When a user's config inherits ours through the package scope
(``_base_ = 'iou_aware::...'``), mmengine tags the inherited dicts with the scope
``iou_aware`` and looks for ``iou_aware.registry``: these children answer every lookup
from their mmdet parent, so such configs build exactly as ours do.
"""
from mmdet import registry as mmdet_registry
from mmengine.registry import Registry

__all__ = [name for name, value in vars(mmdet_registry).items() if isinstance(value, Registry)]

for _name in __all__:
    globals()[_name] = Registry(_name.lower(), parent=getattr(mmdet_registry, _name),
                                scope='iou_aware', locations=['iou_aware'])
