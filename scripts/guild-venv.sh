#!/usr/bin/env bash
# Create (or reuse) a virtualenv with Guild AI 0.9.0, for the compatibility tests and the
# side-by-side benchmarks, installed from the lock file requirements/guild.txt.
#
#   bash scripts/guild-venv.sh        # prints the path of the `guild` executable on its last line
#
# Location: ${RUNYARD_GUILD_VENV:-<repo>/.venv-guild}. Reused while the lock file is unchanged and
# `guild --version` works; otherwise made again from nothing. Python: ${RUNYARD_GUILD_PYTHON:-python3}.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${RUNYARD_GUILD_VENV:-$PWD/.venv-guild}"
PY="${RUNYARD_GUILD_PYTHON:-python3}"
LOCK=requirements/guild.txt
GUILD="$VENV/bin/guild"
want="$(sha256sum "$LOCK" | cut -d' ' -f1)"

works() {
  [ "$(cat "$VENV/.runyard-lock" 2>/dev/null)" = "$want" ] && [ -x "$GUILD" ] \
    && "$GUILD" --version >/dev/null 2>&1
}

if ! works; then
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  # Every version is pinned in the lock, so pip has one candidate for each and never backtracks.
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -r "$LOCK"
  echo "$want" > "$VENV/.runyard-lock"
  if ! works; then
    echo "guild-venv: guild --version fails in $VENV:" >&2
    "$GUILD" --version >&2 || true
    exit 1
  fi
fi

echo "$GUILD"
