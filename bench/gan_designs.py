"""GAN recipes at equal epochs: which one's samples read most often as clear digits, for the compute a CPU has.

Each recipe trains from scratch with ``python -m explorer train gan`` (same data, batch, seed, generator depth and
bf16 autocast) for ``EPOCHS`` epochs, its rates held for the first half and then taken linearly to zero, on one
torch thread, two recipes at a time (one per core of the 2-core machine). ``python -m explorer evaluate``'s sample
quality then judges 10,000 samples of each with the shipped classifier: the share read confidently as 0-8 and the
Fréchet distance are the GAN bar's two numbers, the largest gap of a digit's share from 1/9 its balance.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .timing import table

EPOCHS = 8
DESIGNS = {
    "DCGAN, non-saturating, D width 32 (the trainer's defaults)": [],
    "DCGAN, non-saturating, D width 64": ["--d-width", "64"],
    "SN-GAN, hinge, D width 64": ["--loss", "hinge", "--d-width", "64"],
    "DCGAN, non-saturating, G width 128, D width 64": ["--g-width", "128", "--d-width", "64"],
}


def run(quick: bool = False) -> str:
    from explorer import catalogue, checkpoints
    epochs, samples = (1, 1000) if quick else (EPOCHS, 10_000)
    with tempfile.TemporaryDirectory() as folder:
        judge = catalogue.judge()
        for path in checkpoints.paths(judge):  # evaluate looks for the judge beside the checkpoints it measures
            (Path(folder) / path.name).symlink_to(path.resolve())
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda design: train(design, epochs, samples, Path(folder), quick), DESIGNS))
    rows = [[design, f"{card['train_time_s'] / 60:.0f}", f"{m['share_confident_0_8']:.1%}", f"{m['classifier_fd']:.2f}",
             f"{m['largest_share_gap_0_8'] * 100:.1f}", f"{m['share_called_9']:.1%}"]
            for design, (card, m) in zip(DESIGNS, results)]
    return (f"GAN recipes after {epochs} epochs each (rates held {epochs // 2}, then to zero), one torch thread each, "
            f"two at a time; {samples:,} samples each\n\n"
            + table(["recipe", "minutes", "confident 0-8", "FD", "largest share gap (points)", "called 9"], rows))


def train(design: str, epochs: int, samples: int, folder: Path, quick: bool) -> tuple[dict, dict]:
    """Train ``design`` into ``folder``; its card and its sample quality."""
    from explorer import checkpoints
    from explorer.evaluate import evaluate
    name = "design" + str(list(DESIGNS).index(design))
    command = [sys.executable, "-m", "explorer", "train", "gan", *DESIGNS[design], "--name", name, "--g-blocks", "1",
               "--amp", "--epochs", str(epochs), "--decay-from", str(epochs // 2), "--fresh", "--out", str(folder),
               "--runs", str(folder / "runs"), *(["--max-minutes", "0.2"] if quick else [])]
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.DEVNULL)
    metrics = evaluate([name], directory=folder, samples=samples, write=False).metrics[name]
    return checkpoints.read_card(name, folder), metrics
