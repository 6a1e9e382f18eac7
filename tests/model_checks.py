"""The checks every generative model must pass, reused by each model's tests."""

from __future__ import annotations

import torch

from explorer import checkpoints
from explorer.models.base import GenerativeModel

CARD = {"classes": list(range(9)), "train_size": 0, "epochs": 0, "steps": 0, "train_time_s": 0.0,
        "hardware": "test", "metrics": {}, "command": "test"}


def check_generative_model(model: GenerativeModel, images: torch.Tensor, tmp_path) -> None:
    """Shapes, finiteness, range, determinism under a seed and save-load identity of ``model``."""
    model.eval()
    n = len(images)
    z = model.encode(images)
    assert z.shape == (n, model.latent_dim) and torch.isfinite(z).all()
    decoded = model.decode(z)
    assert decoded.shape == (n, 1, 28, 28) and torch.isfinite(decoded).all()
    assert decoded.min() >= 0 and decoded.max() <= 1

    first = model.sample(n, temperature=0.8, generator=torch.Generator().manual_seed(7))
    again = model.sample(n, temperature=0.8, generator=torch.Generator().manual_seed(7))
    other = model.sample(n, temperature=0.8, generator=torch.Generator().manual_seed(8))
    assert first.shape == (n, 1, 28, 28) and torch.equal(first, again) and not torch.equal(first, other)

    checkpoints.save(model, CARD, "model", tmp_path)
    loaded = checkpoints.load("model", tmp_path).model
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert torch.equal(loaded.decode(z), model.decode(z))
