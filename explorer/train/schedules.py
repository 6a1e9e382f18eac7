"""Stateless learning-rate and weight schedules, computed from the step so a resumed run continues exactly."""

from __future__ import annotations

import math


def cosine(value: float, step: int, total_steps: int) -> float:
    """``value`` decayed along a half cosine to zero at ``total_steps``."""
    progress = min(1.0, step / max(1, total_steps))
    return value * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(value: float, step: int, total_steps: int, warmup_steps: int) -> float:
    """``value`` ramped linearly over ``warmup_steps`` (at most a tenth of the run), then a half cosine to zero."""
    warmup = min(warmup_steps, total_steps // 10)
    if step < warmup:
        return linear_warmup(value, step, warmup)
    return cosine(value, step - warmup, total_steps - warmup)


def linear_warmup(value: float, step: int, warmup_steps: int) -> float:
    """``value`` ramped linearly from near 0 over ``warmup_steps`` (at once when that is 0), then held."""
    if warmup_steps <= 0:
        return value
    return value * min(1.0, (step + 1) / warmup_steps)


def hold_then_linear(value: float, step: int, start_step: int, total_steps: int) -> float:
    """``value`` held until ``start_step``, then decayed linearly to zero at ``total_steps`` (pix2pix's GAN schedule)."""
    if step < start_step:
        return value
    return value * max(0.0, 1 - (step - start_step) / max(1, total_steps - start_step))
