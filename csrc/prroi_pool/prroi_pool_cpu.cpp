// PrRoIPool CPU kernels. The integral is separable (see prroi_pool_common.h), so per RoI
// we tabulate each bin's x and y weights once and reuse them for every channel; the
// summation itself is the shared window_integral/window_scatter/edge code.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "prroi_pool_checks.h"
#include "prroi_pool_common.h"

namespace iou_aware {
namespace {

using namespace prroi;

// The weights hat_integral(lo - i, hi - i) of every bin along one axis of one RoI.
template <typename Acc>
struct AxisTable {
  std::vector<int> first, last;
  std::vector<int64_t> offset;
  std::vector<Acc> weights;

  // edges(b) gives bin b's [lo, hi] on this axis; size is the map's extent.
  template <typename Edges>
  void build(int bins, int size, const Edges& edges) {
    first.resize(bins);
    last.resize(bins);
    offset.resize(bins);
    weights.clear();
    for (int b = 0; b < bins; ++b) {
      Acc lo, hi;
      edges(b, &lo, &hi);
      support_range(lo, hi, size, &first[b], &last[b]);
      offset[b] = static_cast<int64_t>(weights.size());
      const HatWeights<Acc> hw{lo, hi};
      for (int i = first[b]; i <= last[b]; ++i) weights.push_back(hw(i));
    }
  }
  CachedWeights<Acc> at(int b) const { return {weights.data() + offset[b], first[b]}; }
};

template <typename Acc>
struct RoiTables {
  AxisTable<Acc> x, y;
  Bin<Acc> bin00;  // bin (0, 0): carries the area shared by all bins of the RoI

  template <typename T>
  void build(const T* roi, int ph, int pw, int height, int width, Acc scale) {
    const Acc x1 = roi[1], y1 = roi[2], x2 = roi[3], y2 = roi[4];
    bin00 = make_bin<Acc>(x1, y1, x2, y2, 0, 0, ph, pw, scale);
    x.build(pw, width, [&](int b, Acc* lo, Acc* hi) {
      const Bin<Acc> bb = make_bin<Acc>(x1, y1, x2, y2, 0, b, ph, pw, scale);
      *lo = bb.xs;
      *hi = bb.xe;
    });
    y.build(ph, height, [&](int b, Acc* lo, Acc* hi) {
      const Bin<Acc> bb = make_bin<Acc>(x1, y1, x2, y2, b, 0, ph, pw, scale);
      *lo = bb.ys;
      *hi = bb.ye;
    });
  }
};

at::Tensor forward_cpu(const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                       int64_t pw, double spatial_scale) {
  check_forward_args(input_, rois_, ph, pw, "CPU");
  const at::Tensor input = input_.contiguous(), rois = rois_.contiguous();
  check_batch_indices(rois, input.size(0));
  const int64_t K = rois.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  at::Tensor output = at::zeros({K, C, ph, pw}, input.options());
  if (output.numel() == 0) return output;

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "prroi_pool_forward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* in = input.const_data_ptr<scalar_t>();
    const scalar_t* rp = rois.const_data_ptr<scalar_t>();
    scalar_t* out = output.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, K, 1, [&](int64_t begin, int64_t end) {
      RoiTables<Acc> t;
      for (int64_t k = begin; k < end; ++k) {
        const scalar_t* roi = rp + k * 5;
        t.build(roi, ph, pw, H, W, static_cast<Acc>(spatial_scale));
        const Acc area = t.bin00.area;
        if (!(area > Acc(0))) continue;  // degenerate box: zeros already
        const int64_t n = static_cast<int64_t>(roi[0]);
        for (int64_t c = 0; c < C; ++c) {
          const scalar_t* plane = in + (n * C + c) * H * W;
          scalar_t* o = out + (k * C + c) * ph * pw;
          for (int i = 0; i < ph; ++i)
            for (int j = 0; j < pw; ++j)
              o[i * pw + j] = static_cast<scalar_t>(
                  window_integral<Acc>(plane, W, t.y.first[i], t.y.last[i], t.x.first[j],
                                       t.x.last[j], t.y.at(i), t.x.at(j)) / area);
        }
      }
    });
  });
  return output;
}

