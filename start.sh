#!/usr/bin/env bash
# Start Latent Explorer on the committed checkpoints: http://localhost:${PORT:-8501}
source "$(dirname "$0")/scripts/bootstrap.sh" requirements.txt
echo "[start] serving on http://localhost:${PORT:-8501} (device: ${LATENT_EXPLORER_DEVICE:-best available})"
# Few malloc arenas: with one per session thread, the server's memory grows with the number of users at once.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
exec .venv/bin/python -m explorer serve app.py --server.port "${PORT:-8501}" "$@"
