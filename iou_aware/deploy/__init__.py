"""Deployment: the shipped dense detectors as ONNX graphs (:mod:`.exportable`) and a runner
that needs ONNX Runtime and numpy only (:mod:`.onnx_runner`)."""
