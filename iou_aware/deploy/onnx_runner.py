"""Run an exported detector (tools/export.py) with ONNX Runtime and numpy only: no torch, no
mmdet, no mmcv. Images in, detections out, each with its score (calibrated when the model
is), its predicted IoU and its classification score.

    from iou_aware.deploy.onnx_runner import OnnxDetector
    det = OnnxDetector('export_dir')              # model.onnx + model.json
    out = det(image)                              # HxWx3 uint8 BGR (as cv2.imread gives)
    out['boxes'], out['scores'], out['labels'], out['pred_ious'], out['cls_scores']

What happens to an image is what mmdet's test pipeline does with the exported config's
``Resize`` (keep ratio, bilinear with half-pixel centres, rounded back to uint8, as cv2's
INTER_LINEAR that mmcv uses), then the graph; boxes are scaled back to the image's pixels.
A resized image smaller than the export size is padded with the normalisation mean, which
the graph's normalisation turns into the zeros mmdet pads with.
"""
import json
import os.path as osp

import numpy as np

FIELDS = ('boxes', 'scores', 'labels', 'pred_ious', 'cls_scores')


def resized_size(width, height, scale):
    """mmcv's keep-ratio ``rescale_size`` for ``scale`` = (long edge, short edge) bounds."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(width, height), short_edge / min(width, height))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def resize_bilinear(image, width, height):
    """``image`` (HxWxC uint8) resized like cv2.resize(..., INTER_LINEAR): sample points at
    half-pixel centres, clamped at the border, the result rounded half up."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image.copy()

    def axis(n_out, n_in):
        x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        x = np.clip(x, 0, n_in - 1)
        lo = np.floor(x).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (x - lo)[:, None]
    y0, y1, wy = axis(height, h)
    x0, x1, wx = axis(width, w)
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - wx)[None] + img[y0][:, x1] * wx[None]
    bottom = img[y1][:, x0] * (1 - wx)[None] + img[y1][:, x1] * wx[None]
    out = top * (1 - wy)[:, :, None] + bottom * wy[:, :, None]
    return np.floor(out + 0.5).clip(0, 255).astype(np.uint8)


class OnnxDetector:
    """An exported detector. ``threads``: ONNX Runtime's intra-op threads (default: its
    own choice)."""

    def __init__(self, export_dir, threads=None, providers=('CPUExecutionProvider',)):
        import onnxruntime as ort
        with open(osp.join(export_dir, 'model.json')) as f:
            self.meta = json.load(f)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(osp.join(export_dir, 'model.onnx'), options,
                                            providers=list(providers))
        self.input_height, self.input_width = self.meta['input_size']
        self.classes = self.meta['classes']

    def preprocess(self, image):
        """(the padded resized image as the graph's input [3, H, W] float32, its scale
        factors (w, h))."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError('image: expected an HxWx3 array (BGR, as cv2.imread gives), got '
                             + (f'shape {image.shape}' if isinstance(image, np.ndarray)
                                else type(image).__name__))
        if image.dtype != np.uint8:
            raise ValueError(f'image: expected uint8 pixels, got {image.dtype}')
        h, w = image.shape[:2]
        new_w, new_h = resized_size(w, h, self.meta['resize_scale'])
        if new_w > self.input_width or new_h > self.input_height:
            raise ValueError(f'image: {w}x{h} resizes to {new_w}x{new_h}, larger than the '
                             f'exported input {self.input_width}x{self.input_height}; export '
                             'with a larger --input-size')
        resized = resize_bilinear(image, new_w, new_h)
        canvas = np.empty((self.input_height, self.input_width, 3), np.float32)
        canvas[:] = np.asarray(self.meta['pad_pixel'], np.float32)  # normalised to 0
        canvas[:new_h, :new_w] = resized
        return canvas.transpose(2, 0, 1), (new_w / w, new_h / h)

    def __call__(self, images):
        """Detections of one image (a dict of arrays) or of a list of images (a list)."""
        single = isinstance(images, np.ndarray)
        images = [images] if single else list(images)
        batch = self.meta['batch_size']
        out = []
        for start in range(0, len(images), batch):
            chunk = images[start:start + batch]
            inputs, factors = zip(*(self.preprocess(im) for im in chunk))
            x = np.stack(list(inputs) + [inputs[-1]] * (batch - len(chunk)))  # fill the batch
            res = dict(zip([o.name for o in self.session.get_outputs()],
                           self.session.run(None, {'images': x})))
            for b, (fw, fh) in enumerate(factors):
                n = int(res['num_dets'][b])
                det = {k: res[k][b, :n] for k in FIELDS}
                det['boxes'] = det['boxes'] / np.array([fw, fh, fw, fh], np.float32)
                out.append(det)
        return out[0] if single else out
