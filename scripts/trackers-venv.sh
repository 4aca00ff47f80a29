#!/usr/bin/env bash
# Create (or reuse) a virtualenv with MLflow 3 and Aim 3, for the side-by-side rows of
# `python benchmarks/run.py --trackers` only (nothing else in runyard needs them), installed from
# the lock file requirements/trackers.txt.
#
#   bash scripts/trackers-venv.sh     # prints the path of the venv's python on its last line
#
# Location: ${RUNYARD_TRACKERS_VENV:-<repo>/.venv-trackers}. Reused while the lock file is
# unchanged; otherwise made again from nothing (scripts/venv-from-lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${RUNYARD_TRACKERS_VENV:-$PWD/.venv-trackers}"
PY="$VENV/bin/python"
bash scripts/venv-from-lock.sh "$VENV" requirements/trackers.txt
# Bytecode compiled once, as pip leaves an install (uv does not): the benchmarks time start-up.
# The stamp lives in the venv, which is made again from nothing when the lock changes.
if [ ! -f "$VENV/.runyard-compiled" ]; then
  "$PY" -m compileall -q -j 0 "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null 2>&1 || true
  touch "$VENV/.runyard-compiled"
fi
# Import each tracker once: checks the install, and leaves their bytecode compiled.
if ! "$PY" -c 'import mlflow, pandas; print("mlflow", mlflow.__version__)' >&2; then
  echo "trackers-venv: mlflow does not import in $VENV" >&2
  rm -f "$VENV/.runyard-lock"
  exit 1
fi
if ! "$PY" -c 'import aim, importlib.metadata as m; print("aim", m.version("aim"))' >&2; then
  # Not fatal: the benchmark rows for Aim then say why.
  echo "trackers-venv: aim does not import in $VENV (its rows will say so)" >&2
fi
echo "$PY"
