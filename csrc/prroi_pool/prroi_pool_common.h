#pragma once
// Precise RoI Pooling math shared by the CPU and CUDA kernels.
//
// The feature plane F is read as the bilinear interpolant of its grid values, with grid
// values outside [0, H-1] x [0, W-1] equal to zero (as in the original PrRoIPooling and
// mmcv). Written with the hat basis phi(t) = max(0, 1 - |t|):
//     f(x, y) = sum_{h, w} F[h, w] * phi(y - h) * phi(x - w),
// so the integral of f over a bin [xs, xe] x [ys, ye] separates into
//     S = sum_h Wy(h) * sum_w Wx(w) * F[h, w],   Wx(w) = integral_{xs}^{xe} phi(x - w) dx,
// and each grid value is read once per bin. The original integrates cell by cell from the
// four corners; both are exact, and the cell form is what tests/ uses as the oracle.
//
// Coordinates: RoI corners are multiplied by spatial_scale, with no -0.5 shift. A
// reversed box has zero width/height; a zero-area bin outputs 0 with zero gradients.
#include <cmath>
#include "../macros.h"

namespace iou_aware {
namespace prroi {

// Integral of the hat function phi over [a, b] (a <= b), in closed form from its
// antiderivative: 0 below -1, (t+1)^2/2 on [-1, 0], 1 - (1-t)^2/2 on [0, 1], 1 above.
template <typename T>
HOST_DEVICE_INLINE T hat_antiderivative(T t) {
  if (t <= T(-1)) return T(0);
  if (t <= T(0)) return T(0.5) * (t + T(1)) * (t + T(1));
  if (t < T(1)) return T(1) - T(0.5) * (T(1) - t) * (T(1) - t);
  return T(1);
}

template <typename T>
HOST_DEVICE_INLINE T hat_integral(T a, T b) {
  return hat_antiderivative(b) - hat_antiderivative(a);
}

template <typename T>
HOST_DEVICE_INLINE T hat(T t) {
  const T v = T(1) - (t < T(0) ? -t : t);
  return v > T(0) ? v : T(0);
}

// floor(v) / ceil(v) clamped to [lo, hi] in floating point before the cast, so huge or
// non-finite coordinates cannot overflow it (NaN gives lo: an empty range below).
template <typename T>
HOST_DEVICE_INLINE int floor_clamped(T v, int lo, int hi) {
  const T f = floor(v);
  if (!(f >= T(lo))) return lo;
  return f > T(hi) ? hi : static_cast<int>(f);
}

template <typename T>
HOST_DEVICE_INLINE int ceil_clamped(T v, int lo, int hi) {
  const T c = ceil(v);
  if (!(c >= T(lo))) return lo;
  return c > T(hi) ? hi : static_cast<int>(c);
}

// The grid indices i whose hat (support (i-1, i+1)) overlaps [lo, hi], clipped to
// [0, size-1]: floor(lo) .. ceil(hi). Empty when first > last.
template <typename T>
HOST_DEVICE_INLINE void support_range(T lo, T hi, int size, int* first, int* last) {
  *first = floor_clamped(lo, 0, size);
  *last = ceil_clamped(hi, -1, size - 1);
}

// One output bin of one RoI, in feature-map coordinates.
template <typename T>
struct Bin {
  T xs, xe, ys, ye;  // bin edges
  T area;            // (xe - xs) * (ye - ys), 0 for a degenerate box
  // d(edge)/d(RoI corner): d xs/d x1 = sx * (1 - pw/PW), d xs/d x2 = sx * pw/PW, etc.
  T dxs_dx1, dxs_dx2, dxe_dx1, dxe_dx2;
  T dys_dy1, dys_dy2, dye_dy1, dye_dy2;
};

// (rx1, ry1, rx2, ry2): the RoI corners in input-image coordinates.
template <typename T>
HOST_DEVICE_INLINE Bin<T> make_bin(T rx1, T ry1, T rx2, T ry2, int ph, int pw, int pooled_h,
                                   int pooled_w, T spatial_scale) {
  Bin<T> b;
  const T x1 = rx1 * spatial_scale, y1 = ry1 * spatial_scale;
  const T x2 = rx2 * spatial_scale, y2 = ry2 * spatial_scale;
  const T roi_w = x2 > x1 ? x2 - x1 : T(0);
  const T roi_h = y2 > y1 ? y2 - y1 : T(0);
  const T bin_w = roi_w / T(pooled_w), bin_h = roi_h / T(pooled_h);
  b.xs = x1 + bin_w * T(pw);
  b.xe = b.xs + bin_w;
  b.ys = y1 + bin_h * T(ph);
  b.ye = b.ys + bin_h;
  b.area = bin_w * bin_h;
  // A reversed box is clamped to zero size, so its corners carry no gradient.
  const bool live_x = x2 > x1, live_y = y2 > y1;
  const T fx0 = T(pw) / T(pooled_w), fx1 = T(pw + 1) / T(pooled_w);
  const T fy0 = T(ph) / T(pooled_h), fy1 = T(ph + 1) / T(pooled_h);
  b.dxs_dx1 = spatial_scale * (live_x ? T(1) - fx0 : T(1));
  b.dxs_dx2 = spatial_scale * (live_x ? fx0 : T(0));
  b.dxe_dx1 = spatial_scale * (live_x ? T(1) - fx1 : T(1));
  b.dxe_dx2 = spatial_scale * (live_x ? fx1 : T(0));
  b.dys_dy1 = spatial_scale * (live_y ? T(1) - fy0 : T(1));
  b.dys_dy2 = spatial_scale * (live_y ? fy0 : T(0));
  b.dye_dy1 = spatial_scale * (live_y ? T(1) - fy1 : T(1));
  b.dye_dy2 = spatial_scale * (live_y ? fy1 : T(0));
  return b;
}

// Weights of the separable integral, either computed on the spot (CUDA: one thread per
// output value) or looked up from a per-bin cache (CPU: shared by all channels). Both
// give hat_integral(edge_lo - i, edge_hi - i).
template <typename T>
struct HatWeights {
  T lo, hi;
  HOST_DEVICE_INLINE T operator()(int i) const { return hat_integral(lo - T(i), hi - T(i)); }
};

template <typename T>
struct CachedWeights {
  const T* w;  // w[i - first]
  int first;
  HOST_DEVICE_INLINE T operator()(int i) const { return w[i - first]; }
};

// The channel count of a CUDA thread's grid: a compile-time 1, so the channel loops below
// vanish there.
struct OneLane {
  HOST_DEVICE_INLINE constexpr operator int64_t() const { return 1; }
};

// `lanes` contiguous channels at each grid point (h, w) of a map: an NCHW plane with one
// lane (CUDA), or a block of channels of a channels-last map (CPU).
template <typename T, typename Lanes = int64_t>
struct Grid {
  T* data;
  int64_t row_stride, col_stride;
  Lanes lanes;
  HOST_DEVICE_INLINE T* at(int h, int w) const {
    return data + h * row_stride + w * col_stride;
  }
};

// sum[c] = sum_{h in [h0,h1]} wy(h) * sum_{w in [w0,w1]} wx(w) * F[h, w, c] for every lane c;
// row[] is scratch of the same length. The per-lane loops are what the CPU vectorizes.
template <typename Acc, typename T, typename L, typename WY, typename WX>
HOST_DEVICE_INLINE void window_integral(const Grid<const T, L>& f, int h0, int h1, int w0,
                                        int w1, const WY& wy, const WX& wx,
                                        Acc* __restrict__ row, Acc* __restrict__ sum) {
  for (int64_t c = 0; c < f.lanes; ++c) sum[c] = Acc(0);
  for (int h = h0; h <= h1; ++h) {
    for (int64_t c = 0; c < f.lanes; ++c) row[c] = Acc(0);
    for (int w = w0; w <= w1; ++w) {
      const Acc a = wx(w);
      const T* __restrict__ v = f.at(h, w);
      for (int64_t c = 0; c < f.lanes; ++c) row[c] += a * static_cast<Acc>(v[c]);
    }
    const Acc b = wy(h);
    for (int64_t c = 0; c < f.lanes; ++c) sum[c] += b * row[c];
  }
}

// The transpose: F[h, w, c] += (g[c] * wy(h)) * wx(w) through add(pointer, value), an
// atomic add on CUDA; gy[] is scratch of the lanes' length.
template <typename Acc, typename L, typename WY, typename WX, typename Add>
HOST_DEVICE_INLINE void window_scatter(const Grid<Acc, L>& f, int h0, int h1, int w0, int w1,
                                       const WY& wy, const WX& wx, const Acc* __restrict__ g,
                                       Acc* __restrict__ gy, const Add& add) {
  for (int h = h0; h <= h1; ++h) {
    const Acc a = wy(h);
    for (int64_t c = 0; c < f.lanes; ++c) gy[c] = g[c] * a;
    for (int w = w0; w <= w1; ++w) {
      const Acc b = wx(w);
      Acc* __restrict__ dst = f.at(h, w);
      for (int64_t c = 0; c < f.lanes; ++c) add(dst + c, gy[c] * b);
    }
  }
}

struct PlainAdd {
  template <typename T>
  HOST_DEVICE_INLINE void operator()(T* p, T v) const { *p += v; }
};

// Grid values F[h, w] of one plane, read through `at(h, w)`. The CUDA kernel reads a
// channel's plane; the CPU kernel passes the grad-weighted channel sum of a window
// (the edge integrals are linear in F, so they can be taken after the channel sum).
template <typename Acc, typename T>
struct PlaneReader {
  const T* plane;
  int width;
  HOST_DEVICE_INLINE Acc operator()(int h, int w) const {
    return static_cast<Acc>(plane[static_cast<long>(h) * width + w]);
  }
};

// Line integral of f along the vertical line x = const, for y in the rows [h0, h1]
// weighted by wy: sum_h wy(h) * f_row(h, x), where f_row interpolates linearly in x.
// Reads at most the columns floor(x) and floor(x) + 1 of those rows.
template <typename Acc, typename F, typename WY>
HOST_DEVICE_INLINE Acc vertical_edge_integral(const F& at, int width, Acc x, int h0, int h1,
                                              const WY& wy) {
  if (!(x > Acc(-1) && x < Acc(width))) return Acc(0);  // zero there (and NaN-safe)
  const int c0 = floor_clamped(x, -1, width - 1);
  const Acc u = x - Acc(c0);
  const bool has0 = c0 >= 0, has1 = c0 + 1 < width;
  Acc s = Acc(0);
  for (int h = h0; h <= h1; ++h) {
    Acc v = Acc(0);
    if (has0) v += (Acc(1) - u) * at(h, c0);
    if (has1) v += u * at(h, c0 + 1);
    s += wy(h) * v;
  }
  return s;
}

// Line integral along the horizontal line y = const, for x in the columns [w0, w1]
// weighted by wx. Reads at most the rows floor(y) and floor(y) + 1.
template <typename Acc, typename F, typename WX>
HOST_DEVICE_INLINE Acc horizontal_edge_integral(const F& at, int height, Acc y, int w0, int w1,
                                                const WX& wx) {
  if (!(y > Acc(-1) && y < Acc(height))) return Acc(0);
  const int r0 = floor_clamped(y, -1, height - 1);
  const Acc v = y - Acc(r0);
  Acc s = Acc(0);
  if (r0 >= 0) {
    Acc r = Acc(0);
    for (int w = w0; w <= w1; ++w) r += wx(w) * at(r0, w);
    s += (Acc(1) - v) * r;
  }
  if (r0 + 1 < height) {
    Acc r = Acc(0);
    for (int w = w0; w <= w1; ++w) r += wx(w) * at(r0 + 1, w);
    s += v * r;
  }
  return s;
}

// Gradient of out = S / area with respect to the RoI corners, given the edge integrals
// (L: at xs, R: at xe, Tp: at ys, Bt: at ye). With A = (xe-xs)(ye-ys):
//   d out/d xs = (-L + out * (ye-ys)) / A,   d out/d xe = (R - out * (ye-ys)) / A,
//   d out/d ys = (-Tp + out * (xe-xs)) / A,  d out/d ye = (Bt - out * (xe-xs)) / A.
// Adds g * d out/d(x1, y1, x2, y2) into grad[0..3].
template <typename Acc>
HOST_DEVICE_INLINE void accumulate_corner_grads(const Bin<Acc>& b, Acc out, Acc g, Acc left,
                                                Acc right, Acc top, Acc bottom, Acc* grad) {
  if (!(b.area > Acc(0))) return;
  const Acc bw = b.xe - b.xs, bh = b.ye - b.ys;
  const Acc d_xs = (-left + out * bh) / b.area;
  const Acc d_xe = (right - out * bh) / b.area;
  const Acc d_ys = (-top + out * bw) / b.area;
  const Acc d_ye = (bottom - out * bw) / b.area;
  grad[0] += g * (d_xs * b.dxs_dx1 + d_xe * b.dxe_dx1);
  grad[1] += g * (d_ys * b.dys_dy1 + d_ye * b.dye_dy1);
  grad[2] += g * (d_xs * b.dxs_dx2 + d_xe * b.dxe_dx2);
  grad[3] += g * (d_ys * b.dys_dy2 + d_ye * b.dye_dy2);
}

// ---- The CUDA kernels' per-thread work on NCHW maps: one output value (forward, input
// gradient) or one (RoI, bin) pair (box gradient) per index. The CUDA launcher runs these
// functors in a grid-stride loop; the CPU build runs the very same ones in the test-only
// ops _prroi_pool_*_nchw, so tests on a GPU-less machine check what the GPU computes.

template <typename Acc>
struct Pooling {
  int64_t N, C;  // batch size and channels of the feature map
  int H, W, ph, pw;
  Acc scale;
};

// Where index idx of a [K, C, ph, pw] tensor (or of [K, ph, pw] with C == 1) pools from:
// its bin and support window, or ok == false if it pools nothing (zero-area bin; a batch
// index out of range, which the launchers reject beforehand, also reads nothing).
template <typename Acc>
struct Site {
  int64_t k, c, n;
  int i, j, h0, h1, w0, w1;
  Bin<Acc> bin;
  bool ok;
};

template <typename T, typename Acc>
HOST_DEVICE_INLINE Site<Acc> locate(int64_t idx, const T* rois, const Pooling<Acc>& p,
                                    int64_t channels) {
  Site<Acc> s;
  s.j = static_cast<int>(idx % p.pw);
  s.i = static_cast<int>((idx / p.pw) % p.ph);
  s.c = (idx / p.pw / p.ph) % channels;
  s.k = idx / p.pw / p.ph / channels;
  const T* roi = rois + s.k * 5;
  s.n = static_cast<int64_t>(static_cast<Acc>(roi[0]));
  s.bin = make_bin<Acc>(roi[1], roi[2], roi[3], roi[4], s.i, s.j, p.ph, p.pw, p.scale);
  s.ok = s.n >= 0 && s.n < p.N && s.bin.area > Acc(0);
  support_range(s.bin.ys, s.bin.ye, p.H, &s.h0, &s.h1);
  support_range(s.bin.xs, s.bin.xe, p.W, &s.w0, &s.w1);
  return s;
}

template <typename T, typename Acc>
struct ForwardOp {
  const T* input;
  const T* rois;
  T* output;
  Pooling<Acc> p;
  HOST_DEVICE_INLINE void operator()(int64_t idx) const {
    const Site<Acc> s = locate(idx, rois, p, p.C);
    Acc row, sum = Acc(0);
    if (s.ok) {
      const Grid<const T, OneLane> plane{input + (s.n * p.C + s.c) * p.H * p.W, p.W, 1, {}};
      window_integral<Acc>(plane, s.h0, s.h1, s.w0, s.w1, HatWeights<Acc>{s.bin.ys, s.bin.ye},
                           HatWeights<Acc>{s.bin.xs, s.bin.xe}, &row, &sum);
      sum /= s.bin.area;
    }
    output[idx] = static_cast<T>(sum);
  }
};

// grad_input is an [N, C, H, W] buffer in Acc (float32 for half/bfloat16).
template <typename T, typename Acc, typename Add>
struct BackwardInputOp {
  const T* grad;
  const T* rois;
  Acc* grad_input;
  Pooling<Acc> p;
  HOST_DEVICE_INLINE void operator()(int64_t idx) const {
    const Site<Acc> s = locate(idx, rois, p, p.C);
    const Acc g = static_cast<Acc>(grad[idx]);
    if (!s.ok || g == Acc(0)) return;
    const Acc g_bin = g / s.bin.area;
    Acc gy;
    const Grid<Acc, OneLane> plane{grad_input + (s.n * p.C + s.c) * p.H * p.W, p.W, 1, {}};
    window_scatter<Acc>(plane, s.h0, s.h1, s.w0, s.w1, HatWeights<Acc>{s.bin.ys, s.bin.ye},
                        HatWeights<Acc>{s.bin.xs, s.bin.xe}, &g_bin, &gy, Add{});
  }
};

// One index per (RoI, bin): sums its share of the RoI's corner gradients over channels,
// then adds it to grad_rois ([K, 5] in Acc), one add per corner.
template <typename T, typename Acc, typename Add>
struct BackwardRoisOp {
  const T* grad;
  const T* output;
  const T* input;
  const T* rois;
  Acc* grad_rois;
  Pooling<Acc> p;
  HOST_DEVICE_INLINE void operator()(int64_t idx) const {
    const Site<Acc> s = locate(idx, rois, p, 1);
    if (!s.ok) return;
    const HatWeights<Acc> wy{s.bin.ys, s.bin.ye}, wx{s.bin.xs, s.bin.xe};
    Acc acc[4] = {0, 0, 0, 0};
    for (int64_t c = 0; c < p.C; ++c) {
      const int64_t o = ((s.k * p.C + c) * p.ph + s.i) * p.pw + s.j;
      const Acc g = static_cast<Acc>(grad[o]);
      if (g == Acc(0)) continue;
      const PlaneReader<Acc, T> f{input + (s.n * p.C + c) * p.H * p.W, p.W};
      accumulate_corner_grads<Acc>(s.bin, static_cast<Acc>(output[o]), g,
                                   vertical_edge_integral<Acc>(f, p.W, s.bin.xs, s.h0, s.h1, wy),
                                   vertical_edge_integral<Acc>(f, p.W, s.bin.xe, s.h0, s.h1, wy),
                                   horizontal_edge_integral<Acc>(f, p.H, s.bin.ys, s.w0, s.w1, wx),
                                   horizontal_edge_integral<Acc>(f, p.H, s.bin.ye, s.w0, s.w1, wx),
                                   acc);
    }
    for (int d = 0; d < 4; ++d) Add{}(grad_rois + s.k * 5 + 1 + d, acc[d]);
  }
};

}  // namespace prroi
}  // namespace iou_aware
