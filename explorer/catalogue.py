"""Which models there are and what each is for, read from the checkpoint cards: the one list every part asks.

A card's ``kind`` gives the role: ``flow``, ``cnf``, ``vae`` and ``gan`` are generative models, which the pages draw with;
``classifier`` is the judge that reads what they draw. Names come from the cards present, so a new checkpoint
appears everywhere without code naming it; a card that cannot be read, or weights without a card, still list their
name, so the error shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import checkpoints

GENERATIVE_KINDS = ("flow", "cnf", "vae", "gan")
LIKELIHOOD_KINDS = ("flow", "cnf", "vae")
JUDGE_KIND = "classifier"
ORDER = (*GENERATIVE_KINDS, JUDGE_KIND)


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str | None  # None when the card cannot be read
    latent_dim: int | None  # from the card's config, where it names one


def entries(directory: Path | None = None) -> list[Entry]:
    """Every checkpoint's card in ``directory``, in the app's order: by kind (flow, cnf, vae, gan, classifier), then name."""
    found = []
    for name in sorted(set(checkpoints.available(directory)) | set(_weights_only(directory))):
        try:
            card = checkpoints.read_card(name, directory)
            found.append(Entry(name, card.get("kind"), card.get("config", {}).get("latent_dim")))
        except checkpoints.CheckpointError:
            found.append(Entry(name, None, None))
    rank = {kind: i for i, kind in enumerate(ORDER)}
    return sorted(found, key=lambda e: (rank.get(e.kind, len(ORDER)), e.name))


def _weights_only(directory: Path | None) -> list[str]:
    """Names with a weights file but no card: listed too, so that the missing card is reported, not hidden."""
    folder = Path(directory or checkpoints.checkpoint_dir())
    return [p.name.removesuffix(".safetensors") for p in folder.glob("*.safetensors")
            if not p.name.endswith(".history.safetensors")] if folder.is_dir() else []


def names(directory: Path | None = None) -> list[str]:
    """Every checkpoint, usable or not."""
    return [e.name for e in entries(directory)]


def generative(directory: Path | None = None, first: str | None = None) -> list[str]:
    """The generative models, those of kind ``first`` leading when a page has a reason to show them first."""
    models = [e for e in entries(directory) if e.kind in GENERATIVE_KINDS]
    return [e.name for e in sorted(models, key=lambda e: e.kind != first)]


def gans(directory: Path | None = None) -> list[str]:
    """The GANs: the shipped one and any trained beside it, each with the training history its page replays."""
    return [e.name for e in entries(directory) if e.kind == "gan"]


def judge(directory: Path | None = None) -> str | None:
    """The classifier that judges the samples, or None without one."""
    return next((e.name for e in entries(directory) if e.kind == JUDGE_KIND), None)


def with_likelihood(directory: Path | None = None) -> list[str]:
    """The models that score an image's likelihood: the flow exactly, the continuous flow through its solver, a VAE
    by its importance-weighted bound."""
    return [e.name for e in entries(directory) if e.kind in LIKELIHOOD_KINDS]


def with_latent_dim(dim: int, directory: Path | None = None) -> list[str]:
    """The generative models whose latent space has ``dim`` dimensions."""
    return [e.name for e in entries(directory) if e.kind in GENERATIVE_KINDS and e.latent_dim == dim]
