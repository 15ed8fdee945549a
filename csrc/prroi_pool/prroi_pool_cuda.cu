// PrRoIPool CUDA kernels: one thread per output value (forward, input gradient) or per
// (RoI, bin) pair (coordinate gradient). Only indexing and launching live here; every
// formula is the shared code in prroi_pool_common.h that the CPU tests exercise.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/Atomic.cuh>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "prroi_pool_checks.h"
#include "prroi_pool_common.h"

namespace iou_aware {
namespace {

using namespace prroi;

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) {
  // Capped grid; the kernels walk the rest with grid-stride loops.
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 4096 ? b : 4096);
}

template <typename T, typename Acc>
__global__ void forward_kernel(int64_t total, const T* input, const T* rois, T* output,
                               int64_t N, int64_t C, int H, int W, int ph, int pw, Acc scale) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(blockDim.x) * gridDim.x) {
    const int j = idx % pw, i = (idx / pw) % ph;
    const int64_t c = (idx / pw / ph) % C, k = idx / pw / ph / C;
    const T* roi = rois + k * 5;
    const int64_t n = static_cast<int64_t>(static_cast<Acc>(roi[0]));
    output[idx] = T(0);
    if (n < 0 || n >= N) continue;
    const Bin<Acc> b = make_bin<Acc>(roi[1], roi[2], roi[3], roi[4], i, j, ph, pw, scale);
    if (!(b.area > Acc(0))) continue;
    int h0, h1, w0, w1;
    support_range(b.ys, b.ye, H, &h0, &h1);
    support_range(b.xs, b.xe, W, &w0, &w1);
    const T* plane = input + (n * C + c) * H * W;
    output[idx] = static_cast<T>(window_integral<Acc>(plane, W, h0, h1, w0, w1,
                                                      HatWeights<Acc>{b.ys, b.ye},
                                                      HatWeights<Acc>{b.xs, b.xe}) / b.area);
  }
}

struct AtomicAdd {
  template <typename T>
  __device__ void operator()(T* p, T v) const { gpuAtomicAdd(p, v); }
};

template <typename T, typename Acc>
__global__ void backward_input_kernel(int64_t total, const T* grad, const T* rois, Acc* grad_input,
                                      int64_t N, int64_t C, int H, int W, int ph, int pw,
                                      Acc scale) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(blockDim.x) * gridDim.x) {
    const int j = idx % pw, i = (idx / pw) % ph;
    const int64_t c = (idx / pw / ph) % C, k = idx / pw / ph / C;
    const T* roi = rois + k * 5;
    const int64_t n = static_cast<int64_t>(static_cast<Acc>(roi[0]));
    if (n < 0 || n >= N) continue;
    const Bin<Acc> b = make_bin<Acc>(roi[1], roi[2], roi[3], roi[4], i, j, ph, pw, scale);
    const Acc g = static_cast<Acc>(grad[idx]);
    if (!(b.area > Acc(0)) || g == Acc(0)) continue;
    int h0, h1, w0, w1;
    support_range(b.ys, b.ye, H, &h0, &h1);
    support_range(b.xs, b.xe, W, &w0, &w1);
    window_scatter<Acc>(grad_input + (n * C + c) * H * W, W, h0, h1, w0, w1,
                        HatWeights<Acc>{b.ys, b.ye}, HatWeights<Acc>{b.xs, b.xe}, g / b.area,
                        AtomicAdd{});
  }
}

// One thread per (RoI, bin); it sums over channels and adds its share to the RoI's four
// corner gradients (accumulated in Acc, one atomic per corner).
template <typename T, typename Acc>
__global__ void backward_rois_kernel(int64_t total, const T* grad, const T* output,
                                     const T* input, const T* rois, Acc* grad_rois, int64_t N,
                                     int64_t C, int H, int W, int ph, int pw, Acc scale) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(blockDim.x) * gridDim.x) {
    const int j = idx % pw, i = (idx / pw) % ph;
    const int64_t k = idx / pw / ph;
    const T* roi = rois + k * 5;
    const int64_t n = static_cast<int64_t>(static_cast<Acc>(roi[0]));
    if (n < 0 || n >= N) continue;
    const Bin<Acc> b = make_bin<Acc>(roi[1], roi[2], roi[3], roi[4], i, j, ph, pw, scale);
    if (!(b.area > Acc(0))) continue;
    int h0, h1, w0, w1;
    support_range(b.ys, b.ye, H, &h0, &h1);
    support_range(b.xs, b.xe, W, &w0, &w1);
    const HatWeights<Acc> wy{b.ys, b.ye}, wx{b.xs, b.xe};
    Acc acc[4] = {0, 0, 0, 0};
    for (int64_t c = 0; c < C; ++c) {
      const int64_t o = ((k * C + c) * ph + i) * pw + j;
      const Acc g = static_cast<Acc>(grad[o]);
      if (g == Acc(0)) continue;
      const PlaneReader<Acc, T> plane{input + (n * C + c) * H * W, W};
      accumulate_corner_grads<Acc>(b, static_cast<Acc>(output[o]), g,
                                   vertical_edge_integral<Acc>(plane, W, b.xs, h0, h1, wy),
                                   vertical_edge_integral<Acc>(plane, W, b.xe, h0, h1, wy),
                                   horizontal_edge_integral<Acc>(plane, H, b.ys, w0, w1, wx),
                                   horizontal_edge_integral<Acc>(plane, H, b.ye, w0, w1, wx),
                                   acc);
    }
    for (int d = 0; d < 4; ++d) gpuAtomicAdd(grad_rois + k * 5 + 1 + d, acc[d]);
  }
}

