// PrRoIPool CPU kernels. The integral is separable (see prroi_pool_common.h), so per RoI
// we tabulate each bin's x and y weights once and reuse them for every channel.
//
// All three kernels work on channels-last maps: every channel of a bin shares the weights
// wy(h) * wx(w), so the innermost loops run over contiguous channels and the compiler
// vectorizes them (the channel planes of an NCHW map are H*W apart, which made per-channel
// loops memory-bound). Forward and input gradient run the shared window_integral /
// window_scatter with all channels as lanes, the CUDA kernels the same functions with one
// lane per thread; the box gradient applies the shared edge integrals once to a
// grad-weighted channel sum. A caller that pools the same map many times (IoU-Net's box
// refinement) can pass it channels-last already and skip the per-call transpose.
//
// The bottom of this file also registers the test-only ops _prroi_pool_*_nchw: the CUDA
// kernels' launchers and per-thread code (prroi_pool_nchw.h) run serially on the host.
#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "prroi_pool_checks.h"
#include "prroi_pool_common.h"
#include "prroi_pool_nchw.h"

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

// sum_c g[c] * f[c] in eight interleaved partial sums: a float reduction is only
// vectorized when the code itself fixes a reassociated order.
template <typename Acc, typename T>
inline Acc dot_channels(const Acc* __restrict__ g, const T* __restrict__ f, int64_t C) {
  constexpr int kLanes = 8;
  Acc part[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes)
    for (int l = 0; l < kLanes; ++l) part[l] += g[c + l] * static_cast<Acc>(f[c + l]);
  Acc s = Acc(0);
  for (; c < C; ++c) s += g[c] * static_cast<Acc>(f[c]);
  for (int l = 0; l < kLanes; ++l) s += part[l];
  return s;
}

// A window [h_first, ...] x [w_first, w_first + cols) of values, read with map indices.
template <typename Acc>
struct WindowReader {
  const Acc* values;
  int h_first, w_first, cols;
  Acc operator()(int h, int w) const { return values[(h - h_first) * cols + (w - w_first)]; }
};

at::Tensor forward_cpu(const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                       int64_t pw, double spatial_scale) {
  check_forward(input_, rois_, ph, pw, spatial_scale);
  const at::Tensor input = input_.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor rois = rois_.contiguous();
  const int64_t K = rois.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  at::Tensor output = at::empty({K, C, ph, pw}, input.options().memory_format(at::MemoryFormat::Contiguous));
  if (output.numel() == 0) return output;
  const int64_t P = ph * pw;

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "prroi_pool_forward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* in = input.const_data_ptr<scalar_t>();  // [N, H, W, C] in memory
    const scalar_t* rp = rois.const_data_ptr<scalar_t>();
    scalar_t* out = output.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, K, 1, [&](int64_t begin, int64_t end) {
      RoiTables<Acc> t;
      std::vector<Acc> row(C), sum(C);
      for (int64_t k = begin; k < end; ++k) {
        const scalar_t* roi = rp + k * 5;
        scalar_t* o = out + k * C * P;
        t.build(roi, ph, pw, H, W, static_cast<Acc>(spatial_scale));
        const Acc area = t.bin00.area;
        if (!(area > Acc(0))) {  // degenerate box
          std::fill(o, o + C * P, scalar_t(0));
          continue;
        }
        const Grid<const scalar_t> map{in + static_cast<int64_t>(roi[0]) * H * W * C, W * C, C, C};
        for (int i = 0; i < ph; ++i)
          for (int j = 0; j < pw; ++j) {
            window_integral<Acc>(map, t.y.first[i], t.y.last[i], t.x.first[j], t.x.last[j],
                                 t.y.at(i), t.x.at(j), row.data(), sum.data());
            for (int64_t c = 0; c < C; ++c)
              o[c * P + i * pw + j] = static_cast<scalar_t>(sum[c] / area);
          }
      }
    });
  });
  return output;
}

at::Tensor backward_input_cpu(const at::Tensor& grad_, const at::Tensor& rois_, int64_t ph,
                              int64_t pw, double spatial_scale, int64_t N, int64_t C,
                              int64_t H, int64_t W) {
  check_backward_input(grad_, rois_, ph, pw, spatial_scale, N, C, H, W);
  const at::Tensor grad = grad_.contiguous(), rois = rois_.contiguous();
  const int64_t K = rois.size(0);
  // Accumulate low-precision gradients in float32, like the forward's opmath. The buffer
  // is channels-last, like the forward's reads.
  at::Tensor grad_input =
      at::zeros({N, H, W, C}, grad.options().dtype(acc_type(grad.scalar_type())));
  // The op's contract (and its fake kernel) is a contiguous [N, C, H, W] gradient.
  const auto to_nchw = [&] { return grad_input.permute({0, 3, 1, 2}).to(grad.scalar_type()).contiguous(); };
  if (K == 0 || grad_input.numel() == 0) return to_nchw();
  const int64_t P = ph * pw;

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "prroi_pool_backward_input_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* rp = rois.const_data_ptr<scalar_t>();
    Acc* gi = grad_input.mutable_data_ptr<Acc>();
    // Split by channel: each thread owns a block of channels at every position, so no two
    // threads add to the same value (no atomics) and each adds along contiguous channels.
    at::parallel_for(0, C, 16, [&](int64_t c_begin, int64_t c_end) {
      const int64_t nc = c_end - c_begin;
      RoiTables<Acc> t;
      std::vector<Acc> gbin(nc), gy(nc);
      for (int64_t k = 0; k < K; ++k) {
        const scalar_t* roi = rp + k * 5;
        t.build(roi, ph, pw, H, W, static_cast<Acc>(spatial_scale));
        const Acc area = t.bin00.area;
        if (!(area > Acc(0))) continue;
        const Grid<Acc> map{gi + static_cast<int64_t>(roi[0]) * H * W * C + c_begin, W * C, C, nc};
        for (int i = 0; i < ph; ++i)
          for (int j = 0; j < pw; ++j) {
            bool any = false;
            for (int64_t c = 0; c < nc; ++c) {
              gbin[c] = static_cast<Acc>(g[(k * C + c_begin + c) * P + i * pw + j]) / area;
              any = any || gbin[c] != Acc(0);
            }
            if (any)
              window_scatter<Acc>(map, t.y.first[i], t.y.last[i], t.x.first[j], t.x.last[j],
                                  t.y.at(i), t.x.at(j), gbin.data(), gy.data(), PlainAdd{});
          }
      }
    });
  });
  return to_nchw();
}

