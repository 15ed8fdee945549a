#pragma once
// Host-side argument checks and output packing shared by the IoU-guided NMS launchers.
#include <ATen/ATen.h>

#include <tuple>
#include <vector>

namespace iou_aware {
namespace iou_nms {

inline void check_args(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& ious) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4,
              "iou_guided_nms: boxes must be [N, 4], got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0) && ious.dim() == 1 &&
                  ious.size(0) == boxes.size(0),
              "iou_guided_nms: scores and ious must be [N] with N = ", boxes.size(0));
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type() &&
                  boxes.scalar_type() == ious.scalar_type(),
              "iou_guided_nms: boxes, scores and ious must share a dtype");
  TORCH_CHECK(boxes.device() == scores.device() && boxes.device() == ious.device(),
              "iou_guided_nms: boxes, scores and ious must be on one device");
}

// Input indices in ranking order: decreasing predicted IoU; stable, so among equal
// predicted IoUs the lower index goes first.
inline at::Tensor rank_order(const at::Tensor& ious) {
  return std::get<1>(ious.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
}

inline std::tuple<at::Tensor, at::Tensor> empty_result(const at::Tensor& boxes,
                                                       const at::Tensor& scores) {
  return {at::empty({0}, boxes.options().dtype(at::kLong)), at::empty({0}, scores.options())};
}

// (kept input indices, their cluster scores) as CPU tensors, from what a sweep found:
// `kept` are ranks, mapped to input indices through `order` (input index at each rank).
inline std::tuple<at::Tensor, at::Tensor> pack_result(const std::vector<int64_t>& kept,
                                                      const std::vector<double>& kept_scores,
                                                      const int64_t* order,
                                                      at::ScalarType score_type) {
  const int64_t k = static_cast<int64_t>(kept.size());
  at::Tensor keep_t = at::empty({k}, at::kLong);
  int64_t* out = keep_t.mutable_data_ptr<int64_t>();
  for (int64_t i = 0; i < k; ++i) out[i] = order ? order[kept[i]] : kept[i];
  // clone(): from_blob aliases the vector, and .to() of the same dtype would not copy.
  at::Tensor score_t = at::from_blob(const_cast<double*>(kept_scores.data()), {k}, at::kDouble)
                           .clone()
                           .to(score_type);
  return {keep_t, score_t};
}

}  // namespace iou_nms
}  // namespace iou_aware
