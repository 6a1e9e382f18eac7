"""How every few-shot method's scores change with the number of examples k: a sweep over k and example seeds, stored
for the shipped weights so the Few-shot page's chart opens at once.

    python -m explorer sweep      # recompute it for the weights in checkpoints/ (minutes on a CPU)

The file is named by the weights it was measured on, so new weights never show old numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path

import torch

from . import checkpoints, fewshot, latent
from .data import HELD_OUT_DIGIT, Digits, few_shot, load_mnist

K = (1, 2, 5, 10, 20)
SEEDS = (0, 1, 2)  # example seeds: which k training 9s
SAMPLES = 64
MODELS = ("flow", "cnf", "vae", "classifier")  # the checkpoints the methods and their scores use
FINETUNE = {"steps": fewshot.FINETUNE_STEPS, "rate": fewshot.FINETUNE_RATE}  # the rule the fine-tune rows were run with


def methods_code() -> str:
    """A fingerprint of the few-shot methods' code (``fewshot`` and the latent Gaussian it fits): stored rows are
    reused only while it is the one they were measured with."""
    source = inspect.getsource(fewshot) + inspect.getsource(latent)
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def file_name(shas: dict[str, str | None]) -> str:
    digest = hashlib.sha256(json.dumps({**shas, "finetune": FINETUNE}, sort_keys=True).encode()).hexdigest()[:12]
    return f"sweep-{digest}.json"


def shipped_dir() -> Path:
    return checkpoints.checkpoint_dir() / "fewshot"


def stored(shas: dict[str, str | None]) -> list[dict] | None:
    """The sweep measured on exactly these weights, or None."""
    path = shipped_dir() / file_name(shas)
    return json.loads(path.read_text())["rows"] if path.exists() else None


def measure(models: dict[str, torch.nn.Module | None], ref: fewshot.Reference, train: Digits,
            methods: tuple[str, ...] = fewshot.METHODS, ks: tuple[int, ...] = K, seeds: tuple[int, ...] = SEEDS,
            n: int = SAMPLES, progress: Callable[[str], None] | None = None) -> list[dict]:
    """One row of scores per method, k and example seed; methods whose checkpoint is missing are left out."""
    rows = []
    runnable = [m for m in methods if fewshot.NEEDS[m] is None or models.get(fewshot.NEEDS[m]) is not None]
    for method in runnable:
        for k in ks:
            for seed in seeds:
                examples = few_shot(train, HELD_OUT_DIGIT, k, seed).as_float()
                result = fewshot.run(method, examples, ref, flow=models.get("flow"), cnf=models.get("cnf"),
                                     vae=models.get("vae"), classifier=models.get("classifier"), n=n, seed=seed)
                rows.append({"method": method, "k": k, "seed": seed, **dataclasses.asdict(result.scores)})
                if progress:
                    progress(f"{method} k={k} seed={seed}: {result.scores.share_nine:.0%} called 9")
    return rows


def write(rows: list[dict], shas: dict[str, str | None], out: Path | None = None) -> Path:
    """Store ``rows`` for these weights, removing sweeps of other weights."""
    folder = Path(out or shipped_dir())
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("sweep-*.json"):
        stale.unlink()
    path = folder / file_name(shas)
    path.write_text(json.dumps({"weights": shas, "finetune": FINETUNE, "methods_code": methods_code(), "k": list(K),
                                "seeds": list(SEEDS), "samples": SAMPLES, "rows": rows}, indent=1) + "\n")
    return path


def main(log: Callable[[str], None] = print) -> Path:
    """Measure the sweep on the checkpoints present and store it (the ``python -m explorer sweep`` command)."""
    loaded = {}
    for name in MODELS:
        try:
            loaded[name] = checkpoints.load(name)
        except checkpoints.CheckpointError as err:
            log(f"without {name}: {err}")
    models = {name: c.model for name, c in loaded.items()}
    shas = {name: loaded[name].sha256 if name in loaded else None for name in MODELS}
    kept = reusable(shas)
    again = tuple(m for m in fewshot.METHODS if m not in {row["method"] for row in kept})
    if kept:
        log(f"kept the stored rows of {', '.join(dict.fromkeys(r['method'] for r in kept))}: their weights and the "
            "methods' code are unchanged")
    ref = fewshot.reference(load_mnist("test").held_out().as_float(), models.get("classifier"), models.get("flow"))
    rows = kept + measure(models, ref, load_mnist("train"), methods=again, progress=log)
    path = write(sorted(rows, key=lambda r: fewshot.METHODS.index(r["method"])), shas)
    log(f"wrote {path}")
    return path


def reusable(shas: dict[str, str | None]) -> list[dict]:
    """The stored sweep's rows that new weights leave valid: a method's scores depend on the classifier, on the
    flow (the reference's likelihoods) and on the checkpoint the method samples from; the fine-tune's on its rule;
    every row on the methods' code."""
    found = sorted(shipped_dir().glob("sweep-*.json"))
    if not found:
        return []
    saved = json.loads(found[0].read_text())
    measured_with = (saved["k"], saved["seeds"], saved["samples"], saved.get("methods_code"))
    if measured_with != (list(K), list(SEEDS), SAMPLES, methods_code()):
        return []
    changed = {name for name in MODELS if saved["weights"].get(name) != shas.get(name)}
    return [row for row in saved["rows"]
            if not changed & {"classifier", "flow", fewshot.NEEDS[row["method"]]}
            and (row["method"] != "finetune" or saved.get("finetune") == FINETUNE)]
