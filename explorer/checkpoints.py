"""Reading and writing checkpoints: safetensors weights plus a JSON card that rebuilds and describes the model.

A checkpoint named NAME is ``NAME.safetensors`` (weights) and ``NAME.json`` (the card), optionally with
``NAME.history.safetensors`` (training curves). Nothing here executes code from a file. The sha256 of
the weights keys every cache derived from a checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .models import build_model

FORMAT_VERSION = 1
CARD_FIELDS = ("format_version", "name", "kind", "config", "classes", "train_size", "epochs", "steps",
               "train_time_s", "hardware", "metrics", "history", "command", "weights_sha256")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


class CheckpointError(Exception):
    """A checkpoint could not be used; the message says which file and why."""


class CheckpointMissing(CheckpointError):
    pass


class CheckpointCorrupt(CheckpointError):
    pass


class CardMismatch(CheckpointError):
    pass


class UnsupportedFormat(CheckpointError):
    pass


@dataclass
class Checkpoint:
    """A loaded model in eval mode with frozen weights, its card and the weights' sha256."""

    model: torch.nn.Module
    card: dict
    sha256: str
    resident_at_load: str = ""  # ``resident_sha256`` of the model just after loading

    @property
    def name(self) -> str:
        return self.card["name"]

    def unchanged(self) -> bool:
        """Whether the weights in memory are still those loaded: nothing shared has trained or modified them."""
        return resident_sha256(self.model) == self.resident_at_load


def resident_sha256(model: torch.nn.Module) -> str:
    """sha256 of a model's weights and buffers as they are in memory now (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        value = value.detach().cpu().contiguous()
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.view(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def checkpoint_dir() -> Path:
    return Path(os.environ.get("LATENT_EXPLORER_CHECKPOINTS", DEFAULT_DIR))


def paths(name: str, directory: Path | None = None) -> tuple[Path, Path]:
    directory = Path(directory or checkpoint_dir())
    return directory / f"{name}.safetensors", directory / f"{name}.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def available(directory: Path | None = None) -> list[str]:
    """Names of the checkpoints (cards) in ``directory``, sorted."""
    directory = Path(directory or checkpoint_dir())
    return sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []


def save(model: torch.nn.Module, card: dict, name: str, directory: Path | None = None,
         history: dict[str, torch.Tensor] | None = None) -> Path:
    """Write weights, card (completed with format version, name, kind, config, hashes) and optional history."""
    weights, card_path = paths(name, directory)
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(weights))
    card = {**card, "format_version": FORMAT_VERSION, "name": name, "kind": model.kind,
            "config": dataclasses.asdict(model.config), "weights_sha256": sha256_file(weights),
            "history": None}
    if history:
        history_path = weights.with_name(f"{name}.history.safetensors")
        save_file({k: v.detach().cpu().contiguous() for k, v in history.items()}, str(history_path))
        card["history"] = history_path.name
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise ValueError(f"card for {name} lacks {missing}")
    write_card(card, card_path)
    return weights


def write_card(card: dict, path: Path) -> None:
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")


def read_card(name: str, directory: Path | None = None) -> dict:
    """The card of checkpoint ``name``, checked for format version and required fields."""
    _, card_path = paths(name, directory)
    if not card_path.exists():
        raise CheckpointMissing(f"Checkpoint '{name}': no card at {card_path}. Train it with "
                                f"`python -m explorer train ...` (see the README).")
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointCorrupt(f"Checkpoint '{name}': card {card_path} is not valid JSON ({err}).") from err
    if not isinstance(card, dict):
        raise CheckpointCorrupt(f"Checkpoint '{name}': card {card_path} is not a JSON object.")
    if card.get("format_version") != FORMAT_VERSION:
        raise UnsupportedFormat(f"Checkpoint '{name}': card format version {card.get('format_version')!r}, "
                                f"this version of Latent Explorer reads version {FORMAT_VERSION}.")
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise CheckpointCorrupt(f"Checkpoint '{name}': card {card_path} lacks {', '.join(missing)}.")
    return card


def load(name: str, directory: Path | None = None, device: torch.device | str = "cpu") -> Checkpoint:
    """Rebuild checkpoint ``name`` from its card and weights onto ``device``, in eval mode, weights frozen."""
    card = read_card(name, directory)
    weights, _ = paths(name, directory)
    if not weights.exists():
        raise CheckpointMissing(f"Checkpoint '{name}': card found but weights {weights} are missing.")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointCorrupt(f"Checkpoint '{name}': weights {weights} are truncated or corrupt ({err}).") from err
    digest = sha256_file(weights)
    if digest != card["weights_sha256"]:
        raise CardMismatch(f"Checkpoint '{name}': the weights' sha256 {digest[:12]}... differs from the card's "
                           f"{str(card['weights_sha256'])[:12]}...; the card describes other weights.")
    try:
        model = build_model(card["kind"], card["config"])
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CardMismatch(f"Checkpoint '{name}': the card's kind/config do not fit the weights ({err}).") from err
    model.to(device).eval().requires_grad_(False)
    return Checkpoint(model, card, digest, resident_sha256(model))


def load_history(card: dict, directory: Path | None = None) -> dict[str, torch.Tensor]:
    """The training history stored beside a checkpoint (empty when it has none)."""
    if not card.get("history"):
        return {}
    path = Path(directory or checkpoint_dir()) / card["history"]
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointCorrupt(f"Checkpoint '{card['name']}': history {path} is missing or corrupt ({err}).") from err
