#!/usr/bin/env bash
# Run the whole test suite (arguments go to pytest, e.g. ./test.sh -k flow).
source "$(dirname "$0")/scripts/bootstrap.sh" requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
