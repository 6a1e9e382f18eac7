"""Few-shot generation of the held-out digit 9 from k examples, seven ways.

- ``pixel``: baseline, a Gaussian on the top-d principal directions of the k images' pixels.
- ``copy``: the memorisation floor: the k examples themselves, drawn again at random.
- ``flow``: transfer through the flow's latent space: the same Gaussian fitted to the flow's codes of the k images,
  decoded by the flow.
- ``bayes``: a Bayesian update of a standard normal prior over the flow's codes from the k codes (Transflow learning,
  Gambardella et al. 2019, https://arxiv.org/abs/1911.13270): with N(0, I) as the prior over its mean and the codes
  as draws around it, the predictive N(sum z / (k + 1), (1 + 1 / (k + 1)) I) is sampled and decoded by the flow.
- ``cnf``: the same in the continuous flow's latent space (its ODE's codes).
- ``vae``: the same in the VAE's latent space.
- ``finetune``: transfer by fine-tuning: a copy of the flow with a learned Gaussian prior, trained on the k images
  with its early layers frozen, then sampled from that prior. The shared model is never modified.

Every method is scored the same way against the real test 9s (``score``) with the classifier that knows
all ten digits, on the two axes of Boutin et al. 2022 ("Diversity vs. Recognizability", NeurIPS) among others:
recognizability, the share of samples the classifier calls 9, and diversity, the mean over the classifier's feature
dimensions of the samples' standard deviation; the real test 9s get both too, as the point to reach. Images are float tensors (N, 1, 28, 28) in [0, 1]; every random draw takes a seed.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from . import images, judge, metrics
from .data import HELD_OUT_DIGIT
from .latent import SubspaceGaussian, fit_gaussian
from .models.base import GenerativeModel
from .models.flow import IMAGE_DIM, Flow, standard_normal_log_prob

METHODS = ("pixel", "copy", "flow", "bayes", "cnf", "vae", "finetune")
# The checkpoint each method needs besides the classifier that scores it.
NEEDS = {"pixel": None, "copy": None, "flow": "flow", "bayes": "flow", "cnf": "cnf", "vae": "vae", "finetune": "flow"}
# The flow's steps nearest the pixels stay frozen in a fine-tune: like a CNN's first layers they model
# local stroke statistics that 0-8 share with 9; the later steps and the factor-out prior adapt.
# They are ``Flow.lower``, so the test 9s' pass through them is the same for every fine-tuned copy (Reference).
FROZEN = ("level1",)
# The learned prior's own rate: its 784 shifts and scales must travel about one unit each to reach the examples'
# codes in a few dozen steps, far more than a network weight should move.
PRIOR_RATE = 0.05
# The fine-tune's rule, measured without the test 9s (``python -m bench finetune``: fine-tuned on 7 training 9s, scored
# on 3 others): of the settings whose samples the classifier mostly (at least half) calls 9, the one with the best
# bits/dim on the held-out examples. Longer or faster fine-tunes make more 9s and memorise the examples.
FINETUNE_STEPS, FINETUNE_RATE = 20, 3e-4
FINETUNE_SEED = 0  # the training noise of a fine-tune; sampling has its own seed, so resampling needs no retraining


@dataclass(frozen=True)
class Reference:
    """What every method is scored against: the real test 9s, their classifier features, their flow codes."""

    nines: torch.Tensor  # (M, 1, 28, 28)
    features: np.ndarray | None = None  # (M, F), None without a classifier
    probs: torch.Tensor | None = None  # (M, 10), the classifier's reading of them
    flow_z: torch.Tensor | None = None  # (M, 784), None without a flow
    flow_log_det: torch.Tensor | None = None  # (M,)
    flow_log_pz: torch.Tensor | None = None  # (M,), log p(z) of their codes under the flow's own prior
    flow_lower: tuple[torch.Tensor, torch.Tensor] | None = None  # the 9s through the FROZEN steps (Flow.lower)

    @property
    def flow_prior_bpd(self) -> float | None:
        """Bits/dim of the test 9s under the flow with its own prior: what a few-shot fit should beat."""
        if self.flow_z is None:
            return None
        return bits_per_dim(self.flow_log_pz, self.flow_log_det)

    @property
    def share_nine(self) -> float | None:
        """The share of the real test 9s the classifier calls 9: the recognizability a method could reach."""
        return None if self.probs is None else float(judge.called(self.probs, self.nines, HELD_OUT_DIGIT).float().mean())

    @property
    def diversity(self) -> float | None:
        """The real test 9s' diversity, in the classifier's features: where a method's samples should land."""
        return None if self.features is None else diversity(self.features)


