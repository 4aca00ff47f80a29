#!/usr/bin/env bash
# Create (or reuse) a virtualenv with Guild AI 0.9.0 for side-by-side benchmarks.
#
#   bash scripts/guild-venv.sh        # prints the path of the `guild` executable on its last line
#
# Location: ${RUNYARD_GUILD_VENV:-$HOME/.cache/runyard/guild-venv}. Idempotent: an existing venv
# whose `guild --version` works (and whose numpy suits the optimizers) is reused as is. Python: ${RUNYARD_GUILD_PYTHON:-python3}.
set -euo pipefail

VENV="${RUNYARD_GUILD_VENV:-$HOME/.cache/runyard/guild-venv}"
PY="${RUNYARD_GUILD_PYTHON:-python3}"
GUILD="$VENV/bin/guild"

# Pins that make guildai 0.9.0 and its optimizers work on Python 3.11 (see docs/benchmarks.md):
#  - numpy<1.25: the vendored scikit-optimize imports numpy.core.umath_tests, which is gone in
#    numpy 2 and refuses to load in 1.25/1.26 ("cannot load _umath_tests module");
#  - scikit-learn<1.3: newer ones reject skopt's max_features='auto' (forest) and lack what
#    its estimators expect (__sklearn_tags__, random/gp);
#  - protobuf<5: guildai's own requirement, also what tensorboard 2.x accepts here;
#  - setuptools<81: guild and tensorboard import pkg_resources, removed in setuptools 81.
PINS=(
  "guildai==0.9.0"
  "numpy<1.25"
  "scikit-learn<1.3"
  "protobuf>=3.20,<5"
  "setuptools<81"
)

works() {
  [ -x "$GUILD" ] && "$GUILD" --version >/dev/null 2>&1 \
    && "$VENV/bin/python" -W ignore -c "import numpy.core.umath_tests, sklearn.ensemble" >/dev/null 2>&1
}

if ! works; then
  if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "${PINS[@]}"
  if ! works; then
    echo "guild-venv: guild --version fails in $VENV:" >&2
    "$GUILD" --version >&2 || true
    exit 1
  fi
fi

echo "$GUILD"
