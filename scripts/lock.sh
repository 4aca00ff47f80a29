#!/usr/bin/env bash
# Regenerate the lock files the test command installs from:
#   requirements/test.txt   runyard with every extra, and the test tools (from pyproject.toml)
#   requirements/guild.txt  Guild AI 0.9 for the compatibility tests (from requirements/guild.in)
#   requirements/trackers.txt  MLflow and Aim for benchmarks/run.py --trackers (from requirements/trackers.in)
#
#   bash scripts/lock.sh                 # resolve again, keeping pins that still fit
#   bash scripts/lock.sh --upgrade       # newest versions that fit
#
# Uses `uv pip compile` (uv is installed into a throwaway venv when it isn't on PATH). The locks
# are for CPython 3.11, the interpreter of the machines the tests run on.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(command -v uv || true)"
if [ -z "$UV" ]; then
  tmp="$(mktemp -d)"
  python3 -m venv "$tmp/uv" && "$tmp/uv/bin/python" -m pip install -q --disable-pip-version-check uv
  UV="$tmp/uv/bin/uv"
fi
common=(--python-version 3.11 --quiet --custom-compile-command "bash scripts/lock.sh" "$@")
"$UV" pip compile pyproject.toml --extra all --extra test "${common[@]}" -o requirements/test.txt
"$UV" pip compile requirements/guild.in "${common[@]}" -o requirements/guild.txt
"$UV" pip compile requirements/trackers.in "${common[@]}" -o requirements/trackers.txt
echo "locked: requirements/test.txt requirements/guild.txt requirements/trackers.txt"
