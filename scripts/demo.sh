#!/usr/bin/env bash
# Set up runform in a virtual environment and run the main job on the built-in simulated runner
# (no hardware needed): `runform demo`, which writes everything it makes into ./demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen} .venv/bin/runform demo --out demo-output "$@"
