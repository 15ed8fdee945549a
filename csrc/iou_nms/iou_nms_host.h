#pragma once
// Host side of the IoU-guided NMS launchers: argument checks, ranking, the mask algorithm's
// driver (shared by the CUDA op and its CPU twin) and output packing.
#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <sstream>
#include <tuple>
#include <vector>

#include "iou_nms_common.h"

namespace iou_aware {
namespace iou_nms {

// "index i: [v0, v1, ...]" for the first row of `t` (float32/64) holding a NaN or an
// infinity, or "". On the CPU a plain loop: ATen's parallel ops cost more than the NMS of a
// thousand boxes when the cores are busy.
inline std::string first_non_finite(const at::Tensor& t) {
  if (t.numel() == 0) return "";
  const int64_t row_size = t.numel() / t.size(0);
  int64_t bad = -1;
  if (t.is_cpu()) {
    const at::Tensor c = t.contiguous();
    AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "first_non_finite", [&] {
      const scalar_t* v = c.const_data_ptr<scalar_t>();
      for (int64_t k = 0; k < c.numel(); ++k)
        if (!std::isfinite(v[k])) {
          bad = k / row_size;
          break;
        }
    });
  } else {
    const at::Tensor rows = at::isfinite(t).logical_not().reshape({t.size(0), -1}).any(1);
    if (rows.any().item<bool>()) bad = rows.nonzero()[0][0].item<int64_t>();
  }
  if (bad < 0) return "";
  const at::Tensor row = t[bad].reshape({-1}).to(at::kDouble).cpu();
  std::ostringstream out;
  out << "index " << bad << ": [";
  for (int64_t k = 0; k < row.numel(); ++k) out << (k ? ", " : "") << row[k].item<double>();
  out << "]";
  return out.str();
}

// The checks of iou_aware/ops/iou_guided_nms.py, for direct torch.ops.iou_aware.* calls;
// same exception types (TORCH_CHECK_VALUE -> ValueError, _TYPE -> TypeError) and wording.
inline void check_args(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& ious,
                       const std::optional<at::Tensor>& idxs, double iou_threshold) {
  TORCH_CHECK_VALUE(std::isfinite(iou_threshold) && iou_threshold >= 0 && iou_threshold <= 1,
                    "iou_guided_nms: iou_threshold must be a finite number in [0, 1], got ",
                    iou_threshold);
  TORCH_CHECK_VALUE(boxes.dim() == 2 && boxes.size(1) == 4,
                    "iou_guided_nms: boxes must be Tensor[N, 4] (x1, y1, x2, y2), got shape ",
                    boxes.sizes());
  const int64_t n = boxes.size(0);
  auto check_1d = [&](const at::Tensor& t, const char* name) {
    TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == n, "iou_guided_nms: ", name,
                      " must be Tensor[", n, "] (one per box), got shape ", t.sizes());
    TORCH_CHECK_VALUE(t.device() == boxes.device(), "iou_guided_nms: ", name,
                      " must be on the device of boxes (", boxes.device(), "), got ", t.device());
  };
  check_1d(scores, "scores");
  check_1d(ious, "ious");
  const at::ScalarType dtype = boxes.scalar_type();
  TORCH_CHECK_TYPE((dtype == at::kFloat || dtype == at::kDouble) &&
                       scores.scalar_type() == dtype && ious.scalar_type() == dtype,
                   "iou_guided_nms: boxes, scores and ious must be float32 or float64, one "
                   "dtype for all three, got ", boxes.scalar_type(), ", ", scores.scalar_type(),
                   ", ", ious.scalar_type());
  if (idxs) {
    check_1d(*idxs, "idxs");
    TORCH_CHECK_TYPE(idxs->scalar_type() == at::kLong,
                     "iou_guided_nms: idxs must be an int64 tensor, got ", idxs->scalar_type());
  }
  // A NaN would make the ranking and the overlap tests order-dependent: refuse it.
  auto check_finite = [](const at::Tensor& t, const char* name) {
    const std::string where = first_non_finite(t);
    TORCH_CHECK_VALUE(where.empty(), "iou_guided_nms: ", name,
                      " must be finite, got NaN or inf at ", where);
  };
  check_finite(boxes, "boxes");
  check_finite(scores, "scores");
  check_finite(ious, "ious");
}

