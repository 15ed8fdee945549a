#!/usr/bin/env bash
# Build an mmcv wheel with compiled ops from the registry's sdist, for the given venv python.
# Usage: build_mmcv_wheel.sh PYTHON MMCV_VERSION OUT_DIR
#
# mmcv 2.x is published for recent torch only as source, and its setup.py hard-codes
# -std=c++17 (or older); torch 2.14's headers require C++20. We raise that flag in the
# unpacked sdist (never in an installed package) and build with the venv's torch.
set -euo pipefail
PY=$1; VERSION=$2; OUT=$3
export PY
stage() { printf '[setup] mmcv: %s\n' "$*"; }
die() { printf '[setup] ERROR: mmcv: %s\n' "$*" >&2; exit 1; }

mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/mmcv-build.XXXXXX")
log="$OUT/build.log"
ticker=
cleanup() {
  kill "$ticker" 2>/dev/null || true
  rm -rf "$work"
  # Back to the setuptools the rest of the stack wants (see setup_env.sh).
  [ -n "${SETUPTOOLS_SPEC:-}" ] && bash "$(dirname "$0")/pip_quiet.sh" install -q "$SETUPTOOLS_SPEC" >>"$log" 2>&1 || true
}
trap cleanup EXIT

stage "no cached wheel for this torch/Python; building mmcv $VERSION from source (~25 min on 2 cores)"
stage "build log: $log"
stage "downloading the sdist"
# mmcv 2.1.0's setup.py is known to build with setuptools < 70 (pkg_resources, legacy
# build_ext behaviour); use exactly that for the build, restored afterwards.
"$PY" -m pip --disable-pip-version-check install -q "setuptools<70" >"$log" 2>&1 \
  || die "could not install setuptools<70 for the build; see $log"
"$PY" -m pip --disable-pip-version-check download -q --no-deps --no-binary :all: \
  "mmcv==$VERSION" -d "$work" >>"$log" 2>&1 || die "download failed; see $log"
tar -xzf "$work"/mmcv-"$VERSION".tar.gz -C "$work"
src="$work/mmcv-$VERSION"

stage "raising the C++ standard flag to C++20 in its setup.py"
sed -i -E 's/-std=c\+\+1[147]/-std=c++20/g' "$src/setup.py"
grep -q -- '-std=c++20' "$src/setup.py" \
  || die "could not find the -std flag to raise in mmcv's setup.py; the sdist layout changed"

stage "compiling ops (CPU$( [ -n "${FORCE_CUDA:-}" ] && echo ' + CUDA')); progress every minute"
# Report ninja's [done/total] counter once a minute so a long build is visibly alive.
( while sleep 60; do
    p=$(grep -aoE '^\s*\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 | tr -d ' [' | tr -d ']' || true)
    [ -n "$p" ] && stage "compiled $p units"
  done ) &
ticker=$!
(
  cd "$src"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "$PY" -m pip --disable-pip-version-check wheel --no-build-isolation --no-deps -v . -w "$work/dist"
) >>"$log" 2>&1 || die "build failed; the last lines of $log:
$(tail -n 25 "$log")"
kill "$ticker" 2>/dev/null || true

cp "$work"/dist/mmcv-"$VERSION"-*.whl "$OUT/"
stage "wheel cached in $OUT"
