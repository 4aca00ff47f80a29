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
# R packages for the R package in r/ and its tests (Debian's: CRAN is not reachable).
for p in jsonlite tibble processx testthat roxygen2 withr dplyr tidyr rstudioapi ggplot2; do
  dpkg-query -W -f='${Status}' "r-cran-$p" 2>/dev/null | grep -q "ok installed" || need+=("r-cran-$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Python: the tests' own virtualenv, made from the lock file (every version pinned: nothing to
# backtrack over) and reused while the lock and pyproject.toml are unchanged. Nothing installed
# elsewhere on the machine, or in the caller's venv, is used.
# Regenerate the locks with `bash scripts/lock.sh` (docs/architecture.md, "Dependencies").
VENV="${RUNYARD_TEST_VENV:-$PWD/.venv-test}"
bash scripts/venv-from-lock.sh "$VENV" requirements/test.txt pyproject.toml
export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
unset PYTHONHOME

# The R package (library(runyard)), reinstalled when r/ changed since it was installed.
installed="$(Rscript -e 'cat(system.file("DESCRIPTION", package = "runyard"))')"
if [ -z "$installed" ] || [ -n "$(find r -newer "$installed" -print -quit)" ]; then
  out="$($SUDO R CMD INSTALL --no-multiarch r 2>&1)" || { echo "$out"; exit 1; }
fi

# Guild AI 0.9 in its own venv, for the compatibility tests (cached between runs).
RUNYARD_GUILD="$(bash scripts/guild-venv.sh | tail -n 1)"
export RUNYARD_GUILD

# Python writes its bytecode caches as it normally does (an installed package has them; without
# them every runyard process a test starts would compile its modules again).
unset PYTHONDONTWRITEBYTECODE

python -m ruff check -q src tests benchmarks   # undefined names and the like, before the slow part
lint-imports --no-cache --no-logo   # the layers: no import upward (pyproject.toml [tool.importlinter])
# -rs: every skip says why. -n 2: two pytest-xdist workers (this machine's cores; much of the time
# is spent waiting on subprocesses, Guild AI, R and Chromium). --dist loadgroup: the tests of an
# xdist_group (those sharing an expensive module fixture) go to one worker; the rest are spread
# one by one. `-n 0` in the arguments runs them in this process.
python -m pytest -q -rs -p no:cacheprovider -n "${RUNYARD_TEST_WORKERS:-2}" --dist loadgroup "$@"
