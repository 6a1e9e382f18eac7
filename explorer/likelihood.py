"""What a model with a likelihood makes of one image: its bits/dim, where that ranks among the test digits, the
bytes a coder built on the model would need, the round trip through its code, and how each pixel moves the cost.

The flows score the 8-bit image spread over each pixel's bin by one fixed uniform draw, (pixel + u) / 256, the
dequantization bound their cards report; the continuous flow's divergence uses one fixed probe, over CNF_STEPS solver
steps. Both draws are the same for every image, alone or in a batch. A VAE scores the image made black and white, by
its importance-weighted bound with seeded draws. So one image always gets one number, and the test-set references
are computed the same way. Likelihood is not meaning: images no model was trained on can score better than real digits
(Nalisnick et al. 2019, https://arxiv.org/abs/1810.09136), which ``gallery`` measures on the shipped models.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import catalogue, checkpoints
from .data import cache_dir, load_mnist
from .device import call
from .models.cnf import CNF
from .models.flow import IMAGE_DIM, Flow
from .models.vae import BOUND_SAMPLES as VAE_BOUND_SAMPLES  # noqa: F401 (the page says how many)

# The continuous flow's divergence probes per image and solver steps: few enough that a class's new drawings are
# answered within the page's time; bench/results/likelihood.md measures how the readings agree with the card's bound.
PROBES, CNF_STEPS = 1, 24
REFERENCE_IMAGES = 2000  # the first test images (about 200 of each digit) every image is ranked against
BATCH = 100


@dataclass(frozen=True)
class Reading:
    """One model's view of one image."""

    bits_per_dim: float
    code_bytes: float  # what an arithmetic coder driven by the model would need, to within a few bytes
    round_trip_levels: int  # the largest change of a pixel's 8-bit grey level (0-255) through decode(encode(x))


def fixed_draws(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The dequantized images (pixel + u) / 256 and the divergence probes (PROBES, N, 1, 28, 28) for images ``x``:
    u and the probes drawn once, from fixed seeds, and shared by every image."""
    draws = torch.Generator().manual_seed(0)
    u = torch.rand((1, *x.shape[1:]), generator=draws).to(x.device)
    return Flow.dequantize(x, noise=u), CNF.probes(x[:1], PROBES, draws).expand(PROBES, *x.shape)


def _log_prob(model, y: torch.Tensor, probes: torch.Tensor, differentiable: bool = False) -> torch.Tensor:
    """A flow's log-likelihood in nats (N,) of dequantized images ``y``; ``differentiable`` keeps the graph."""
    if model.kind == "cnf":
        return model.log_density(y, probes, CNF_STEPS, differentiable=differentiable)
    return model.log_prob_from(*model(y))


def bits_per_dim(model, x: torch.Tensor) -> torch.Tensor:
    """Bits/dim (N,) of images ``x`` (N, 1, 28, 28) in [0, 1]: a flow's with the fixed draws, a VAE's bound."""
    x = x.to(model.device)
    if model.kind == "vae":
        return model.bits_per_dim(x)
    with torch.no_grad():
        return -_log_prob(model, *fixed_draws(x)) / (IMAGE_DIM * math.log(2))


def read(model, x: torch.Tensor) -> Reading:
    """The model's bits/dim, code length and round trip for one image (1, 1, 28, 28)."""
    bpd = bits_per_dim(model, x).item()
    with torch.no_grad():
        x = x.to(model.device)
        back = model.decode(model.encode(x))
    levels = (torch.round(back * 255) - torch.round(x * 255)).abs().max().item()
    return Reading(bpd, bpd * IMAGE_DIM / 8, int(levels))


def png_size(image: np.ndarray) -> int:
    """Bytes of a 28 x 28 image (float in [0, 1]) as an 8-bit greyscale PNG, the best zlib can do."""
    buffer = io.BytesIO()
    Image.fromarray((np.asarray(image) * 255).round().astype(np.uint8)).save(buffer, format="PNG", optimize=True)
    return len(buffer.getvalue())


def sensitivity(model, x: torch.Tensor) -> np.ndarray:
    """d bits/dim / d pixel (28, 28) of a flow, discrete or continuous, for one image (1, 1, 28, 28): how the cost
    would change if each pixel got a little brighter. A sensitivity, not a split of the bits among pixels. The
    continuous flow's runs back through every solver step (seconds)."""
    y, probes = fixed_draws(x.to(model.device))
    with torch.enable_grad():
        log_p = _log_prob(model, y.requires_grad_(True), probes, differentiable=True)
        (grad,) = torch.autograd.grad(-log_p.sum() / (IMAGE_DIM * math.log(2)), y)
    return grad[0, 0].cpu().numpy() / 256  # per unit of the pixel's 0-255 value, as the bins are 1/256 wide


MAPS_ON_REQUEST = ("cnf",)  # kinds whose map takes seconds: the page draws it when asked


def cost_map(model, x: torch.Tensor) -> np.ndarray:
    """Where one image's cost sits for ``model`` (28, 28): a VAE's ``pixel_costs``, a flow's ``sensitivity``."""
    return pixel_costs(model, x) if model.kind == "vae" else sensitivity(model, x)


@torch.no_grad()
def pixel_costs(vae, x: torch.Tensor) -> np.ndarray:
    """A VAE's decoding cost of each pixel (28, 28) of one image (1, 1, 28, 28) made black and white, in bits:
    -log2 p(pixel | z) at the encoder's mean code. A true split of the bound's reconstruction part among the pixels;
    the code's own cost (the KL term) belongs to no pixel."""
    binary = (x.to(vae.device) > 0.5).float()
    logits = vae.decoder_logits(vae.encode(binary))
    bits = F.binary_cross_entropy_with_logits(logits, binary, reduction="none") / math.log(2)
    return bits[0, 0].cpu().numpy()


# -- what every image is measured against, stored per weights ----------------------------------------------

@dataclass(frozen=True)
class Measured:
    """Bits/dim under one model's weights: of the first REFERENCE_IMAGES test digits, and of the gallery's images."""

    test: np.ndarray  # (REFERENCE_IMAGES,), in test-set order
    gallery: dict[str, float]  # by the gallery's captions


def file_name(name: str, sha256: str) -> str:
    return f"{name}-{sha256[:12]}-likelihood-n{REFERENCE_IMAGES}.npz"


def shipped_dir() -> Path:
    return checkpoints.checkpoint_dir() / "likelihood"


def stored(name: str, sha256: str) -> Measured | None:
    """The measurements for these weights, shipped first, then cached; None if not made yet."""
    file = file_name(name, sha256)
    found = next((folder / file for folder in (shipped_dir(), cache_dir() / "likelihood") if (folder / file).exists()),
                 None)
    if found is None:
        return None
    with np.load(found) as saved:
        return Measured(saved["test"], dict(zip(saved["gallery_names"].tolist(), saved["gallery"].tolist())))


def measure(model, name: str, sha256: str, progress: Callable[[float], None] | None = None,
            run=call) -> Measured:
    """The stored measurements, or make them once (minutes for the continuous flow) and cache them; ``run`` calls
    the model."""
    found = stored(name, sha256)
    if found is not None:
        return found
    x = load_mnist("test").as_float()[:REFERENCE_IMAGES]
    values = []
    for i in range(0, len(x), BATCH):
        values.append(run(bits_per_dim, model, x[i:i + BATCH]).cpu())
        if progress:
            progress(min(1.0, (i + BATCH) / len(x)))
    items = gallery(load_mnist("test"))
    bits = run(bits_per_dim, model, torch.cat(list(items.values()))).cpu().tolist()
    result = Measured(torch.cat(values).numpy().astype(np.float32), dict(zip(items, bits)))
    _save(cache_dir() / "likelihood" / file_name(name, sha256), result)
    return result


def reference_labels() -> np.ndarray:
    return load_mnist("test").labels[:REFERENCE_IMAGES].numpy()


def share_less_likely(bpd: float, values: np.ndarray) -> float:
    """The share of ``values`` (bits/dim) the image beats: test digits the model finds less likely than it."""
    return float((np.asarray(values) > bpd).mean()) if len(values) else float("nan")


def _save(path: Path, measured: Measured) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, test=measured.test, gallery_names=np.array(list(measured.gallery)),
             gallery=np.array(list(measured.gallery.values()), dtype=np.float32))
    tmp.replace(path)


