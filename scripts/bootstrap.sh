# Sourced by start.sh and test.sh: make .venv, install the requirements and fetch MNIST, skipping what is done.
# Usage: source scripts/bootstrap.sh REQUIREMENTS_FILE
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
requirements="$1"
python="${PYTHON:-python3}"

if [[ ! -x .venv/bin/python ]]; then
  echo "[setup] creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$requirements")"
if [[ ! -f "$stamp" ]]; then
  echo "[setup] installing $requirements into .venv (first run: a few minutes, PyTorch is large)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi
if ! .venv/bin/python -m explorer data >/dev/null; then
  # the message above says what was tried; the app still serves what needs no data (Home, Samples)
  echo "[setup] MNIST is not available yet: the pages that need it will say so" >&2
fi