// Input indices in ranking order: decreasing predicted IoU; stable, so among equal
// predicted IoUs the lower index goes first.
inline at::Tensor rank_order(const at::Tensor& ious) {
  return std::get<1>(ious.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
}

inline std::tuple<at::Tensor, at::Tensor> empty_result(const at::Tensor& boxes,
                                                       const at::Tensor& scores) {
  return {at::empty({0}, boxes.options().dtype(at::kLong)), at::empty({0}, scores.options())};
}

// (kept input indices, their cluster scores) as CPU tensors.
inline std::tuple<at::Tensor, at::Tensor> pack_result(const std::vector<int64_t>& keep,
                                                      const std::vector<double>& kept_scores,
                                                      at::ScalarType score_type) {
  const int64_t k = static_cast<int64_t>(keep.size());
  // clone(): from_blob aliases the vectors, and .to() of the same dtype would not copy.
  at::Tensor keep_t = at::from_blob(const_cast<int64_t*>(keep.data()), {k}, at::kLong).clone();
  at::Tensor score_t = at::from_blob(const_cast<double*>(kept_scores.data()), {k}, at::kDouble)
                           .clone()
                           .to(score_type);
  return {keep_t, score_t};
}

// What the mask words of one chunk of rows are computed from (all on the op's device):
// boxes (and categories) in x1 order, and per row in ranking order its box's x position,
// its first mask word and the offset of its words (offsets has n + 1 entries).
struct MaskJob {
  at::Tensor xboxes, xcats, pos_of_rank, word_lo, offsets;
  double iou_threshold;
};

// Default chunk: 2^24 words, 128 MiB of masks on the device (and pinned on the host).
constexpr int64_t kDefaultChunkWords = int64_t(1) << 24;

// The mask algorithm (see iou_nms_common.h). Row r (the box ranked r) stores only the words
// of the x1-sorted positions [first with running-max x2 > its x1, first with x1 >= its x2):
// outside that range no box overlaps it. Sparse boxes need a few words per row instead of
// n / 64. Rows are computed and swept in chunks of at most `chunk_words` words (or one row),
// so that even all-overlapping boxes never hold an n x n/64 mask at once.
// compute_words(job, r0, r1, out) fills out (int64 [offsets[r1] - offsets[r0]], on the
// device) with the words of rows [r0, r1).
template <typename ComputeWords>
std::tuple<at::Tensor, at::Tensor> masked_nms(const at::Tensor& boxes_, const at::Tensor& scores,
                                              const at::Tensor& ious,
                                              const std::optional<at::Tensor>& idxs,
                                              double iou_threshold, int64_t chunk_words,
                                              ComputeWords compute_words) {
  const int64_t n = boxes_.size(0);
  if (n == 0) return empty_result(boxes_, scores);
  if (chunk_words <= 0) chunk_words = kDefaultChunkWords;
  const at::Tensor boxes = boxes_.contiguous();
  const at::Tensor order = rank_order(ious);
  const at::Tensor xorder = std::get<1>(boxes.select(1, 0).sort(/*stable=*/true, 0, false));
  MaskJob job;
  job.iou_threshold = iou_threshold;
  job.xboxes = boxes.index_select(0, xorder).contiguous();
  if (idxs) job.xcats = idxs->index_select(0, xorder).contiguous();
  const at::Tensor x1s = job.xboxes.select(1, 0).contiguous();
  const at::Tensor max_x2 = std::get<0>(job.xboxes.select(1, 2).cummax(0)).contiguous();
  const at::Tensor ranked = boxes.index_select(0, order);
  const at::Tensor lo = at::searchsorted(max_x2, ranked.select(1, 0).contiguous(), false,
                                         /*right=*/true);
  const at::Tensor hi = at::searchsorted(x1s, ranked.select(1, 2).contiguous(), false,
                                         /*right=*/false);
  job.word_lo = at::div(lo, kMaskBits, "floor");
  const at::Tensor with_area = (ranked.select(1, 2) > ranked.select(1, 0)) &
                               (ranked.select(1, 3) > ranked.select(1, 1));
  const at::Tensor len = at::where(with_area & (hi > lo),
                                   at::div(hi + (kMaskBits - 1), kMaskBits, "floor") - job.word_lo,
                                   0);
  job.offsets = at::cat({at::zeros({1}, len.options()), len.cumsum(0)}).contiguous();
  job.pos_of_rank = at::empty_like(xorder)
                        .scatter_(0, xorder, at::arange(n, xorder.options()))
                        .index_select(0, order)
                        .contiguous();
  job.word_lo = job.word_lo.contiguous();

  const at::Tensor cpu_offsets = job.offsets.cpu(), cpu_lo = job.word_lo.cpu();
  const at::Tensor cpu_pos = job.pos_of_rank.cpu(), cpu_order = order.cpu();
  const at::Tensor xscores = scores.index_select(0, xorder).to(at::kDouble).cpu().contiguous();
  const int64_t* off = cpu_offsets.const_data_ptr<int64_t>();
  const int64_t* wlo = cpu_lo.const_data_ptr<int64_t>();
  const int64_t* pos = cpu_pos.const_data_ptr<int64_t>();
  const int64_t* ord = cpu_order.const_data_ptr<int64_t>();
  const double* xs = xscores.const_data_ptr<double>();

  // The sweep: `done` (bit per x position) holds the boxes kept or removed so far, so the
  // cluster of a kept box is its mask minus `done`: exactly the later-ranked boxes that
  // greedy would remove.
  std::vector<unsigned long long> done(mask_words(n), 0);
  std::vector<int64_t> keep;
  std::vector<double> kept_scores;
  for (int64_t r0 = 0; r0 < n;) {
    int64_t r1 = r0 + 1;
    while (r1 < n && off[r1 + 1] - off[r0] <= chunk_words) ++r1;
    at::Tensor words = at::empty({off[r1] - off[r0]}, boxes.options().dtype(at::kLong));
    if (words.numel()) compute_words(job, r0, r1, words);
    const at::Tensor cpu_words = words.cpu();
    const auto* masks = reinterpret_cast<const unsigned long long*>(
        cpu_words.const_data_ptr<int64_t>());
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t p = pos[r];
      if ((done[p / kMaskBits] >> (p % kMaskBits)) & 1ULL) continue;
      done[p / kMaskBits] |= 1ULL << (p % kMaskBits);
      double best = xs[p];
      const unsigned long long* row = masks + (off[r] - off[r0]);
      for (int64_t k = 0; k < off[r + 1] - off[r]; ++k) {
        const int64_t w = wlo[r] + k;
        unsigned long long cluster = row[k] & ~done[w];
        done[w] |= cluster;
        for (; cluster; cluster &= cluster - 1) {
          const double s = xs[w * kMaskBits + __builtin_ctzll(cluster)];
          if (s > best) best = s;
        }
      }
      keep.push_back(ord[r]);
      kept_scores.push_back(best);
    }
    r0 = r1;
  }
  return pack_result(keep, kept_scores, scores.scalar_type());
}

}  // namespace iou_nms
}  // namespace iou_aware
