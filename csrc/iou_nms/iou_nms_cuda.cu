// IoU-guided NMS on CUDA, the mask algorithm of iou_nms_common.h: one thread per 64-box
// word of the overlap masks, then the shared host sweep over the masks copied back (as
// torchvision's CUDA nms does; the sweep is sequential by nature). The CPU build runs the
// same mask and sweep code as the op _iou_guided_nms_masked, which the tests check.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <vector>

#include "iou_nms_common.h"
#include "iou_nms_host.h"

namespace iou_aware {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void overlap_mask_kernel(const T* sorted_boxes, int64_t n, int64_t words, T thr,
                                    unsigned long long* masks) {
  const int64_t total = n * words;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(blockDim.x) * gridDim.x)
    masks[idx] = iou_nms::overlap_mask_word(sorted_boxes, n, idx / words, idx % words, thr);
}

std::tuple<at::Tensor, at::Tensor> iou_guided_nms_cuda(const at::Tensor& boxes_,
                                                       const at::Tensor& scores_,
                                                       const at::Tensor& ious_,
                                                       double iou_threshold) {
  iou_nms::check_args(boxes_, scores_, ious_);
  const c10::cuda::CUDAGuard guard(boxes_.device());
  const int64_t n = boxes_.size(0);
  if (n == 0) return iou_nms::empty_result(boxes_, scores_);
  const at::Tensor order = iou_nms::rank_order(ious_);
  const at::Tensor sorted_boxes = boxes_.index_select(0, order).contiguous();
  const int64_t words = iou_nms::mask_words(n);
  at::Tensor masks = at::empty({n * words}, boxes_.options().dtype(at::kLong));
  const int64_t blocks = std::min<int64_t>((n * words + kThreads - 1) / kThreads, 4096);
  auto stream = at::cuda::getCurrentCUDAStream();
  std::vector<int64_t> kept;
  std::vector<double> kept_scores;
  AT_DISPATCH_FLOATING_TYPES(boxes_.scalar_type(), "iou_guided_nms_cuda", [&] {
    overlap_mask_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        sorted_boxes.const_data_ptr<scalar_t>(), n, words,
        static_cast<scalar_t>(iou_threshold),
        reinterpret_cast<unsigned long long*>(masks.mutable_data_ptr<int64_t>()));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    const at::Tensor masks_cpu = masks.cpu();
    const at::Tensor sorted_scores = scores_.index_select(0, order).cpu().contiguous();
    iou_nms::sweep_overlap_masks(
        reinterpret_cast<const unsigned long long*>(masks_cpu.const_data_ptr<int64_t>()), n,
        sorted_scores.const_data_ptr<scalar_t>(), &kept, &kept_scores);
  });
  const at::Tensor order_cpu = order.cpu().contiguous();
  auto [keep_t, score_t] = iou_nms::pack_result(kept, kept_scores,
                                                order_cpu.const_data_ptr<int64_t>(),
                                                scores_.scalar_type());
  return {keep_t.to(boxes_.device()), score_t.to(boxes_.device())};
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CUDA, m) {
  m.impl("iou_guided_nms", &iou_guided_nms_cuda);
}

}  // namespace iou_aware
