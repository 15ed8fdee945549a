"""Timing helper shared by the timing benchmarks (benchmarks/speed/benchmark_*.py)."""
import statistics
import time


def median_time(fn, repeat, warmup=1):
    """Median wall time of ``fn()`` over ``repeat`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cuda_median_time(fn, repeat, warmup=3):
    """Median GPU time of ``fn()`` in seconds, measured with CUDA events around each call.

    Events time the work queued on the current stream between them, so launches are
    measured where they run; ops that copy results to the host (the NMS sweeps) are
    included in full since they synchronize inside ``fn``.
    """
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)
