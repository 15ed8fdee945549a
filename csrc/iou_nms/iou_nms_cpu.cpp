// IoU-guided NMS (IoU-Net, Jiang et al. 2018, Algorithm 1) on the CPU: boxes are visited in
// decreasing predicted IoU; each kept box suppresses the remaining boxes (of its category)
// that overlap it by more than the threshold and takes the highest classification score of
// that cluster. Three kernels with one result (see iou_nms_common.h): the sweep (the op),
// the plain greedy loop (the test oracle, and the "before" of tools/benchmarks/benchmark_nms.py) and
// the CUDA op's mask algorithm.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "iou_nms_common.h"
#include "iou_nms_host.h"

namespace iou_aware {
namespace {

using OptTensor = std::optional<at::Tensor>;

// Runs kernel(boxes, scores, cats or nullptr, ranking order, n, thr, keep, kept_scores) on
// contiguous CPU inputs, after the shared checks.
template <typename Kernel>
std::tuple<at::Tensor, at::Tensor> run_cpu(const at::Tensor& boxes_, const at::Tensor& scores_,
                                           const at::Tensor& ious_, const OptTensor& idxs_,
                                           double iou_threshold, Kernel kernel) {
  iou_nms::check_args(boxes_, scores_, ious_, idxs_, iou_threshold);
  const int64_t n = boxes_.size(0);
  if (n == 0) return iou_nms::empty_result(boxes_, scores_);
  const at::Tensor boxes = boxes_.contiguous(), scores = scores_.contiguous();
  const at::Tensor cats = idxs_ ? idxs_->contiguous() : at::Tensor();
  const at::Tensor order = iou_nms::rank_order(ious_);
  std::vector<int64_t> keep;
  std::vector<double> kept_scores;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "iou_guided_nms_cpu", [&] {
    kernel(boxes.const_data_ptr<scalar_t>(), scores.const_data_ptr<scalar_t>(),
           idxs_ ? cats.const_data_ptr<int64_t>() : nullptr, order.const_data_ptr<int64_t>(), n,
           static_cast<scalar_t>(iou_threshold), &keep, &kept_scores);
  });
  return iou_nms::pack_result(keep, kept_scores, scores.scalar_type());
}

// Greedy: a kept box compares with every box ranked after it, O(N^2) when most boxes
// survive. Kept as the oracle the faster kernels are tested against.
template <typename T>
void greedy_nms(const T* b, const T* s, const int64_t* cat, const int64_t* ord, int64_t n,
                T thr, std::vector<int64_t>* keep, std::vector<double>* kept_scores) {
  std::vector<char> removed(n, 0);
  for (int64_t a = 0; a < n; ++a) {
    const int64_t i = ord[a];
    if (removed[i]) continue;
    T best = s[i];
    for (int64_t c = a + 1; c < n; ++c) {
      const int64_t j = ord[c];
      if (removed[j] || (cat && cat[j] != cat[i]) ||
          !(iou_nms::box_iou(b + 4 * i, b + 4 * j) > thr))
        continue;
      removed[j] = 1;
      if (s[j] > best) best = s[j];
    }
    keep->push_back(i);
    kept_scores->push_back(static_cast<double>(best));
  }
}

// Sweep over a grid per width class. Boxes with area are grouped by (category, width class
// c = binary exponent of the width, so widths in [2^c, 2^(c+1))); a group is cut into
// columns of width 2^(c+1) by x1, and a column sorted by y1. A box can only overlap a box
// of the group whose x1 lies in (its x1 - 2^(c+1), its x2), i.e. in the columns
// [floor(x1 / 2^(c+1)) - 1, floor(x2 / 2^(c+1))] (one more below, for rounding); in a
// column, only the positions from the first whose running-max y2 exceeds its y1 to the
// first whose y1 reaches its y2 (iou_nms_common.h: no other box there overlaps it). The
// column bounds are a superset whatever the rounding (divisions by powers of two, floors:
// monotonic), so the result is exactly greedy's. A kept box so visits about the boxes near
// it: sparse boxes cost O(N log N); a huge box only widens the scans of its own class.
template <typename T>
void sweep_nms(const T* b, const T* s, const int64_t* cat, const int64_t* ord, int64_t n,
               T thr, std::vector<int64_t>* keep, std::vector<double>* kept_scores) {
  // Column index of x for width class c: x * 2^-(c+1), floored. Classes are clamped so the
  // scale is a normal double; from 2^1000 on, one column (scale 0) holds the whole class.
  auto scale_of = [](int c) { return c >= 1000 ? 0.0 : std::ldexp(1.0, -(std::max(c, -1000) + 1)); };
  struct Item {
    int64_t cat;
    int wclass;
    double column;
    T y1;
    int64_t index;
  };
  std::vector<Item> items;
  for (int64_t i = 0; i < n; ++i) {
    const T* bi = b + 4 * i;
    if (!iou_nms::has_area(bi)) continue;
    const int c = std::min(std::ilogb(static_cast<double>(bi[2]) - static_cast<double>(bi[0])), 1000);
    items.push_back({cat ? cat[i] : 0, c, std::floor(bi[0] * scale_of(c)), bi[1], i});
  }
  std::sort(items.begin(), items.end(), [](const Item& u, const Item& v) {
    if (u.cat != v.cat) return u.cat < v.cat;
    if (u.wclass != v.wclass) return u.wclass < v.wclass;
    if (u.column != v.column) return u.column < v.column;
    return u.y1 < v.y1 || (u.y1 == v.y1 && u.index < v.index);
  });
  // Copies in sweep order, so that scans read memory contiguously. Columns are numbered in
  // order; a group is a run of columns.
  const int64_t m = static_cast<int64_t>(items.size());
  std::vector<T> sb(4 * m), ss(m), y1s(m), max_y2(m);
  std::vector<int64_t> pos(n, -1), col_start, group_col, group_cat;
  std::vector<double> col_key, group_scale;
  for (int64_t p = 0; p < m; ++p) {
    const Item& it = items[p];
    std::copy(b + 4 * it.index, b + 4 * it.index + 4, sb.begin() + 4 * p);
    ss[p] = s[it.index];
    y1s[p] = it.y1;
    pos[it.index] = p;
    const bool new_group = p == 0 || it.cat != items[p - 1].cat || it.wclass != items[p - 1].wclass;
    const bool new_col = new_group || it.column != items[p - 1].column;
    if (new_group) {
      group_col.push_back(static_cast<int64_t>(col_start.size()));
      group_cat.push_back(it.cat);
      group_scale.push_back(scale_of(it.wclass));
    }
    if (new_col) {
      col_start.push_back(p);
      col_key.push_back(it.column);
    }
    max_y2[p] = new_col ? sb[4 * p + 3] : std::max(max_y2[p - 1], sb[4 * p + 3]);
  }
  col_start.push_back(m);
  group_col.push_back(static_cast<int64_t>(col_key.size()));
  const int64_t groups = static_cast<int64_t>(group_cat.size());

  std::vector<char> done(m, 0);  // kept or removed
  for (int64_t a = 0; a < n; ++a) {
    const int64_t i = ord[a], p = pos[i];
    T best = s[i];
    if (p >= 0) {
      if (done[p]) continue;
      done[p] = 1;
      const T* bi = sb.data() + 4 * p;
      const int64_t c = cat ? cat[i] : 0;
      for (int64_t g = std::lower_bound(group_cat.begin(), group_cat.end(), c) - group_cat.begin();
           g < groups && group_cat[g] == c; ++g) {
        const double first = std::floor(bi[0] * group_scale[g]) - 2;
        const double last = std::floor(bi[2] * group_scale[g]);
        for (int64_t k = std::lower_bound(col_key.begin() + group_col[g],
                                          col_key.begin() + group_col[g + 1], first) -
                         col_key.begin();
             k < group_col[g + 1] && col_key[k] <= last; ++k) {
          const auto y1_begin = y1s.begin() + col_start[k];
          const int64_t hi = std::lower_bound(y1_begin, y1s.begin() + col_start[k + 1], bi[3]) -
                             y1s.begin();
          const int64_t lo = std::upper_bound(max_y2.begin() + col_start[k],
                                              max_y2.begin() + hi, bi[1]) -
                             max_y2.begin();
          for (int64_t q = lo; q < hi; ++q) {
            const T* bq = sb.data() + 4 * q;
            if (done[q] || !(iou_nms::box_iou(bi, bq) > thr)) continue;
            done[q] = 1;
            if (ss[q] > best) best = ss[q];
          }
        }
      }
    }
    keep->push_back(i);
    kept_scores->push_back(static_cast<double>(best));
  }
}

std::tuple<at::Tensor, at::Tensor> iou_guided_nms_cpu(const at::Tensor& boxes,
                                                      const at::Tensor& scores,
                                                      const at::Tensor& ious,
                                                      double iou_threshold, const OptTensor& idxs) {
  return run_cpu(boxes, scores, ious, idxs, iou_threshold,
                 [](auto... args) { sweep_nms(args...); });
}

std::tuple<at::Tensor, at::Tensor> iou_guided_nms_greedy_cpu(const at::Tensor& boxes,
                                                             const at::Tensor& scores,
                                                             const at::Tensor& ious,
                                                             double iou_threshold,
                                                             const OptTensor& idxs) {
  return run_cpu(boxes, scores, ious, idxs, iou_threshold,
                 [](auto... args) { greedy_nms(args...); });
}

// The CUDA op's mask algorithm on the CPU: the same driver and mask words, with
// at::parallel_for for the kernel, so tests check the code the CUDA op runs.
std::tuple<at::Tensor, at::Tensor> iou_guided_nms_masked_cpu(const at::Tensor& boxes,
                                                             const at::Tensor& scores,
                                                             const at::Tensor& ious,
                                                             double iou_threshold,
                                                             const OptTensor& idxs,
                                                             int64_t chunk_words) {
  iou_nms::check_args(boxes, scores, ious, idxs, iou_threshold);
  auto compute = [](const iou_nms::MaskJob& job, int64_t r0, int64_t r1, at::Tensor& out) {
    AT_DISPATCH_FLOATING_TYPES(job.xboxes.scalar_type(), "iou_guided_nms_masked_cpu", [&] {
      const scalar_t* xb = job.xboxes.const_data_ptr<scalar_t>();
      const int64_t* cats = job.xcats.defined() ? job.xcats.const_data_ptr<int64_t>() : nullptr;
      const int64_t* off = job.offsets.const_data_ptr<int64_t>();
      const int64_t n = job.xboxes.size(0), base = off[r0];
      const auto thr = static_cast<scalar_t>(job.iou_threshold);
      int64_t* words = out.mutable_data_ptr<int64_t>();
      at::parallel_for(0, out.numel(), 64, [&](int64_t begin, int64_t end) {
        for (int64_t w = begin; w < end; ++w)
          words[w] = static_cast<int64_t>(iou_nms::chunk_mask_word(
              xb, cats, n, job.pos_of_rank.const_data_ptr<int64_t>(),
              job.word_lo.const_data_ptr<int64_t>(), off, r0, r1, base + w, thr));
      });
    });
  };
  return iou_nms::masked_nms(boxes, scores, ious, idxs, iou_threshold, chunk_words, compute);
}

}  // namespace

TORCH_LIBRARY_IMPL(iou_aware, CPU, m) {
  m.impl("iou_guided_nms", &iou_guided_nms_cpu);
  m.impl("_iou_guided_nms_greedy", &iou_guided_nms_greedy_cpu);
  m.impl("_iou_guided_nms_masked", &iou_guided_nms_masked_cpu);
}

}  // namespace iou_aware