def precompute(names: list[str], out: Path | None = None, log: Callable[[str], None] = print) -> list[Path]:
    """Store the measurements of each named likelihood model in ``out`` (the shipped folder), removing those of
    earlier weights of the same names."""
    out = Path(out or shipped_dir())
    written = []
    for name in names:
        ckpt = checkpoints.load(name)
        if ckpt.card["kind"] not in catalogue.LIKELIHOOD_KINDS:
            log(f"skipped {name}: a {ckpt.card['kind']} has no likelihood")
            continue
        for stale in out.glob(f"{name}-*-likelihood-*.npz"):
            if re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{12}}-likelihood-n\d+\.npz", stale.name):
                stale.unlink()
        target = out / file_name(name, ckpt.sha256)
        _save(target, measure(ckpt.model, name, ckpt.sha256))
        log(f"{target}")
        written.append(target)
    return written


# -- images to try ----------------------------------------------------------------------------------

def transformed(x: torch.Tensor, how: str) -> torch.Tensor:
    """A digit (1, 1, 28, 28) changed ``how``: inverted, shifted, rotated or blurred."""
    if how == "inverted":
        return 1 - x
    if how == "shifted":
        return torch.roll(x, shifts=(4, 4), dims=(2, 3))
    if how == "rotated":
        return torch.rot90(x, 1, dims=(2, 3))
    if how == "blurred":
        kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
        kernel = (kernel[:, None] * kernel[None]) / 256
        return F.conv2d(x, kernel[None, None], padding=2)
    raise ValueError(f"unknown change {how!r}")


TRANSFORMS = ("inverted", "shifted", "rotated", "blurred")
SPECIALS = ("blank", "grey", "noise", "one stroke")


def special(kind: str) -> torch.Tensor:
    """An image (1, 1, 28, 28) that is not a digit: blank, uniform grey, uniform noise, or a single straight bar."""
    if kind == "blank":
        return torch.zeros(1, 1, 28, 28)
    if kind == "grey":
        return torch.full((1, 1, 28, 28), 0.5)
    if kind == "noise":
        return torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    if kind == "one stroke":
        x = torch.zeros(1, 1, 28, 28)
        x[..., 6:22, 13:15] = 1.0
        return x
    raise ValueError(f"unknown image {kind!r}")


def gallery(test) -> dict[str, torch.Tensor]:
    """The images the "likelihood is not meaning" gallery measures, by caption: real digits of two kinds, then
    images that are not digits or are changed digits. ``test`` is the MNIST test split."""
    first = {d: test.images[test.labels == d][0].float()[None, None] / 255 for d in (1, 3, 9)}
    return {"a test 3": first[3], "a test 1": first[1], "a test 9 (never seen)": first[9],
            **{name: special(name) for name in SPECIALS},
            **{f"the 3, {how}": transformed(first[3], how) for how in TRANSFORMS}}
