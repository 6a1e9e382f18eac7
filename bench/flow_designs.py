"""Flow designs at equal CPU minutes: which one reaches the lowest bits/dim for the compute this machine has.

Each design trains from scratch with ``python -m explorer train flow`` (same data, batch, learning rate and seed) for
the same wall-clock budget on one torch thread, two designs at a time (one per core of the 2-core machine). Its card
then gives bits/dim on the test digits 0-8 (uniform dequantization, seeded). The learning rate is the long run's
(``--epochs 40``), so a row says where each design stands after that many minutes of a real run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .timing import table

DESIGNS = {
    "Glow, plain coupling 8 x 128, float32": ["--coupling", "plain", "--steps-per-level", "8", "--hidden-channels", "128"],
    "Glow, plain coupling 8 x 128, bf16": ["--coupling", "plain", "--steps-per-level", "8", "--hidden-channels", "128",
                                            "--amp"],
    "Glow, gated coupling 8 x 48 x 2 blocks, bf16": ["--coupling", "gated", "--steps-per-level", "8",
                                                     "--hidden-channels", "48", "--blocks", "2", "--amp"],
    "Glow, gated coupling 8 x 32 x 1 block, bf16": ["--coupling", "gated", "--steps-per-level", "8",
                                                    "--hidden-channels", "32", "--blocks", "1", "--amp"],
}


def run(minutes: float = 10.0, quick: bool = False) -> str:
    minutes = 0.2 if quick else minutes
    with tempfile.TemporaryDirectory() as folder:
        with ThreadPoolExecutor(2) as pool:
            cards = list(pool.map(lambda design: train(design, minutes, Path(folder)), DESIGNS))
    rows = [[design, f"{card['parameters'] / 1e6:.2f} M", f"{card['steps'] * card['batch_size']:,}",
             f"{card['steps'] * card['batch_size'] / card['train_time_s']:.0f}",
             f"{card['metrics']['test_bpd_digits_0_8']:.3f}"] for design, card in zip(DESIGNS, cards)]
    return (f"Flow designs after {minutes:g} minutes of training each, one torch thread each, two at a time\n\n"
            + table(["design", "parameters", "images seen", "images/s", "test bits/dim, digits 0-8"], rows))


def train(design: str, minutes: float, folder: Path) -> dict:
    """Train ``design`` for ``minutes`` into ``folder``; its card, with the parameter count added."""
    name = "design" + str(list(DESIGNS).index(design))
    command = [sys.executable, "-m", "explorer", "train", "flow", *DESIGNS[design], "--name", name, "--epochs", "40",
               "--max-minutes", str(minutes), "--fresh", "--out", str(folder), "--runs", str(folder / "runs")]
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.DEVNULL)
    card = json.loads((folder / f"{name}.json").read_text())
    from explorer import checkpoints
    card["parameters"] = sum(p.numel() for p in checkpoints.load(name, directory=folder).model.parameters())
    return card