def reference(nines: torch.Tensor, classifier: torch.nn.Module | None = None, flow: Flow | None = None,
              seed: int = 0) -> Reference:
    """Score once per checkpoint set what every few-shot run is compared with (seconds on a CPU)."""
    lower = z = log_det = log_pz = None
    if flow is not None:
        lower = flow_lower(flow, nines, seed)
        z, log_det = flow_upper(flow, *lower)
        with torch.no_grad():
            log_pz = flow.prior_log_prob(z.to(flow.device)).cpu()
    probs, features = metrics.classify(classifier, nines) if classifier is not None else (None, None)
    return Reference(nines.cpu(), features=features, probs=probs, flow_z=z, flow_log_det=log_det, flow_log_pz=log_pz,
                     flow_lower=lower)


def flow_lower(flow: Flow, x: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images dequantized with seeded noise, through ``flow.lower``: (N, 4, 14, 14) and log-dets (N,), on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    return _in_batches(lambda batch: flow.lower(flow.dequantize(batch, generator)), flow.device, x)


def flow_upper(flow: Flow, h: torch.Tensor, log_det: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``flow_lower``'s output through the rest of ``flow``: codes z (N, 784) and log|det dz/dy| (N,), on the CPU."""
    return _in_batches(flow.upper, flow.device, h, log_det)


@torch.no_grad()
def _in_batches(fn, device: torch.device, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``fn`` over batches of ``tensors`` (rows in order) on ``device``; its outputs concatenated on the CPU."""
    outs = [fn(*(t[i:i + metrics.BATCH].to(device) for t in tensors)) for i in range(0, len(tensors[0]), metrics.BATCH)]
    return tuple(torch.cat(parts).cpu() for parts in zip(*outs))


def bits_per_dim(log_pz: torch.Tensor, log_det: torch.Tensor) -> float:
    """Mean bits per pixel of discrete images from log p(z) and the flow's log-Jacobian (256 bins a pixel)."""
    log_px = log_pz.double() + log_det.double() - IMAGE_DIM * math.log(256)
    return float(-log_px.mean() / (IMAGE_DIM * math.log(2)))


# -- the methods -----------------------------------------------------------------------------------

def pixel_gaussian(examples: torch.Tensor, dim: int, n: int, seed: int,
                   temperature: float = 1.0) -> tuple[torch.Tensor, SubspaceGaussian]:
    """Baseline: fit the Gaussian to the images' pixels (k, 784), sample ``n`` images, clip to [0, 1]."""
    gaussian = fit_gaussian(examples.flatten(1).cpu(), dim)
    x = gaussian.sample(n, torch.Generator().manual_seed(seed), temperature)
    return x.clamp(0, 1).view(n, 1, 28, 28), gaussian


@torch.no_grad()
def latent_gaussian(model: GenerativeModel, examples: torch.Tensor, dim: int, n: int, seed: int,
                    temperature: float = 1.0) -> tuple[torch.Tensor, SubspaceGaussian]:
    """The seed's method in any model's latent space: encode, fit the Gaussian, sample codes, decode.

    For a model whose far codes decode to static (the flow), codes are kept no farther from the origin than the
    farthest example's: most of its static comes from codes longer than every example's (tests/test_shipped_flow.py).
    """
    codes = model.encode(examples.to(model.device)).double().cpu()
    gaussian = fit_gaussian(codes, dim)
    radius = codes.norm(dim=1).max().item() * (1 + 1e-9)  # the mean of identical codes may round just outside
    z = gaussian.sample(n, torch.Generator().manual_seed(seed), temperature,
                        radius if model.far_codes_decode_to_static else math.inf)
    return model.draw(z.to(model.device)).cpu(), gaussian


def copies(examples: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """The memorisation floor: ``n`` of the k examples drawn again with replacement."""
    return examples[torch.randint(len(examples), (n,), generator=torch.Generator().manual_seed(seed))]


@torch.no_grad()
def bayesian_update(flow: Flow, examples: torch.Tensor, n: int, seed: int,
                    temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Transflow's conjugate update of an N(0, I) prior's mean over the flow's codes from the examples' codes; ``n`` decoded samples of the
    predictive, its mean (784,) and its standard deviation."""
    z = flow.encode(examples.to(flow.device)).cpu().double()
    k = len(z)
    mean, std = z.sum(0) / (k + 1), math.sqrt(1 + 1 / (k + 1))
    noise = torch.randn(n, z.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    codes = (mean + temperature * std * noise).float()
    return flow.draw(codes.to(flow.device)).cpu(), mean, std


def bayesian_likelihood(mean: torch.Tensor, std: float, ref: Reference) -> tuple[float, str] | None:
    """Bits/dim of the test 9s under the flow with the updated prior N(mean, std^2 I)."""
    if ref.flow_z is None:
        return None
    return bits_per_dim(standard_normal_log_prob((ref.flow_z.double() - mean) / std) - IMAGE_DIM * math.log(std),
                        ref.flow_log_det), "bits/dim"


class TunedFlow(GenerativeModel):
    """A copy of the flow whose prior is a learned diagonal Gaussian N(shift, exp(log_scale)^2) over its codes.

    Fine-tuning moves the prior towards the examples' codes, a step any number of examples can take, while the
    unfrozen flow steps reshape what the codes decode to. Codes given to ``decode`` are standard normal, as for
    every model: they are scaled and shifted into the learned prior first.
    """

    kind = "flow"
    latent_dim = IMAGE_DIM
    inversion = "exact"

    def __init__(self, flow: Flow, frozen: tuple[str, ...] = ()):
        """A copy of ``flow`` whose ``frozen`` children (names of ``Flow``'s) are shared with it, not copied, where
        they are frozen already (a loaded checkpoint's are): a class's cached fine-tunes keep one copy of them."""
        super().__init__()
        shared = [module for name, module in flow.named_children()
                  if name in frozen and not module.training and not any(p.requires_grad for p in module.parameters())]
        self.flow = copy.deepcopy(flow, memo={id(module): module for module in shared})
        self.shift = torch.nn.Parameter(torch.zeros(IMAGE_DIM, device=flow.device))
        self.log_scale = torch.nn.Parameter(torch.zeros(IMAGE_DIM, device=flow.device))

    def standardise(self, z: torch.Tensor, log_det: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The flow's codes and log-dets -> standard normal codes under the learned prior, and the log-dets with it."""
        return (z - self.shift) * torch.exp(-self.log_scale), log_det - self.log_scale.sum()

    def upper(self, h: torch.Tensor, log_det: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``Flow.upper`` of the tuned copy, then the learned prior."""
        return self.standardise(*self.flow.upper(h, log_det))

    def bits_per_dim(self, x: torch.Tensor, generator: torch.Generator | None = None,
                     noise: torch.Tensor | None = None) -> torch.Tensor:
        """As ``Flow.bits_per_dim``, under the learned prior."""
        z, log_det = self.standardise(*self.flow(Flow.dequantize(x, generator, noise)))
        return -(standard_normal_log_prob(z) + log_det - IMAGE_DIM * math.log(256)) / (IMAGE_DIM * math.log(2))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        z = self.flow.encode(x)
        return self.standardise(z, z.new_zeros(len(z)))[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.flow.decode(self.prior(z))

    @torch.no_grad()
    def draw(self, z: torch.Tensor) -> torch.Tensor:
        return self.flow.draw(self.prior(z))

    def prior(self, z: torch.Tensor) -> torch.Tensor:
        """Standard normal codes -> codes under the learned prior."""
        return self.shift + torch.exp(self.log_scale) * z


def finetune(flow: Flow, examples: torch.Tensor, *, steps: int = FINETUNE_STEPS, lr: float = FINETUNE_RATE,
             seed: int = FINETUNE_SEED,
             frozen: tuple[str, ...] = FROZEN,
             progress: Callable[[int, float], None] | None = None,
             watch: Callable[[int, TunedFlow], None] | None = None,
             watch_at: frozenset[int] = frozenset()) -> TunedFlow:
    """A copy of ``flow`` with a learned prior, trained by maximum likelihood on ``examples``, the copy's ``frozen``
    parts (names of ``Flow``'s children) fixed.

    ``progress(step, bits_per_dim)`` is called after every step, ``watch(step, copy)`` before the first step and
    after each step in ``watch_at`` (0 is before training). The shared model is only read.
    """
    # It trains on uniform noise, so a learned dequantizer stays the shared one; its own prior replaces the flow's.
    frozen = (*frozen, "dequantizer", "prior")
    with torch.inference_mode(False), torch.enable_grad():
        tuned = TunedFlow(flow, frozen)
        for name, module in tuned.flow.named_children():
            module.requires_grad_(name not in frozen)
        steps_trained = [p for p in tuned.flow.parameters() if p.requires_grad]
        prior = [tuned.shift, tuned.log_scale]
        trainable = steps_trained + prior
        optimizer = torch.optim.Adam([{"params": steps_trained}, {"params": prior, "lr": PRIOR_RATE}], lr=lr)
        x = examples.to(tuned.device).clone()
        generator = torch.Generator().manual_seed(seed)
        if watch is not None and 0 in watch_at:
            watch(0, tuned)
        for step in range(steps):
            noise = torch.rand(x.shape, generator=generator).to(x.device)
            loss = tuned.bits_per_dim(x, noise=noise).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 100.0)
            optimizer.step()
            if progress is not None:
                progress(step + 1, loss.item())
            if watch is not None and step + 1 in watch_at:
                watch(step + 1, tuned)
        optimizer.zero_grad(set_to_none=True)  # a kept copy holds its weights, not its last gradients
    return tuned.eval().requires_grad_(False)


# -- scoring ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scores:
    """How good a method's samples are, each number comparable across methods."""

    share_nine: float | None  # fraction of samples the classifier calls 9
    frechet: float | None  # classifier-feature Frechet distance to the real test 9s
    copy_distance: float  # mean pixel L2 distance from each sample to its nearest example
    real_distance: float  # the same for the real test 9s: what "not copying" looks like
    likelihood: float | None  # of the test 9s, in the unit below; None where the method has none
    likelihood_unit: str | None
    diversity: float | None = None  # spread of the samples' classifier features (``diversity``)
    invalid: int = 0  # samples with pixels that did not decode to finite values (set black)
    static: int = 0  # samples noisier than any handwritten digit (``judge``): never counted as a 9


def diversity(features: np.ndarray) -> float:
    """The mean over feature dimensions of the standard deviation across images (N, F): 0 when all are alike."""
    return float(np.asarray(features, dtype=np.float64).std(axis=0).mean())


def nearest_distance(x: torch.Tensor, examples: torch.Tensor) -> float:
    """Mean over images ``x`` of the pixel L2 distance to the nearest of ``examples``."""
    return float(torch.cdist(x.flatten(1).double().cpu(), examples.flatten(1).double().cpu()).min(1).values.mean())


def score(samples: torch.Tensor, examples: torch.Tensor, ref: Reference, classifier: torch.nn.Module | None,
          likelihood: tuple[float, str] | None = None) -> Scores:
    share = frechet = spread = None
    static = judge.is_static(samples)
    if classifier is not None:
        probs, feats = metrics.classify(classifier, samples)
        share, spread = float(judge.called(probs, samples, HELD_OUT_DIGIT).float().mean()), diversity(feats)
        if ref.features is not None:
            frechet = metrics.frechet_distance(feats, ref.features)
    value, unit = likelihood or (None, None)
    return Scores(share, frechet, nearest_distance(samples, examples), nearest_distance(ref.nines, examples),
                  value, unit, diversity=spread, static=int(static.sum()))


def pixel_likelihood(gaussian: SubspaceGaussian, ref: Reference) -> tuple[float, str] | None:
    """Mean log-density of the test 9s' coordinates in the Gaussian's d-D PCA subspace (nats; higher is better)."""
    if gaussian.dim == 0:
        return None
    return float(gaussian.log_prob_subspace(ref.nines.flatten(1)).mean()), f"nats in {gaussian.dim}-D PCA space"


def latent_likelihood(gaussian: SubspaceGaussian, ref: Reference) -> tuple[float, str] | None:
    """Bits/dim of the test 9s under the flow with the fitted Gaussian as its prior (N(0, 1) off its subspace)."""
    if ref.flow_z is None:
        return None
    return bits_per_dim(gaussian.log_prob(ref.flow_z, residual_var=1.0), ref.flow_log_det), "bits/dim"


@dataclass(frozen=True)
class Transfer:
    """A fine-tuned copy of the flow, its bits/dim on the examples step by step, and the test 9s' bits/dim under it.

    ``curve`` watches it learn: at a few steps, the share of ``CURVE_SAMPLES`` fixed samples the classifier calls 9
    (None without a classifier) and the bits/dim of the first ``CURVE_NINES`` test 9s.
    """

    flow: TunedFlow
    test_bpd: float
    history: tuple[float, ...]
    curve: tuple[tuple[int, float | None, float], ...] = ()


# The curve is scored at a few points, on a few samples and test 9s, so that it costs a fraction of the fine-tune.
CURVE_SAMPLES = 32
CURVE_POINTS = 4
CURVE_NINES = 100


def transfer(flow: Flow, examples: torch.Tensor, ref: Reference, *, steps: int = FINETUNE_STEPS,
             lr: float = FINETUNE_RATE,
             classifier: torch.nn.Module | None = None,
             progress: Callable[[int, float], None] | None = None) -> Transfer:
    """Fine-tune a copy of ``flow`` on ``examples`` and score the real test 9s under it (the slow part: cache it)."""
    history, curve = [], []
    codes = torch.randn(CURVE_SAMPLES, IMAGE_DIM, generator=torch.Generator().manual_seed(0)).to(flow.device)

    def record(step: int, bpd: float) -> None:
        history.append(bpd)
        if progress is not None:
            progress(step, bpd)

    def test_bpd(tuned: TunedFlow, first: int | None = None) -> float:
        h, log_det = (t[:first] for t in ref.flow_lower)  # the frozen steps' part is the shared flow's
        z, log_det = flow_upper(tuned, h, log_det)
        return bits_per_dim(standard_normal_log_prob(z.double()), log_det)

    def watch(step: int, tuned: TunedFlow) -> None:
        share = None
        if classifier is not None:
            with torch.no_grad():
                samples = images.finite(tuned.decode(codes).float())[0]
            probs = metrics.predict_proba(classifier, samples)
            share = float(judge.called(probs, samples, HELD_OUT_DIGIT).float().mean())
        curve.append((step, share, test_bpd(tuned, CURVE_NINES)))

    points = frozenset(round(steps * i / (CURVE_POINTS - 1)) for i in range(CURVE_POINTS))
    tuned = finetune(flow, examples.cpu(), steps=steps, lr=lr, progress=record, watch=watch, watch_at=points)
    return Transfer(tuned, test_bpd(tuned), tuple(history), tuple(curve))


@dataclass(frozen=True)
class Result:
    method: str
    samples: np.ndarray  # (n, 28, 28) float32 in [0, 1]
    scores: Scores


def run(method: str, examples: torch.Tensor, ref: Reference, *, flow: Flow | None = None,
        cnf: GenerativeModel | None = None, vae: GenerativeModel | None = None,
        classifier: torch.nn.Module | None = None, n: int = 64, dim: int = 10,
        seed: int = 0, temperature: float = 1.0, steps: int = FINETUNE_STEPS, tuned: Transfer | None = None) -> Result:
    """Generate ``n`` 9s with ``method`` from ``examples`` (k, 1, 28, 28) and score them against ``ref``.

    ``finetune`` trains a copy of the flow for ``steps`` steps unless given the ``tuned`` result of ``transfer``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    model = {"flow": flow, "bayes": flow, "cnf": cnf, "vae": vae, "finetune": flow}.get(method)
    if NEEDS[method] and model is None:
        raise ValueError(f"method {method!r} needs the {NEEDS[method]} checkpoint")
    examples = examples.cpu()
    if method == "pixel":
        samples, gaussian = pixel_gaussian(examples, dim, n, seed, temperature)
        likelihood = pixel_likelihood(gaussian, ref)
    elif method == "copy":
        samples, likelihood = copies(examples, n, seed), None
    elif method == "bayes":
        samples, mean, std = bayesian_update(flow, examples, n, seed, temperature)
        likelihood = bayesian_likelihood(mean, std, ref)
    elif method in ("flow", "cnf", "vae"):
        samples, gaussian = latent_gaussian(model, examples, dim, n, seed, temperature)
        likelihood = latent_likelihood(gaussian, ref) if method == "flow" else None
    else:
        tuned = tuned or transfer(flow, examples, ref, steps=steps, classifier=classifier)
        samples = tuned.flow.sample(n, temperature, torch.Generator().manual_seed(seed)).cpu()
        likelihood = tuned.test_bpd, "bits/dim"
    samples, invalid = images.finite(samples.float())
    samples = samples.clamp(0, 1)
    scores = dataclasses.replace(score(samples, examples, ref, classifier, likelihood), invalid=invalid)
    return Result(method, samples[:, 0].numpy(), scores)
