// IoU-guided NMS (IoU-Net, Jiang et al. 2018, Algorithm 1) on the CPU: boxes are visited in
// decreasing predicted IoU; each kept box suppresses the remaining boxes that overlap it by
// more than the threshold and takes the highest classification score of that cluster.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <vector>

#include "iou_nms_common.h"

namespace iou_aware {
namespace {

std::tuple<at::Tensor, at::Tensor> iou_guided_nms_cpu(const at::Tensor& boxes_,
                                                      const at::Tensor& scores_,
                                                      const at::Tensor& ious_,
                                                      double iou_threshold) {
  TORCH_CHECK(boxes_.dim() == 2 && boxes_.size(1) == 4,
              "iou_guided_nms: boxes must be [N, 4], got ", boxes_.sizes());
  TORCH_CHECK(scores_.dim() == 1 && scores_.size(0) == boxes_.size(0) && ious_.dim() == 1 &&
                  ious_.size(0) == boxes_.size(0),
              "iou_guided_nms: scores and ious must be [N] with N = ", boxes_.size(0));
  TORCH_CHECK(boxes_.scalar_type() == scores_.scalar_type() &&
                  boxes_.scalar_type() == ious_.scalar_type(),
              "iou_guided_nms: boxes, scores and ious must share a dtype");
  const int64_t n = boxes_.size(0);
  if (n == 0) {
    return {at::empty({0}, boxes_.options().dtype(at::kLong)), at::empty({0}, scores_.options())};
  }
  const at::Tensor boxes = boxes_.contiguous(), scores = scores_.contiguous();
  // Stable: among equal predicted IoUs the lower index goes first.
  const at::Tensor order = std::get<1>(ious_.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
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
  const int64_t k = static_cast<int64_t>(keep.size());
  at::Tensor keep_t = at::from_blob(keep.data(), {k}, at::kLong).clone();
  // clone(): from_blob aliases the vector, and .to() of the same dtype would not copy.
  at::Tensor score_t = at::from_blob(kept_scores.data(), {k}, at::kDouble).clone().to(scores.scalar_type());
  return {keep_t, score_t};
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CPU, m) {
  m.impl("iou_guided_nms", &iou_guided_nms_cpu);
}

}  // namespace iou_aware
