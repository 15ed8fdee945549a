#pragma once
// The NCHW launchers of the per-thread functors in prroi_pool_common.h (host code). They
// are generic over `Exec`, which runs a functor for every index in [0, n) and names the
// add for accumulating outputs: prroi_pool_cuda.cu passes a CUDA grid-stride launch with
// atomic adds, prroi_pool_cpu.cpp a serial loop with plain adds (the test-only ops
// _prroi_pool_*_nchw). Everything else, checks included, is this one code.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "prroi_pool_checks.h"
#include "prroi_pool_common.h"

namespace iou_aware {
namespace prroi {

template <typename Acc>
Pooling<Acc> pooling(int64_t N, int64_t C, int64_t H, int64_t W, int64_t ph, int64_t pw,
                     double scale) {
  return {N, C, static_cast<int>(H), static_cast<int>(W), static_cast<int>(ph),
          static_cast<int>(pw), static_cast<Acc>(scale)};
}

// Gradients of half/bfloat16 are accumulated in float32 (on CUDA their atomics are slow
// and lossy) and cast back at the end.
inline at::ScalarType acc_type(at::ScalarType t) {
  return t == at::kHalf || t == at::kBFloat16 ? at::kFloat : t;
}

template <typename Exec>
at::Tensor forward_nchw(const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                        int64_t pw, double spatial_scale) {
  check_forward(input_, rois_, ph, pw, spatial_scale);
  const at::Tensor input = input_.contiguous(), rois = rois_.contiguous();
  at::Tensor output = at::empty({rois.size(0), input.size(1), ph, pw}, input.options());
  if (output.numel() == 0) return output;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                  "prroi_pool_forward_nchw", [&] {
    using Acc = at::opmath_type<scalar_t>;
    Exec::run(output.numel(),
              ForwardOp<scalar_t, Acc>{input.const_data_ptr<scalar_t>(),
                                       rois.const_data_ptr<scalar_t>(),
                                       output.mutable_data_ptr<scalar_t>(),
                                       pooling<Acc>(input.size(0), input.size(1), input.size(2),
                                                    input.size(3), ph, pw, spatial_scale)});
  });
  return output;
}

template <typename Exec>
at::Tensor backward_input_nchw(const at::Tensor& grad_, const at::Tensor& rois_, int64_t ph,
                               int64_t pw, double spatial_scale, int64_t N, int64_t C,
                               int64_t H, int64_t W) {
  check_backward_input(grad_, rois_, ph, pw, spatial_scale, N, C, H, W);
  const at::Tensor grad = grad_.contiguous(), rois = rois_.contiguous();
  at::Tensor grad_input =
      at::zeros({N, C, H, W}, grad.options().dtype(acc_type(grad.scalar_type())));
  if (grad.numel() > 0 && grad_input.numel() > 0) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                    "prroi_pool_backward_input_nchw", [&] {
      using Acc = at::opmath_type<scalar_t>;
      Exec::run(grad.numel(),
                BackwardInputOp<scalar_t, Acc, typename Exec::Add>{
                    grad.const_data_ptr<scalar_t>(), rois.const_data_ptr<scalar_t>(),
                    grad_input.mutable_data_ptr<Acc>(),
                    pooling<Acc>(N, C, H, W, ph, pw, spatial_scale)});
    });
  }
  return grad_input.to(grad.scalar_type());
}

template <typename Exec>
at::Tensor backward_rois_nchw(const at::Tensor& grad_, const at::Tensor& output_,
                              const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                              int64_t pw, double spatial_scale) {
  check_backward_rois(grad_, output_, input_, rois_, ph, pw, spatial_scale);
  const at::Tensor grad = grad_.contiguous(), output = output_.contiguous();
  const at::Tensor input = input_.contiguous(), rois = rois_.contiguous();
  at::Tensor grad_rois =
      at::zeros({rois.size(0), 5}, rois.options().dtype(acc_type(rois.scalar_type())));
  const int64_t total = rois.size(0) * ph * pw;
  if (total > 0 && input.size(1) > 0) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(),
                                    "prroi_pool_backward_rois_nchw", [&] {
      using Acc = at::opmath_type<scalar_t>;
      Exec::run(total, BackwardRoisOp<scalar_t, Acc, typename Exec::Add>{
                           grad.const_data_ptr<scalar_t>(), output.const_data_ptr<scalar_t>(),
                           input.const_data_ptr<scalar_t>(), rois.const_data_ptr<scalar_t>(),
                           grad_rois.mutable_data_ptr<Acc>(),
                           pooling<Acc>(input.size(0), input.size(1), input.size(2),
                                        input.size(3), ph, pw, spatial_scale)});
    });
  }
  return grad_rois.to(rois.scalar_type());
}

}  // namespace prroi
}  // namespace iou_aware
