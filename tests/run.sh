#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian/Ubuntu machine and runs them all:
# jackd2 (a real JACK server, dummy backend: no sound card needed) and libportaudio2 from
# apt, then the package with its test and training extras in .venv, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck and systemd (systemd-analyze verify) check deploy/ (tests/deploy).
APT_PACKAGES=(jackd2 libportaudio2 shellcheck systemd)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch is pinned for the tests: 2.13.0 has a CPU-only build that installs quickly.
.venv/bin/python -m pip install --quiet -e ".[test,train]" "torch==2.13.0"
export PYO_GUI_WX=0
exec .venv/bin/python -m pytest "$@"