#define IOU_AWARE_DISPATCH(TYPE, NAME, ...) \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, TYPE, NAME, __VA_ARGS__)

at::Tensor forward_cuda(const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                        int64_t pw, double spatial_scale) {
  check_forward_args(input_, rois_, ph, pw, "CUDA");
  const c10::cuda::CUDAGuard guard(input_.device());
  const at::Tensor input = input_.contiguous(), rois = rois_.contiguous();
  const int64_t K = rois.size(0), N = input.size(0), C = input.size(1);
  at::Tensor output = at::empty({K, C, ph, pw}, input.options());
  const int64_t total = output.numel();
  if (total == 0) return output;
  auto stream = at::cuda::getCurrentCUDAStream();
  IOU_AWARE_DISPATCH(input.scalar_type(), "prroi_pool_forward_cuda", [&] {
    using Acc = at::opmath_type<scalar_t>;
    forward_kernel<scalar_t, Acc><<<blocks_for(total), kThreads, 0, stream>>>(
        total, input.const_data_ptr<scalar_t>(), rois.const_data_ptr<scalar_t>(),
        output.mutable_data_ptr<scalar_t>(), N, C, input.size(2), input.size(3), ph, pw,
        static_cast<Acc>(spatial_scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

at::Tensor backward_input_cuda(const at::Tensor& grad_, const at::Tensor& rois_, int64_t ph,
                               int64_t pw, double spatial_scale, int64_t N, int64_t C,
                               int64_t H, int64_t W) {
  check_backward_args(grad_, rois_, ph, pw, C, "CUDA");
  const c10::cuda::CUDAGuard guard(grad_.device());
  const at::Tensor grad = grad_.contiguous(), rois = rois_.contiguous();
  // Atomics into float32 for half/bfloat16: their own atomics are slow and lossy.
  const bool low = grad.scalar_type() == at::kHalf || grad.scalar_type() == at::kBFloat16;
  at::Tensor grad_input =
      at::zeros({N, C, H, W}, grad.options().dtype(low ? at::kFloat : grad.scalar_type()));
  const int64_t total = grad.numel();
  if (total == 0 || grad_input.numel() == 0) return grad_input.to(grad.scalar_type());
  auto stream = at::cuda::getCurrentCUDAStream();
  IOU_AWARE_DISPATCH(grad.scalar_type(), "prroi_pool_backward_input_cuda", [&] {
    using Acc = at::opmath_type<scalar_t>;
    backward_input_kernel<scalar_t, Acc><<<blocks_for(total), kThreads, 0, stream>>>(
        total, grad.const_data_ptr<scalar_t>(), rois.const_data_ptr<scalar_t>(),
        grad_input.mutable_data_ptr<Acc>(), N, C, H, W, ph, pw, static_cast<Acc>(spatial_scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return grad_input.to(grad.scalar_type());
}

at::Tensor backward_rois_cuda(const at::Tensor& grad_, const at::Tensor& output_,
                              const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                              int64_t pw, double spatial_scale) {
  check_forward_args(input_, rois_, ph, pw, "CUDA");
  check_backward_args(grad_, rois_, ph, pw, input_.size(1), "CUDA");
  const c10::cuda::CUDAGuard guard(input_.device());
  const at::Tensor grad = grad_.contiguous(), output = output_.contiguous();
  const at::Tensor input = input_.contiguous(), rois = rois_.contiguous();
  const int64_t K = rois.size(0), N = input.size(0), C = input.size(1);
  const bool low = input.scalar_type() == at::kHalf || input.scalar_type() == at::kBFloat16;
  at::Tensor grad_rois =
      at::zeros({K, 5}, rois.options().dtype(low ? at::kFloat : rois.scalar_type()));
  const int64_t total = K * ph * pw;
  if (total == 0 || C == 0) return grad_rois.to(rois.scalar_type());
  auto stream = at::cuda::getCurrentCUDAStream();
  IOU_AWARE_DISPATCH(input.scalar_type(), "prroi_pool_backward_rois_cuda", [&] {
    using Acc = at::opmath_type<scalar_t>;
    backward_rois_kernel<scalar_t, Acc><<<blocks_for(total), kThreads, 0, stream>>>(
        total, grad.const_data_ptr<scalar_t>(), output.const_data_ptr<scalar_t>(),
        input.const_data_ptr<scalar_t>(), rois.const_data_ptr<scalar_t>(),
        grad_rois.mutable_data_ptr<Acc>(), N, C, input.size(2), input.size(3), ph, pw,
        static_cast<Acc>(spatial_scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return grad_rois.to(rois.scalar_type());
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CUDA, m) {
  m.impl("prroi_pool_forward", &forward_cuda);
  m.impl("prroi_pool_backward_input", &backward_input_cuda);
  m.impl("prroi_pool_backward_rois", &backward_rois_cuda);
}

}  // namespace iou_aware
