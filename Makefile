# The README's two commands are `make demo` and `make test`; both set up what is missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3.11
export PYTHON VENV

EXT_SOURCES := $(wildcard csrc/*.h csrc/*.cpp csrc/*/*.h csrc/*/*.cpp csrc/*/*.cu) setup.py
SETUP_STAMP := $(VENV)/.iou-aware-setup
EXT_STAMP := $(VENV)/.iou-aware-ext

.PHONY: setup demo test cuda-check gpu-check benchmark bccd clean

# Full environment: torch, mmcv (cached wheel or a one-time build), mmdet, this package.
setup: $(EXT_STAMP)

$(SETUP_STAMP): scripts/setup_env.sh scripts/build_mmcv_wheel.sh scripts/pip_quiet.sh requirements/constraints.txt
	bash scripts/setup_env.sh
	touch $@

# Rebuild the compiled extension whenever its sources change.
$(EXT_STAMP): $(SETUP_STAMP) $(EXT_SOURCES) scripts/build_ext.sh pyproject.toml
	bash scripts/build_ext.sh $(PY)
	touch $@

demo: setup
	$(PY) tools/demo.py

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Compile (not run: no GPU needed) the CUDA build of the extension with nvcc.
cuda-check: setup
	bash scripts/cuda_compile_check.sh $(PY)

# On a machine with an NVIDIA GPU (torch and nvcc; no mmdet needed, no `make setup`): build
# for its arch, CUDA op tests, compute-sanitizer, GPU benchmarks, one summary table.
gpu-check:
	$(if $(wildcard $(PY)),$(PY),python) tools/gpu/gpu_check.py $(GPU_CHECK_ARGS)

benchmark: setup
	$(PY) benchmarks/speed/benchmark_prroi_pool.py
	$(PY) benchmarks/speed/benchmark_nms.py

# The BCCD benchmark on real images: every run and seed of benchmarks/specs/bccd.json
# (trained on train, reported on test and val apart), results under benchmarks/results/bccd*/,
# then its tables. Finished steps are skipped. E.g. BCCD_ARGS="--runs retinanet --seeds 0".
bccd: setup
	$(PY) benchmarks/run_benchmark.py benchmarks/specs/bccd.json $(BCCD_ARGS)

clean:
	rm -rf build iou_aware/_C*.so $(EXT_STAMP)
