#pragma once
// Argument checks shared by the CPU and CUDA launchers (host code only). The Python API
// checks the same things first with friendlier wording; these guard direct op calls.
#include <ATen/ATen.h>

#include <cmath>
#include <string>

namespace iou_aware {

inline void check_forward_args(const at::Tensor& input, const at::Tensor& rois, int64_t ph,
                               int64_t pw, const char* device) {
  TORCH_CHECK(input.dim() == 4, "prroi_pool: input must be 4-D [N, C, H, W], got ",
              input.dim(), "-D");
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "prroi_pool: rois must have shape [K, 5] (batch_index, x1, y1, x2, y2), got ",
              rois.sizes());
  TORCH_CHECK(ph > 0 && pw > 0, "prroi_pool: output_size must be positive, got (", ph, ", ",
              pw, ")");
  TORCH_CHECK(input.scalar_type() == rois.scalar_type(),
              "prroi_pool: input and rois must have the same dtype, got ", input.scalar_type(),
              " and ", rois.scalar_type());
  TORCH_CHECK(input.device() == rois.device(),
              "prroi_pool: input and rois must be on the same device, got ", input.device(),
              " and ", rois.device());
  TORCH_CHECK(input.device().type() == (std::string(device) == "CPU" ? at::kCPU : at::kCUDA),
              "prroi_pool: expected ", device, " tensors");
}

inline void check_backward_args(const at::Tensor& grad, const at::Tensor& rois, int64_t ph,
                                int64_t pw, int64_t channels, const char* device) {
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5,
              "prroi_pool backward: rois must have shape [K, 5], got ", rois.sizes());
  TORCH_CHECK(grad.dim() == 4 && grad.size(0) == rois.size(0) && grad.size(1) == channels &&
                  grad.size(2) == ph && grad.size(3) == pw,
              "prroi_pool backward: grad_output must have shape [", rois.size(0), ", ", channels,
              ", ", ph, ", ", pw, "], got ", grad.sizes());
  TORCH_CHECK(grad.scalar_type() == rois.scalar_type(),
              "prroi_pool backward: grad_output and rois must have the same dtype");
  TORCH_CHECK(grad.device() == rois.device(),
              "prroi_pool backward: grad_output and rois must be on the same device");
  (void)device;
}

// Batch indices must be integral and in [0, batch_size): checked on the host (for CUDA
// tensors this costs one copy of column 0, which the Python API already makes).
inline void check_batch_indices(const at::Tensor& rois, int64_t batch_size) {
  if (rois.size(0) == 0) return;
  const at::Tensor idx = rois.select(1, 0).to(at::kCPU, at::kDouble).contiguous();
  const double* p = idx.const_data_ptr<double>();
  for (int64_t k = 0; k < idx.size(0); ++k) {
    // Written so NaN fails the first comparison.
    TORCH_CHECK(p[k] >= 0 && p[k] < static_cast<double>(batch_size) && p[k] == std::floor(p[k]),
                "prroi_pool: rois[", k, ", 0] (batch index) must be an integer in [0, ",
                batch_size, "), got ", p[k]);
  }
}

}  // namespace iou_aware
