#!/usr/bin/env bash
# Create (or reuse) a virtualenv with Guild AI 0.9.0, for the compatibility tests and the
# side-by-side benchmarks, installed from the lock file requirements/guild.txt.
#
#   bash scripts/guild-venv.sh        # prints the path of the `guild` executable on its last line
#
# Location: ${RUNYARD_GUILD_VENV:-<repo>/.venv-guild}. Reused while the lock file is unchanged;
# otherwise made again from nothing (scripts/venv-from-lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${RUNYARD_GUILD_VENV:-$PWD/.venv-guild}"
GUILD="$VENV/bin/guild"
bash scripts/venv-from-lock.sh "$VENV" requirements/guild.txt
if ! "$GUILD" --version >/dev/null 2>&1; then
  echo "guild-venv: guild --version fails in $VENV:" >&2
  "$GUILD" --version >&2 || true
  rm -f "$VENV/.runyard-lock"
  exit 1
fi
echo "$GUILD"
