"""RoI argument handling shared by the RoI ops."""
import math
import numbers

import torch


def rois_to_tensor(rois, arg='rois'):
    """Accept rois as Tensor[K, 5] or as a list of per-image Tensor[L, 4]; return [K, 5].

    torchvision has the same conversion as a private helper; we keep our own so that a
    private API change there cannot break us, and so errors name our argument.
    """
    if isinstance(rois, torch.Tensor):
        return rois
    if isinstance(rois, (list, tuple)):
        if not rois:
            raise ValueError(f'{arg}: an empty list has no images; pass Tensor[0, 5] for no RoIs')
        for i, boxes in enumerate(rois):
            if not isinstance(boxes, torch.Tensor) or boxes.dim() != 2 or boxes.shape[1] != 4:
                shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
                raise ValueError(f'{arg}[{i}] must be a Tensor[L, 4] of (x1, y1, x2, y2), got {shape}')
        index = torch.cat([torch.full((len(b), 1), i, dtype=b.dtype, device=b.device)
                           for i, b in enumerate(rois)])
        return torch.cat([index, torch.cat(list(rois))], dim=1)
    raise TypeError(f'{arg} must be a Tensor[K, 5] or a list of Tensor[L, 4], got {type(rois).__name__}')


def check_rois(input, rois, op):
    """Validate input [N, C, H, W] against rois [K, 5]; raise with the argument's name."""
    if not isinstance(input, torch.Tensor) or input.dim() != 4:
        got = f'{input.dim()}-D' if isinstance(input, torch.Tensor) else type(input).__name__
        raise ValueError(f'{op}: input must be a 4-D Tensor[N, C, H, W], got {got}')
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f'{op}: rois must be Tensor[K, 5] (batch_index, x1, y1, x2, y2) '
                         f'or a list of Tensor[L, 4], got shape {tuple(rois.shape)}')
    if not input.is_floating_point():
        raise TypeError(f'{op}: input must be a floating-point tensor, got {input.dtype}')
    if rois.dtype != input.dtype:
        raise TypeError(f'{op}: rois must have the dtype of input ({input.dtype}), got {rois.dtype}')
    if rois.device != input.device:
        raise ValueError(f'{op}: rois must be on the device of input ({input.device}), '
                         f'got {rois.device}')
    if rois.shape[0] == 0 or torch.compiler.is_compiling():
        return  # data-dependent checks cannot run on traced (fake) tensors
    index = rois[:, 0]
    bad_index = (index < 0) | (index >= input.shape[0]) | (index != torch.floor(index))
    bad_coords = ~torch.isfinite(rois[:, 1:]).all(dim=1)
    if not bool((bad_index | bad_coords).any()):  # one host sync when all is well (CUDA)
        return
    if bool(bad_index.any()):
        k = int(bad_index.nonzero()[0, 0])
        raise ValueError(f'{op}: rois[{k}, 0] (batch index) must be an integer in '
                         f'[0, {input.shape[0]}), got {rois[k, 0].item()}')
    k = int(bad_coords.nonzero()[0, 0])
    raise ValueError(f'{op}: rois[{k}] has a non-finite coordinate: {rois[k].tolist()}')


def pair(output_size, op):
    """An int or (ph, pw) of positive ints -> (ph, pw)."""
    values = (output_size, output_size) if isinstance(output_size, numbers.Integral) else output_size
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    # bool is an Integral too, but True as a size is surely a mistake.
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                               for v in values):
        raise ValueError(f'{op}: output_size must be an int or a pair of ints (ph, pw), '
                         f'got {output_size!r}')
    ph, pw = (int(v) for v in values)
    if ph <= 0 or pw <= 0:
        raise ValueError(f'{op}: output_size must be positive integers, got {output_size!r}')
    return ph, pw


def check_scale(spatial_scale, op):
    """spatial_scale (feature-map size / image size) -> float; finite and > 0."""
    if isinstance(spatial_scale, (bool, str)):
        scale = None
    else:
        try:
            scale = float(spatial_scale)
        except (TypeError, ValueError, RuntimeError):  # RuntimeError: a multi-element tensor
            scale = None
    if scale is None:
        raise TypeError(f'{op}: spatial_scale must be a number (feature-map size / image size, '
                        f'e.g. 0.25 for stride 4), got {spatial_scale!r}')
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f'{op}: spatial_scale must be a finite number > 0, got {spatial_scale!r}')
    return scale
