"""Where the models run: CUDA, then Apple MPS, then CPU, unless ``LATENT_EXPLORER_DEVICE`` says otherwise."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

DEVICE_ENV = "LATENT_EXPLORER_DEVICE"


def pick_device(requested: str | None = None) -> torch.device:
    """The device named by ``requested`` or the environment, else the best one present."""
    requested = requested or os.environ.get(DEVICE_ENV) or "auto"
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{DEVICE_ENV}={requested} but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{DEVICE_ENV}={requested} but Apple MPS is not available here")
    return device


def describe(device: torch.device) -> str:
    """A human-readable name of ``device``, e.g. 'cuda (NVIDIA H100 80GB HBM3)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads > 1 else ''})"
    return device.type


def cpu() -> str:
    """The processor, as a results file should name it: its model and the widest vector instructions torch uses
    (on Linux, e.g. 'Intel(R) Xeon(R) Platinum 8488C, AVX512'), since bf16 and layout speeds depend on both."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.exists() else []
    return f"{names[0] if names else platform.processor() or platform.machine()}, {torch.backends.cpu.get_cpu_capability()}"


def fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 natively: CUDA with bf16 support, or a CPU whose instructions oneDNN uses
    for it (AVX-512 or AMX). Elsewhere, on an AVX2-only CPU for one, torch emulates bf16 many times slower than
    float32, so callers keep float32 there."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def serving_layout(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` laid out for serving on ``device``: channels-last weights on the CPU, where oneDNN runs most of
    the models' convolutions faster in that layout (the results agree to float rounding), for every model that
    ``serves_channels_last``. Unchanged on other devices, where the gain is not established."""
    return model.to(memory_format=torch.channels_last) if serves_channels_last(model, device) else model


def serves_channels_last(model: torch.nn.Module, device: torch.device) -> bool:
    """Whether ``serving_layout`` makes ``model`` channels-last on ``device``: on a CPU, unless the model says that
    layout slows it (``channels_last_on_cpu``; ``python -m bench models`` times both)."""
    return device.type == "cpu" and model.channels_last_on_cpu


def call(fn, *args, **kwargs):
    """Run a model call as it is: the default ``run`` of the lab functions, which the app replaces with its
    runner, which waits for a model-call slot."""
    return fn(*args, **kwargs)
