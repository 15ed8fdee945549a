#pragma once
// One grid-stride loop for the CUDA kernels: launch_for_each_index(n, f) runs the
// __host__ __device__ functor f(i) for every i in [0, n) on the current stream. Keeping
// the per-index work in a functor lets the CPU build run the same functor in a plain loop.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include <cstdint>

namespace iou_aware {

constexpr int kLaunchThreads = 256;
constexpr int64_t kMaxLaunchBlocks = 4096;  // larger n is covered by the stride

template <typename F>
__global__ void for_each_index_kernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x)
    f(i);
}

template <typename F>
void launch_for_each_index(int64_t n, const F& f) {
  if (n <= 0) return;
  const int64_t blocks = (n + kLaunchThreads - 1) / kLaunchThreads;
  for_each_index_kernel<<<static_cast<int>(blocks < kMaxLaunchBlocks ? blocks : kMaxLaunchBlocks),
                          kLaunchThreads, 0, at::cuda::getCurrentCUDAStream()>>>(n, f);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace iou_aware
