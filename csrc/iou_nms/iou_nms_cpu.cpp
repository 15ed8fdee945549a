// IoU-guided NMS (IoU-Net, Jiang et al. 2018, Algorithm 1) on the CPU: boxes are visited in
// decreasing predicted IoU; each kept box suppresses the remaining boxes that overlap it by
// more than the threshold and takes the highest classification score of that cluster.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "iou_nms_common.h"
#include "iou_nms_host.h"

namespace iou_aware {
namespace {

// Greedy: compares a kept box only with the boxes still remaining, so the work shrinks as
// boxes are removed (the op used on the CPU).
std::tuple<at::Tensor, at::Tensor> iou_guided_nms_cpu(const at::Tensor& boxes_,
                                                      const at::Tensor& scores_,
                                                      const at::Tensor& ious_,
                                                      double iou_threshold) {
  iou_nms::check_args(boxes_, scores_, ious_);
  const int64_t n = boxes_.size(0);
  if (n == 0) return iou_nms::empty_result(boxes_, scores_);
  const at::Tensor boxes = boxes_.contiguous(), scores = scores_.contiguous();
  const at::Tensor order = iou_nms::rank_order(ious_);
  const int64_t* ord = order.const_data_ptr<int64_t>();
  std::vector<int64_t> keep;
  std::vector<double> kept_scores;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "iou_guided_nms_cpu", [&] {
    const scalar_t* b = boxes.const_data_ptr<scalar_t>();
    const scalar_t* s = scores.const_data_ptr<scalar_t>();
    const scalar_t thr = static_cast<scalar_t>(iou_threshold);
    std::vector<char> removed(n, 0);
    for (int64_t a = 0; a < n; ++a) {
      const int64_t i = ord[a];
      if (removed[i]) continue;
      scalar_t best = s[i];
      for (int64_t c = a + 1; c < n; ++c) {
        const int64_t j = ord[c];
        if (removed[j] || !(iou_nms::box_iou(b + 4 * i, b + 4 * j) > thr)) continue;
        removed[j] = 1;
        if (s[j] > best) best = s[j];
      }
      keep.push_back(i);
      kept_scores.push_back(static_cast<double>(best));
    }
  });
  return iou_nms::pack_result(keep, kept_scores, nullptr, scores.scalar_type());
}

// The CUDA kernel's algorithm (all overlap masks, then one sweep) on the CPU: O(N^2) work,
// so not the CPU op, but it lets the tests check the code the CUDA op runs.
std::tuple<at::Tensor, at::Tensor> iou_guided_nms_masked_cpu(const at::Tensor& boxes_,
                                                             const at::Tensor& scores_,
                                                             const at::Tensor& ious_,
                                                             double iou_threshold) {
  iou_nms::check_args(boxes_, scores_, ious_);
  const int64_t n = boxes_.size(0);
  if (n == 0) return iou_nms::empty_result(boxes_, scores_);
  const at::Tensor order = iou_nms::rank_order(ious_);
  const at::Tensor sorted_boxes = boxes_.index_select(0, order).contiguous();
  const at::Tensor sorted_scores = scores_.index_select(0, order).contiguous();
  const int64_t words = iou_nms::mask_words(n);
  std::vector<unsigned long long> masks(n * words);
  std::vector<int64_t> kept;
  std::vector<double> kept_scores;
  AT_DISPATCH_FLOATING_TYPES(boxes_.scalar_type(), "iou_guided_nms_masked_cpu", [&] {
    const scalar_t* b = sorted_boxes.const_data_ptr<scalar_t>();
    const scalar_t thr = static_cast<scalar_t>(iou_threshold);
    at::parallel_for(0, n * words, 64, [&](int64_t begin, int64_t end) {
      for (int64_t idx = begin; idx < end; ++idx)
        masks[idx] = iou_nms::overlap_mask_word(b, n, idx / words, idx % words, thr);
    });
    iou_nms::sweep_overlap_masks(masks.data(), n, sorted_scores.const_data_ptr<scalar_t>(),
                                 &kept, &kept_scores);
  });
  return iou_nms::pack_result(kept, kept_scores, order.const_data_ptr<int64_t>(),
                              scores_.scalar_type());
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CPU, m) {
  m.impl("iou_guided_nms", &iou_guided_nms_cpu);
  m.impl("_iou_guided_nms_masked", &iou_guided_nms_masked_cpu);
}

}  // namespace iou_aware
