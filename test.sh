#!/usr/bin/env bash
# Run the test suite. With no arguments: the quick tier on two processes, then the browser and classroom load
# tests on their own (they time a real server); arguments go to one pytest run instead (./test.sh -k flow).
source "$(dirname "$0")/scripts/bootstrap.sh" requirements-dev.txt
# The suite runs pytest, an app server and Chromium side by side; one torch thread per process avoids the
# oversubscription that made it ten times slower on 2 cores. Override with OMP_NUM_THREADS=N ./test.sh.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
failed=0
.venv/bin/python -m pytest -m "not browser and not load" -n 2 || failed=1
.venv/bin/python -m pytest -m "browser or load" || failed=1
exit "$failed"
