// The iou_aware op library: every op schema is defined here, once. Kernels are registered
// per device next to their code (prroi_pool/prroi_pool_{cpu.cpp,cuda.cu}, iou_nms/...).
// Autograd and fake (meta) kernels are registered from Python (iou_aware/ops/).
#include <Python.h>
#include <torch/library.h>

// Importing iou_aware._C runs the static registrations below; the module itself is empty,
// which spares us pybind11 (and its compile time).
extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}

TORCH_LIBRARY(iou_aware, m) {
  // input [N, C, H, W]; rois [K, 5] = (batch_index, x1, y1, x2, y2); -> [K, C, ph, pw]
  m.def(
      "prroi_pool_forward(Tensor input, Tensor rois, SymInt pooled_height, "
      "SymInt pooled_width, float spatial_scale) -> Tensor");
  // -> gradient w.r.t. input, [batch_size, channels, height, width]
  m.def(
      "_prroi_pool_backward_input(Tensor grad_output, Tensor rois, SymInt pooled_height, "
      "SymInt pooled_width, float spatial_scale, SymInt batch_size, SymInt channels, "
      "SymInt height, SymInt width) -> Tensor");
  // -> gradient w.r.t. rois, [K, 5] (zero in the batch-index column)
  m.def(
      "_prroi_pool_backward_rois(Tensor grad_output, Tensor output, Tensor input, Tensor rois, "
      "SymInt pooled_height, SymInt pooled_width, float spatial_scale) -> Tensor");
  // Test-only (CPU): the same three ops computed by the CUDA kernels' code run on the host
  // (NCHW, one output value at a time), so GPU-less tests check the CUDA math.
  m.def(
      "_prroi_pool_forward_nchw(Tensor input, Tensor rois, SymInt pooled_height, "
      "SymInt pooled_width, float spatial_scale) -> Tensor");
  m.def(
      "_prroi_pool_backward_input_nchw(Tensor grad_output, Tensor rois, SymInt pooled_height, "
      "SymInt pooled_width, float spatial_scale, SymInt batch_size, SymInt channels, "
      "SymInt height, SymInt width) -> Tensor");
  m.def(
      "_prroi_pool_backward_rois_nchw(Tensor grad_output, Tensor output, Tensor input, "
      "Tensor rois, SymInt pooled_height, SymInt pooled_width, float spatial_scale) -> Tensor");
  // IoU-guided NMS: boxes [N, 4], cls scores [N], predicted IoUs [N], optional int64
  // categories [N] (boxes of different categories never suppress each other) ->
  // (kept indices in the order kept, each kept box's cluster-max score)
  m.def(
      "iou_guided_nms(Tensor boxes, Tensor scores, Tensor ious, float iou_threshold, "
      "Tensor? idxs=None) -> (Tensor, Tensor)");
  // The same by the plain O(N^2) greedy loop (the tests' oracle, the benchmark's "before").
  m.def(
      "_iou_guided_nms_greedy(Tensor boxes, Tensor scores, Tensor ious, float iou_threshold, "
      "Tensor? idxs=None) -> (Tensor, Tensor)");
  // The same by the CUDA op's mask algorithm (on the CPU too, for tests), computing at most
  // chunk_words mask words at a time (0: the default, 2^24).
  m.def(
      "_iou_guided_nms_masked(Tensor boxes, Tensor scores, Tensor ious, float iou_threshold, "
      "Tensor? idxs=None, int chunk_words=0) -> (Tensor, Tensor)");
}
