// IoU-guided NMS on CUDA, the mask algorithm of iou_nms_common.h: one thread per 64-bit
// mask word (only the words of each box's x range, a chunk of rows at a time), then the
// shared host sweep over the words copied back (sequential by nature, as in torchvision's
// CUDA nms). The CPU build runs the same driver and word code as _iou_guided_nms_masked.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>

#include "iou_nms_common.h"
#include "iou_nms_host.h"

namespace iou_aware {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void mask_words_kernel(const T* xboxes, const int64_t* cats, int64_t n,
                                  const int64_t* pos_of_rank, const int64_t* word_lo,
                                  const int64_t* offsets, int64_t r0, int64_t r1, T thr,
                                  int64_t total, unsigned long long* words) {
  const int64_t base = offsets[r0];
  for (int64_t w = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; w < total;
       w += int64_t(blockDim.x) * gridDim.x)
    words[w] = iou_nms::chunk_mask_word(xboxes, cats, n, pos_of_rank, word_lo, offsets, r0, r1,
                                        base + w, thr);
}

void compute_words_cuda(const iou_nms::MaskJob& job, int64_t r0, int64_t r1, at::Tensor& out) {
  const int64_t total = out.numel();
  const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, 4096);
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(job.xboxes.scalar_type(), "iou_guided_nms_cuda", [&] {
    mask_words_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        job.xboxes.const_data_ptr<scalar_t>(),
        job.xcats.defined() ? job.xcats.const_data_ptr<int64_t>() : nullptr,
        job.xboxes.size(0), job.pos_of_rank.const_data_ptr<int64_t>(),
        job.word_lo.const_data_ptr<int64_t>(), job.offsets.const_data_ptr<int64_t>(), r0, r1,
        static_cast<scalar_t>(job.iou_threshold), total,
        reinterpret_cast<unsigned long long*>(out.mutable_data_ptr<int64_t>()));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

std::tuple<at::Tensor, at::Tensor> masked_cuda(const at::Tensor& boxes, const at::Tensor& scores,
                                               const at::Tensor& ious, double iou_threshold,
                                               const std::optional<at::Tensor>& idxs,
                                               int64_t chunk_words) {
  iou_nms::check_args(boxes, scores, ious, idxs, iou_threshold);
  const c10::cuda::CUDAGuard guard(boxes.device());
  auto [keep, kept] = iou_nms::masked_nms(boxes, scores, ious, idxs, iou_threshold, chunk_words,
                                          compute_words_cuda);
  return {keep.to(boxes.device()), kept.to(boxes.device())};
}

std::tuple<at::Tensor, at::Tensor> iou_guided_nms_cuda(const at::Tensor& boxes,
                                                       const at::Tensor& scores,
                                                       const at::Tensor& ious,
                                                       double iou_threshold,
                                                       const std::optional<at::Tensor>& idxs) {
  return masked_cuda(boxes, scores, ious, iou_threshold, idxs, 0);
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CUDA, m) {
  m.impl("iou_guided_nms", &iou_guided_nms_cuda);
  // Also here so that GPU tests can force several chunks (a small chunk_words).
  m.impl("_iou_guided_nms_masked", &masked_cuda);
}

}  // namespace iou_aware
