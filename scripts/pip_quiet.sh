#!/usr/bin/env bash
# pip in the venv ($PY), minus the "Location ... is ignored" lines some machines' pip
# configs produce for every package (noise that would bury our progress lines).
set -o pipefail
"$PY" -m pip --disable-pip-version-check "$@" 2>&1 | grep -v 'is ignored: it is neither a file nor a directory'
exit "${PIPESTATUS[0]}"
