"""The base of every model that wraps a built detector: calibration (``CalibratedDetector``),
a quality head on a frozen detector (``BoxQualityRetrofit``), an IoU branch trained on a
frozen checkpoint (``IoUBranchRetrofit``). Each wrapper is a class with one idea that holds
the detector it is given (which may be another wrapper) and overrides methods of its own
class; none rewrites a method on an instance, so wrappers stack: the outer one calls the
inner one's ``predict``, ``loss`` and ``train``.

State-dict keys stay the detector's. Like mmengine's ``BaseTTAModel`` the wrapper holds the
detector (``self.detector``), but it adopts the detector's sub-modules as its own instead of
nesting them under a ``detector.`` prefix: a plain detector's checkpoint loads into the
wrapped model, and what the wrapped model saves (the detector's keys plus the wrapper's own,
e.g. ``quality_head.*``) loads into the same stack, or, less the wrapper's keys, into the
plain detector. The detector is kept out of ``_modules`` so no module is visited twice.

Which stacks make sense is each wrapper's ``check_inner`` (one clear error at build);
``wrappers_of(model)`` lists a stack from the outside in.
"""
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS


class StackError(ValueError):
    """A stack of wrappers that cannot work (e.g. calibration under a quality head)."""


class DetectorWrapper(BaseDetector):
    """Holds ``detector`` (a config dict or a built model) and delegates to it."""

    def __init__(self, detector):
        inner = MODELS.build(detector) if isinstance(detector, dict) else detector
        self.check_inner(inner)
        super().__init__(data_preprocessor=None, init_cfg=None)
        for name, child in inner.named_children():  # the detector's keys, not nested
            self.add_module(name, child)
        self.__dict__['detector'] = inner  # not a sub-module: its modules are ours already

    @classmethod
    def check_inner(cls, inner):
        """Raise :class:`StackError` if ``cls`` cannot wrap ``inner``."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get('detector')
            if inner is None:
                raise
            return getattr(inner, name)  # e.g. TwoStageDetector.with_rpn

    def own_children(self):
        """The sub-modules this wrapper adds to its detector's."""
        inner = dict(self.detector.named_children())
        return [(n, m) for n, m in self.named_children() if inner.get(n) is not m]

    def train(self, mode=True):
        self.training = mode
        self.detector.train(mode)  # the inner wrapper's rules (frozen parts) first
        for _, module in self.own_children():
            module.train(mode)
        return self

    def extract_feat(self, batch_inputs):
        return self.detector.extract_feat(batch_inputs)

    def loss(self, batch_inputs, batch_data_samples):
        return self.detector.loss(batch_inputs, batch_data_samples)

    def predict(self, batch_inputs, batch_data_samples, rescale=True):
        return self.detector.predict(batch_inputs, batch_data_samples, rescale=rescale)

    def _forward(self, batch_inputs, batch_data_samples=None):
        return self.detector._forward(batch_inputs, batch_data_samples)


def wrappers_of(model):
    """The wrappers of a stack from the outside in, then the detector: [outer, ..., plain]."""
    out = [model]
    while isinstance(out[-1], DetectorWrapper):
        out.append(out[-1].detector)
    return out


def base_detector(model):
    """The plain detector at the bottom of a stack."""
    return wrappers_of(model)[-1]
