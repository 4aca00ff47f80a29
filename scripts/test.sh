#!/usr/bin/env bash
# The test command: installs everything the tests need on a bare machine, then runs them.
#   bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Debian packages: R for R scripts, Chromium for the web view's browser tests, git for snapshots,
# sshd for the SSH remote.
need=()
command -v Rscript  >/dev/null 2>&1 || need+=(r-base-core)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v git      >/dev/null 2>&1 || need+=(git)
[ -x /usr/sbin/sshd ]                 || need+=(openssh-server)   # a real SSH remote for the remotes tests
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[all,test]'

# Guild AI 0.9 in its own venv, for the compatibility tests (cached between runs).
RUNYARD_GUILD="$(bash scripts/guild-venv.sh | tail -n 1)"
export RUNYARD_GUILD

python3 -m ruff check -q src tests benchmarks   # undefined names and the like, before the slow part
python3 -m pytest -q -p no:cacheprovider "$@"
