#!/usr/bin/env bash
# Set up (virtual environment + runform with its dev tools) and run every check CI runs:
# ruff (lint + format), mypy, and the test suite, headless.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
# espeak-ng speaks the viewer's spoken cues (--cues speech); their tests skip without it.
# Installed here when missing and possible (root with apt-get), bounded in time, never failing.
if ! command -v espeak-ng >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt_espeak() { timeout 180 apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null 2>&1; }
    apt_espeak || { timeout 180 apt-get update -qq >/dev/null 2>&1 && apt_espeak; } ||
        echo "scripts/test.sh: espeak-ng could not be installed: spoken-cue tests will be skipped"
fi
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
