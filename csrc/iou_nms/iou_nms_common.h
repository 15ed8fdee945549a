#pragma once
// IoU-guided NMS math shared by the CPU kernel and (later) a CUDA mask kernel.
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

}  // namespace iou_nms
}  // namespace iou_aware
