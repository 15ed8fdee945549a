#pragma once
// HOST_DEVICE_INLINE marks math shared by the CPU and CUDA kernels: the same source is
// compiled by the host compiler for the CPU op and by nvcc for the CUDA op, so the CPU
// tests exercise the formulas the GPU runs (our machines have no GPU).
#if defined(__CUDACC__) || defined(__HIPCC__)
#define HOST_DEVICE_INLINE __host__ __device__ __forceinline__
#else
#define HOST_DEVICE_INLINE inline
#endif
