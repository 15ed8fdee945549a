#pragma once
// Argument checks shared by every PrRoIPool launcher (the CPU kernels, the CUDA kernels and
// the test-only NCHW ops; host code only), one function per op, called first. The Python
// API checks the same things with its own wording; these guard direct torch.ops calls.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace iou_aware {
namespace prroi {

constexpr int64_t kIntMax = std::numeric_limits<int>::max();  // kernels index with int

inline void check_pooling(int64_t ph, int64_t pw, double spatial_scale) {
  TORCH_CHECK(ph > 0 && pw > 0 && ph <= kIntMax && pw <= kIntMax,
              "prroi_pool: output_size (pooled_height, pooled_width) must be positive ints, got (",
              ph, ", ", pw, ")");
  TORCH_CHECK(std::isfinite(spatial_scale) && spatial_scale > 0,
              "prroi_pool: spatial_scale must be a finite number > 0, got ", spatial_scale);
}

// rois [K, 5] of the dtype and device of `like` (the features or their gradient).
inline void check_rois_tensor(const at::Tensor& rois, const at::Tensor& like, const char* name) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "prroi_pool: rois must have shape [K, 5] (batch_index, x1, y1, x2, y2), got ",
              rois.sizes());
  const auto t = like.scalar_type();
  TORCH_CHECK(t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16,
              "prroi_pool: ", name, " must be float16, bfloat16, float32 or float64, got ", t);
  TORCH_CHECK(rois.scalar_type() == like.scalar_type(), "prroi_pool: rois must have the dtype of ",
              name, " (", like.scalar_type(), "), got ", rois.scalar_type());
  TORCH_CHECK(rois.device() == like.device(), "prroi_pool: rois must be on the device of ", name,
              " (", like.device(), "), got ", rois.device());
}

inline void check_map_size(int64_t N, int64_t C, int64_t H, int64_t W, const char* name) {
  TORCH_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0 && H <= kIntMax && W <= kIntMax,
              "prroi_pool: ", name, " must be [N, C, H, W] with sizes >= 0 (H, W within int), "
              "got [",
              N, ", ", C, ", ", H, ", ", W, "]");
}

// Batch indices integral and in [0, batch_size), coordinates finite: checked on the host
// (for CUDA tensors one copy of rois, as the Python API's own check makes).
inline void check_rois_values(const at::Tensor& rois, int64_t batch_size) {
  if (rois.size(0) == 0) return;
  const at::Tensor r = rois.to(at::kCPU, at::kDouble).contiguous();
  const double* p = r.const_data_ptr<double>();
  for (int64_t k = 0; k < r.size(0); ++k, p += 5) {
    // Written so NaN fails the first comparison.
    TORCH_CHECK(p[0] >= 0 && p[0] < static_cast<double>(batch_size) && p[0] == std::floor(p[0]),
                "prroi_pool: rois[", k, ", 0] (batch index) must be an integer in [0, ",
                batch_size, "), got ", p[0]);
    for (int d = 1; d < 5; ++d)
      TORCH_CHECK(std::isfinite(p[d]), "prroi_pool: rois[", k, ", ", d,
                  "] (a box coordinate) must be finite, got ", p[d]);
  }
}

inline void check_forward(const at::Tensor& input, const at::Tensor& rois, int64_t ph, int64_t pw,
                          double spatial_scale) {
  TORCH_CHECK(input.dim() == 4, "prroi_pool: input must be 4-D [N, C, H, W], got ", input.dim(),
              "-D");
  check_map_size(input.size(0), input.size(1), input.size(2), input.size(3), "input");
  check_rois_tensor(rois, input, "input");
  check_pooling(ph, pw, spatial_scale);
  check_rois_values(rois, input.size(0));
}

inline void check_grad_output(const at::Tensor& grad, const at::Tensor& rois, int64_t channels,
                              int64_t ph, int64_t pw, const char* name) {
  TORCH_CHECK(grad.dim() == 4 && grad.size(0) == rois.size(0) && grad.size(1) == channels &&
                  grad.size(2) == ph && grad.size(3) == pw,
              "prroi_pool backward: ", name, " must have shape [K, C, ph, pw] = [", rois.size(0),
              ", ", channels, ", ", ph, ", ", pw, "], got ", grad.sizes());
  TORCH_CHECK(grad.scalar_type() == rois.scalar_type() && grad.device() == rois.device(),
              "prroi_pool backward: ", name, " must have the dtype and device of rois (",
              rois.scalar_type(), ", ", rois.device(), "), got ", grad.scalar_type(), ", ",
              grad.device());
}

inline void check_backward_input(const at::Tensor& grad, const at::Tensor& rois, int64_t ph,
                                 int64_t pw, double spatial_scale, int64_t N, int64_t C,
                                 int64_t H, int64_t W) {
  check_map_size(N, C, H, W, "(batch_size, channels, height, width)");
  check_rois_tensor(rois, grad, "grad_output");
  check_pooling(ph, pw, spatial_scale);
  check_grad_output(grad, rois, C, ph, pw, "grad_output");
  check_rois_values(rois, N);
}

inline void check_backward_rois(const at::Tensor& grad, const at::Tensor& output,
                                const at::Tensor& input, const at::Tensor& rois, int64_t ph,
                                int64_t pw, double spatial_scale) {
  check_forward(input, rois, ph, pw, spatial_scale);
  check_grad_output(grad, rois, input.size(1), ph, pw, "grad_output");
  check_grad_output(output, rois, input.size(1), ph, pw, "output");
}

}  // namespace prroi
}  // namespace iou_aware
