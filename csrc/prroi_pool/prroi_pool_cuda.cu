// PrRoIPool CUDA kernels: the per-thread functors of prroi_pool_common.h, launched by the
// NCHW launchers of prroi_pool_nchw.h in one grid-stride loop, with atomic adds. The CPU
// build runs the same launchers and functors (ops _prroi_pool_*_nchw) in the tests.
#include <ATen/cuda/Atomic.cuh>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../cuda_launch.cuh"
#include "prroi_pool_nchw.h"

namespace iou_aware {
namespace {

struct AtomicAdd {
  template <typename T>
  __device__ void operator()(T* p, T v) const { gpuAtomicAdd(p, v); }
};

struct CudaExec {
  using Add = AtomicAdd;
  template <typename F>
  static void run(int64_t n, const F& f) { launch_for_each_index(n, f); }
};

at::Tensor forward_cuda(const at::Tensor& input, const at::Tensor& rois, int64_t ph,
                        int64_t pw, double spatial_scale) {
  const c10::cuda::CUDAGuard guard(input.device());
  return prroi::forward_nchw<CudaExec>(input, rois, ph, pw, spatial_scale);
}

at::Tensor backward_input_cuda(const at::Tensor& grad, const at::Tensor& rois, int64_t ph,
                               int64_t pw, double spatial_scale, int64_t N, int64_t C,
                               int64_t H, int64_t W) {
  const c10::cuda::CUDAGuard guard(grad.device());
  return prroi::backward_input_nchw<CudaExec>(grad, rois, ph, pw, spatial_scale, N, C, H, W);
}

at::Tensor backward_rois_cuda(const at::Tensor& grad, const at::Tensor& output,
                              const at::Tensor& input, const at::Tensor& rois, int64_t ph,
                              int64_t pw, double spatial_scale) {
  const c10::cuda::CUDAGuard guard(input.device());
  return prroi::backward_rois_nchw<CudaExec>(grad, output, input, rois, ph, pw, spatial_scale);
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CUDA, m) {
  m.impl("prroi_pool_forward", &forward_cuda);
  m.impl("_prroi_pool_backward_input", &backward_input_cuda);
  m.impl("_prroi_pool_backward_rois", &backward_rois_cuda);
}

}  // namespace iou_aware