at::Tensor backward_input_cpu(const at::Tensor& grad_, const at::Tensor& rois_, int64_t ph,
                              int64_t pw, double spatial_scale, int64_t N, int64_t C,
                              int64_t H, int64_t W) {
  check_backward_args(grad_, rois_, ph, pw, C, "CPU");
  const at::Tensor grad = grad_.contiguous(), rois = rois_.contiguous();
  check_batch_indices(rois, N);
  const int64_t K = rois.size(0);
  // Accumulate low-precision gradients in float32, like the forward's opmath.
  const bool low = grad.scalar_type() == at::kHalf || grad.scalar_type() == at::kBFloat16;
  at::Tensor grad_input = at::zeros({N, C, H, W}, grad.options().dtype(low ? at::kFloat : grad.scalar_type()));
  if (K == 0 || grad_input.numel() == 0) return grad_input.to(grad.scalar_type());

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "prroi_pool_backward_input_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* rp = rois.const_data_ptr<scalar_t>();
    Acc* gi = grad_input.mutable_data_ptr<Acc>();
    const auto plain_add = [](Acc* p, Acc v) { *p += v; };
    // Split by channel: each thread owns whole gradient planes, so no two threads add to
    // the same value and no atomics are needed.
    at::parallel_for(0, C, 1, [&](int64_t c_begin, int64_t c_end) {
      RoiTables<Acc> t;
      for (int64_t k = 0; k < K; ++k) {
        const scalar_t* roi = rp + k * 5;
        t.build(roi, ph, pw, H, W, static_cast<Acc>(spatial_scale));
        const Acc area = t.bin00.area;
        if (!(area > Acc(0))) continue;
        const int64_t n = static_cast<int64_t>(roi[0]);
        for (int64_t c = c_begin; c < c_end; ++c) {
          Acc* plane = gi + (n * C + c) * H * W;
          const scalar_t* go = g + (k * C + c) * ph * pw;
          for (int i = 0; i < ph; ++i)
            for (int j = 0; j < pw; ++j) {
              const Acc gv = static_cast<Acc>(go[i * pw + j]) / area;
              if (gv == Acc(0)) continue;
              window_scatter<Acc>(plane, W, t.y.first[i], t.y.last[i], t.x.first[j],
                                  t.x.last[j], t.y.at(i), t.x.at(j), gv, plain_add);
            }
        }
      }
    });
  });
  return low ? grad_input.to(grad.scalar_type()) : grad_input;
}

at::Tensor backward_rois_cpu(const at::Tensor& grad_, const at::Tensor& output_,
                             const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                             int64_t pw, double spatial_scale) {
  check_forward_args(input_, rois_, ph, pw, "CPU");
  check_backward_args(grad_, rois_, ph, pw, input_.size(1), "CPU");
  TORCH_CHECK(output_.sizes() == grad_.sizes(),
              "prroi_pool_backward_rois: output must have grad_output's shape ", grad_.sizes(),
              ", got ", output_.sizes());
  const at::Tensor grad = grad_.contiguous(), output = output_.contiguous();
  const at::Tensor input = input_.contiguous(), rois = rois_.contiguous();
  check_batch_indices(rois, input.size(0));
  const int64_t K = rois.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  at::Tensor grad_rois = at::zeros({K, 5}, rois.options());
  if (K == 0 || C == 0) return grad_rois;

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "prroi_pool_backward_rois_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* out = output.const_data_ptr<scalar_t>();
    const scalar_t* in = input.const_data_ptr<scalar_t>();
    const scalar_t* rp = rois.const_data_ptr<scalar_t>();
    scalar_t* gr = grad_rois.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, K, 1, [&](int64_t begin, int64_t end) {
      RoiTables<Acc> t;
      for (int64_t k = begin; k < end; ++k) {
        const scalar_t* roi = rp + k * 5;
        t.build(roi, ph, pw, H, W, static_cast<Acc>(spatial_scale));
        if (!(t.bin00.area > Acc(0))) continue;
        const int64_t n = static_cast<int64_t>(roi[0]);
        Acc acc[4] = {0, 0, 0, 0};
        for (int i = 0; i < ph; ++i)
          for (int j = 0; j < pw; ++j) {
            const Bin<Acc> b = make_bin<Acc>(roi[1], roi[2], roi[3], roi[4], i, j, ph, pw,
                                             static_cast<Acc>(spatial_scale));
            const int h0 = t.y.first[i], h1 = t.y.last[i], w0 = t.x.first[j], w1 = t.x.last[j];
            for (int64_t c = 0; c < C; ++c) {
              const int64_t o = (k * C + c) * ph * pw + i * pw + j;
              const Acc gv = static_cast<Acc>(g[o]);
              if (gv == Acc(0)) continue;
              const scalar_t* plane = in + (n * C + c) * H * W;
              const Acc left = vertical_edge_integral<Acc>(plane, W, b.xs, h0, h1, t.y.at(i));
              const Acc right = vertical_edge_integral<Acc>(plane, W, b.xe, h0, h1, t.y.at(i));
              const Acc top = horizontal_edge_integral<Acc>(plane, H, W, b.ys, w0, w1, t.x.at(j));
              const Acc bottom = horizontal_edge_integral<Acc>(plane, H, W, b.ye, w0, w1, t.x.at(j));
              accumulate_corner_grads<Acc>(b, static_cast<Acc>(out[o]), gv, left, right, top,
                                           bottom, acc);
            }
          }
        for (int d = 0; d < 4; ++d) gr[k * 5 + 1 + d] = static_cast<scalar_t>(acc[d]);
      }
    });
  });
  return grad_rois;
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CPU, m) {
  m.impl("prroi_pool_forward", &forward_cpu);
  m.impl("prroi_pool_backward_input", &backward_input_cpu);
  m.impl("prroi_pool_backward_rois", &backward_rois_cpu);
}

}  // namespace iou_aware
