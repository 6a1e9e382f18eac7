#!/usr/bin/env bash
# Run the whole test suite (arguments go to pytest, e.g. ./test.sh -k flow).
source "$(dirname "$0")/scripts/bootstrap.sh" requirements-dev.txt
# The suite runs pytest, an app server and Chromium side by side; one torch thread per process avoids the
# oversubscription that made it ten times slower on 2 cores. Override with OMP_NUM_THREADS=N ./test.sh.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest "$@"