at::Tensor backward_rois_cpu(const at::Tensor& grad_, const at::Tensor& output_,
                             const at::Tensor& input_, const at::Tensor& rois_, int64_t ph,
                             int64_t pw, double spatial_scale) {
  check_backward_rois(grad_, output_, input_, rois_, ph, pw, spatial_scale);
  const at::Tensor grad = grad_.contiguous(), output = output_.contiguous();
  const at::Tensor input = input_.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor rois = rois_.contiguous();
  const int64_t K = rois.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  at::Tensor grad_rois = at::zeros({K, 5}, rois.options());
  if (K == 0 || C == 0) return grad_rois;

  const int64_t P = ph * pw;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "prroi_pool_backward_rois_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* out = output.const_data_ptr<scalar_t>();
    const scalar_t* in = input.const_data_ptr<scalar_t>();  // [N, H, W, C] in memory
    const scalar_t* rp = rois.const_data_ptr<scalar_t>();
    scalar_t* gr = grad_rois.mutable_data_ptr<scalar_t>();
    // The bin's gradient is linear in the per-channel edge integrals and outputs, so we
    // take them once on the grad-weighted channel sum G[h, w] = sum_c g[c] * F[h, w, c]
    // over the bin's window (one more row and column: an edge's interpolation may reach
    // it), instead of once per channel.
    at::parallel_for(0, K, 1, [&](int64_t begin, int64_t end) {
      RoiTables<Acc> t;
      std::vector<Acc> gbin(C), window;
      for (int64_t k = begin; k < end; ++k) {
        const scalar_t* roi = rp + k * 5;
        t.build(roi, ph, pw, H, W, static_cast<Acc>(spatial_scale));
        if (!(t.bin00.area > Acc(0))) continue;
        const scalar_t* map = in + static_cast<int64_t>(roi[0]) * H * W * C;
        Acc acc[4] = {0, 0, 0, 0};
        for (int i = 0; i < ph; ++i)
          for (int j = 0; j < pw; ++j) {
            const int h0 = t.y.first[i], h1 = t.y.last[i], w0 = t.x.first[j], w1 = t.x.last[j];
            if (h0 > h1 || w0 > w1) continue;  // bin outside the map: zero output and gradient
            const int64_t o = k * C * P + i * pw + j;
            Acc g_out = Acc(0);
            bool any = false;
            for (int64_t c = 0; c < C; ++c) {
              gbin[c] = static_cast<Acc>(g[o + c * P]);
              g_out += gbin[c] * static_cast<Acc>(out[o + c * P]);
              any = any || gbin[c] != Acc(0);
            }
            if (!any) continue;
            const int h_last = std::min<int>(h1 + 1, H - 1), w_last = std::min<int>(w1 + 1, W - 1);
            const int cols = w_last - w0 + 1;
            window.resize(static_cast<size_t>(h_last - h0 + 1) * cols);
            for (int h = h0; h <= h_last; ++h)
              for (int w = w0; w <= w_last; ++w)
                window[(h - h0) * cols + (w - w0)] =
                    dot_channels<Acc>(gbin.data(), map + (static_cast<int64_t>(h) * W + w) * C, C);
            const WindowReader<Acc> G{window.data(), h0, w0, cols};
            const Bin<Acc> b = make_bin<Acc>(roi[1], roi[2], roi[3], roi[4], i, j, ph, pw,
                                             static_cast<Acc>(spatial_scale));
            accumulate_corner_grads<Acc>(
                b, g_out, Acc(1), vertical_edge_integral<Acc>(G, W, b.xs, h0, h1, t.y.at(i)),
                vertical_edge_integral<Acc>(G, W, b.xe, h0, h1, t.y.at(i)),
                horizontal_edge_integral<Acc>(G, H, b.ys, w0, w1, t.x.at(j)),
                horizontal_edge_integral<Acc>(G, H, b.ye, w0, w1, t.x.at(j)), acc);
          }
        for (int d = 0; d < 4; ++d) gr[k * 5 + 1 + d] = static_cast<scalar_t>(acc[d]);
      }
    });
  });
  return grad_rois;
}

// The CUDA kernels' code on the host: indices one after another, so plain adds suffice.
struct SerialExec {
  using Add = PlainAdd;
  template <typename F>
  static void run(int64_t n, const F& f) {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CPU, m) {
  m.impl("prroi_pool_forward", &forward_cpu);
  m.impl("_prroi_pool_backward_input", &backward_input_cpu);
  m.impl("_prroi_pool_backward_rois", &backward_rois_cpu);
  m.impl("_prroi_pool_forward_nchw", &forward_nchw<SerialExec>);
  m.impl("_prroi_pool_backward_input_nchw", &backward_input_nchw<SerialExec>);
  m.impl("_prroi_pool_backward_rois_nchw", &backward_rois_nchw<SerialExec>);
}

}  // namespace iou_aware
