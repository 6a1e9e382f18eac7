"""How good a model's latent arithmetic is: the share of random analogies between test digits it answers right.

For each trial, a and c are two different test images of one digit and b an image of another digit; the answer
c + (b - a) is right when the classifier reads it as b's digit (and it is not static). Random trials from a fixed
seed, so the number is the same for the same weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from . import judge, metrics
from .data import SEEN_DIGITS, Digits
from .latent import analogy
from .models.base import GenerativeModel

TRIALS = 60


@torch.no_grad()
def success_rate(model: GenerativeModel, classifier: nn.Module, test: Digits, trials: int = TRIALS,
                 seed: int = 0, codes_of: Callable[[list[int]], torch.Tensor] | None = None) -> float:
    """The share of ``trials`` random analogies among test digits 0-8 that ``model`` answers with b's digit;
    ``codes_of(rows)`` gives the codes of rows of ``test`` when they are known (default: encode them)."""
    generator = torch.Generator().manual_seed(seed)
    rows = {d: test.rows_of(d) for d in SEEN_DIGITS}
    picks, targets = [], []
    for _ in range(trials):
        first, second = torch.randperm(len(SEEN_DIGITS), generator=generator)[:2].tolist()
        same, other = rows[SEEN_DIGITS[first]], rows[SEEN_DIGITS[second]]
        a, c = same[torch.randperm(len(same), generator=generator)[:2]].tolist()
        b = other[torch.randint(len(other), (1,), generator=generator)].item()
        picks += [a, b, c]
        targets.append(SEEN_DIGITS[second])
    if codes_of is None:
        z = model.encode(test.numbered(picks).as_float().to(model.device))  # a, b, c of each trial, in order
    else:
        z = codes_of(picks).to(model.device)
    z = z.view(trials, 3, -1)
    answers = model.decode(analogy(z[:, 0], z[:, 1], z[:, 2])).cpu()
    read = metrics.predict_proba(classifier, answers).argmax(1)
    right = (read == torch.tensor(targets)) & ~judge.is_static(answers)  # targets are 0-8, never the held-out 9
    return right.float().mean().item()
