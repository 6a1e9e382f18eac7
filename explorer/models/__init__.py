"""The model families, by the kind name their checkpoint cards use."""

from __future__ import annotations

import dataclasses

from torch import nn

from .classifier import Classifier, ClassifierConfig
from .cnf import CNF, CNFConfig
from .flow import Flow, FlowConfig
from .gan import GAN, GANConfig
from .vae import VAE, VAEConfig

MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "flow": (Flow, FlowConfig),
    "cnf": (CNF, CNFConfig),
    "gan": (GAN, GANConfig),
    "vae": (VAE, VAEConfig),
    "classifier": (Classifier, ClassifierConfig),
}


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh model of ``kind`` from a card's ``config`` dict."""
    if kind not in MODELS:
        raise KeyError(f"unknown model kind {kind!r}; known: {', '.join(MODELS)}")
    model_cls, config_cls = MODELS[kind]
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(config) - names
    if unknown:
        raise TypeError(f"{kind} config has unknown fields {sorted(unknown)}")
    return model_cls(config_cls(**config))
