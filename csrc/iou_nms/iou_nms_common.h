#pragma once
// IoU-guided NMS math shared by the CPU kernels and the CUDA kernel.
//
// Two algorithms give the same result. The greedy one (CPU op) compares each kept box with
// the boxes still remaining. The mask one (CUDA op, like torchvision's CUDA nms) first
// computes, in parallel, for every box in ranking order the bitmask of later boxes that
// overlap it by more than the threshold, then sweeps the masks once on the host: a kept
// box's cluster is its mask minus the boxes already removed. The CPU build also runs the
// mask algorithm (op _iou_guided_nms_masked) so that tests check it without a GPU.
#include <cstdint>
#include <vector>

#include "../macros.h"

namespace iou_aware {
namespace iou_nms {

// IoU of boxes (x1, y1, x2, y2) with torchvision's convention: area = (x2-x1) * (y2-y1).
template <typename T>
HOST_DEVICE_INLINE T box_iou(const T* a, const T* b) {
  const T w = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
  const T h = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
  if (!(w > T(0) && h > T(0))) return T(0);
  const T inter = w * h;
  const T uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > T(0) ? inter / uni : T(0);
}

constexpr int kMaskBits = 64;

HOST_DEVICE_INLINE int64_t mask_words(int64_t n) { return (n + kMaskBits - 1) / kMaskBits; }

// Word `block` of row `row`'s mask over boxes sorted by rank: bit t is set when the box at
// rank block * 64 + t comes after `row` and overlaps it by more than `thr`.
template <typename T>
HOST_DEVICE_INLINE unsigned long long overlap_mask_word(const T* sorted_boxes, int64_t n,
                                                        int64_t row, int64_t block, T thr) {
  const int64_t start = block * kMaskBits;
  const int64_t end = start + kMaskBits < n ? start + kMaskBits : n;
  unsigned long long bits = 0;
  for (int64_t j = start > row + 1 ? start : row + 1; j < end; ++j)
    if (box_iou(sorted_boxes + 4 * row, sorted_boxes + 4 * j) > thr)
      bits |= 1ULL << (j - start);
  return bits;
}

// The host pass over the masks ([n, mask_words(n)], rows in rank order): appends each kept
// box's rank and the highest score of its cluster (itself included).
template <typename T>
inline void sweep_overlap_masks(const unsigned long long* masks, int64_t n,
                                const T* sorted_scores, std::vector<int64_t>* kept_ranks,
                                std::vector<double>* kept_scores) {
  const int64_t words = mask_words(n);
  std::vector<unsigned long long> removed(words, 0);
  for (int64_t a = 0; a < n; ++a) {
    if ((removed[a / kMaskBits] >> (a % kMaskBits)) & 1ULL) continue;
    T best = sorted_scores[a];
    const unsigned long long* row = masks + a * words;
    for (int64_t w = a / kMaskBits; w < words; ++w) {
      unsigned long long cluster = row[w] & ~removed[w];
      removed[w] |= cluster;
      while (cluster) {
        const int t = __builtin_ctzll(cluster);
        cluster &= cluster - 1;
        const T s = sorted_scores[w * kMaskBits + t];
        if (s > best) best = s;
      }
    }
    kept_ranks->push_back(a);
    kept_scores->push_back(static_cast<double>(best));
  }
}

}  // namespace iou_nms
}  // namespace iou_aware
