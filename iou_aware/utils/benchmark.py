"""Timing helpers shared by tools/benchmark_*.py."""
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
    """Median time in seconds of ``fn()`` on the current CUDA stream, between CUDA events
    recorded around each call (so host-side launch overhead that the GPU hides is not
    counted, but any host synchronisation inside ``fn`` is), after ``warmup`` calls."""
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
