#pragma once
// IoU-guided NMS math shared by the CPU kernels and the CUDA kernel.
//
// All algorithms here give the result of the greedy definition (IoU-Net Algorithm 1):
// boxes in ranking order; each box not yet removed is kept and removes every later box of
// its category that overlaps it by more than the threshold, taking the cluster's best score.
//
// Both fast algorithms rest on one fact of box_iou below: it is 0 unless both boxes have
// area (x2 > x1 and y2 > y1) and their x extents overlap strictly (x1_j < x2_i and
// x1_i < x2_j), so with a threshold >= 0 a box only needs comparing with the boxes whose
// x extent overlaps its own. These are comparisons of the stored coordinates, with no
// arithmetic, so pruning by them is exact.
//
// * Sweep (CPU op): boxes sorted by x1, per (category, width class); a kept box scans the
//   x1 range [first with running-max x2 > its x1, first with x1 >= its x2).
// * Masks (CUDA op, and on the CPU as op _iou_guided_nms_masked so tests check it without a
//   GPU): boxes sorted by x1; for each box in ranking order, the bitmask words covering its
//   x range (the rest are zero) are computed in parallel, then swept once on the host.
#include <cstdint>

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

// Whether box_iou can be non-zero for this box at all (w > 0 above needs x2 > x1 for both
// boxes: min(x2) > max(x1); likewise for y). Finite IEEE floats: x - y > 0 iff x > y.
template <typename T>
HOST_DEVICE_INLINE bool has_area(const T* a) {
  return a[2] > a[0] && a[3] > a[1];
}

constexpr int kMaskBits = 64;

HOST_DEVICE_INLINE int64_t mask_words(int64_t n) { return (n + kMaskBits - 1) / kMaskBits; }

// Word `block` of the overlap mask of the box at x-sorted position `p`: bit t is set when the
// box at position block * 64 + t is another box of the same category (when `cats` is given)
// overlapping it by more than `thr`. Earlier-ranked boxes are set too: the sweep masks them.
template <typename T>
HOST_DEVICE_INLINE unsigned long long overlap_mask_word(const T* xboxes, const int64_t* cats,
                                                        int64_t n, int64_t p, int64_t block,
                                                        T thr) {
  const int64_t start = block * kMaskBits;
  const int64_t end = start + kMaskBits < n ? start + kMaskBits : n;
  unsigned long long bits = 0;
  for (int64_t q = start; q < end; ++q)
    if (q != p && (cats == nullptr || cats[q] == cats[p]) &&
        box_iou(xboxes + 4 * p, xboxes + 4 * q) > thr)
      bits |= 1ULL << (q - start);
  return bits;
}

// Mask words are stored row after row in ranking order, row r holding the words
// [word_lo[r], word_lo[r] + len) of its box, at offsets[r] .. offsets[r + 1] (offsets is
// the exclusive prefix sum of the lengths). Computes the flat word `w` of a chunk of rows
// [r0, r1): finds its row by binary search, so that threads map 1:1 to words.
template <typename T>
HOST_DEVICE_INLINE unsigned long long chunk_mask_word(const T* xboxes, const int64_t* cats,
                                                      int64_t n, const int64_t* pos_of_rank,
                                                      const int64_t* word_lo,
                                                      const int64_t* offsets, int64_t r0,
                                                      int64_t r1, int64_t w, T thr) {
  int64_t lo = r0, hi = r1;  // the last row r in [r0, r1) with offsets[r] <= w
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (offsets[mid] <= w) lo = mid; else hi = mid;
  }
  return overlap_mask_word(xboxes, cats, n, pos_of_rank[lo], word_lo[lo] + (w - offsets[lo]),
                           thr);
}

}  // namespace iou_nms
}  // namespace iou_aware
