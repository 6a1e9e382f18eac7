import math
import subprocess
import sys

import pytest
import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.models import flow as flow_module
from explorer.models.flow import ActNorm, AffineCoupling, FlowStep, Flow, FlowConfig, InvConv1x1, squeeze, unsqueeze
from explorer.train import flow as train_flow
from model_checks import check_generative_model


def _randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Perturb every parameter: fresh flow layers start as the identity, which would make the checks vacuous."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


@pytest.fixture(scope="module")
def digits():
    return load_mnist("test").seen().as_float()[:16]


def _tiny(digits: torch.Tensor, **config) -> Flow:
    """A two-step flow with ``config``'s options, started on ``digits``, every parameter moved off its start."""
    torch.manual_seed(0)
    model = Flow(FlowConfig(steps_per_level=2, hidden_channels=16, **config))
    model.initialize(digits)
    return _randomised(model).eval()


@pytest.fixture(scope="module")
def flow(digits):
    return _tiny(digits)


@pytest.mark.parametrize("layer", [ActNorm(4), InvConv1x1(4), AffineCoupling(4, 8), AffineCoupling(4, 8, "gated", 1),
                                   FlowStep(8, 8), FlowStep(8, 8, "gated", 2)])
@pytest.mark.parametrize("shape", [(3, 14, 14), (3, 7, 7)])
def test_layer_inverts_and_log_dets_cancel(layer, shape):
    channels = layer.bias.shape[1] if isinstance(layer, ActNorm) else 8 if isinstance(layer, FlowStep) else 4
    x = torch.randn(shape[0], channels, *shape[1:])
    layer = _randomised(layer)
    y, forward_log_det = layer(x)
    x_again, inverse_log_det = layer.inverse(y)
    assert torch.allclose(x_again, x, atol=1e-4)
    assert torch.allclose(forward_log_det + inverse_log_det, torch.zeros(shape[0]), atol=1e-3)


def test_squeeze_round_trip():
    x = torch.randn(2, 3, 28, 28)
    assert squeeze(x).shape == (2, 12, 14, 14) and torch.equal(unsqueeze(squeeze(x)), x)


def test_flow_inverts_within_1e_4(flow, digits):
    y = Flow.dequantize(digits, torch.Generator().manual_seed(0))
    z, forward_log_det = flow(y)
    y_again, inverse_log_det = flow.inverse(z)
    assert z.shape == (16, 784)
    assert (y_again - y).abs().max() < 1e-4
    assert torch.allclose(forward_log_det + inverse_log_det, torch.zeros(16), atol=1e-2)


@pytest.mark.parametrize("coupling", ["plain", "gated"])
def test_log_det_matches_autograd_jacobian(digits, coupling):
    torch.manual_seed(1)
    model = Flow(FlowConfig(steps_per_level=1, hidden_channels=4, coupling=coupling, blocks=1)).double()
    model.initialize(digits.double())
    model = _randomised(model).eval()
    y = Flow.dequantize(digits[:1].double(), torch.Generator().manual_seed(1))
    jacobian = torch.autograd.functional.jacobian(lambda v: model(v.view(1, 1, 28, 28))[0][0], y.flatten(),
                                                  vectorize=True)
    sign, log_abs_det = torch.linalg.slogdet(jacobian)
    assert sign != 0
    assert abs(log_abs_det.item() - model(y)[1].item()) < 1e-6 * max(1.0, abs(log_abs_det.item()))


def test_bits_per_dim_is_the_scaled_log_likelihood(flow, digits):
    bpd = flow.bits_per_dim(digits, torch.Generator().manual_seed(0))
    log_prob = flow.log_prob(digits, torch.Generator().manual_seed(0))
    assert torch.isfinite(bpd).all() and (bpd > 0).all()
    assert torch.allclose(bpd, -log_prob / (784 * math.log(2)))


def test_flow_meets_the_model_interface(flow, digits, tmp_path):
    check_generative_model(flow, digits[:4], tmp_path)
    assert flow.inversion == "exact"
    assert (flow.decode(flow.encode(digits)) - digits).abs().max() < 1 / 255


def test_dry_run_trains_and_writes_a_checkpoint(tmp_path):
    train_flow.main(["--dry-run", "--steps", "40", "--out", str(tmp_path), "--runs", str(tmp_path)])
    ckpt = checkpoints.load("flow", tmp_path)
    bpd = checkpoints.load_history(ckpt.card, tmp_path)["bpd"]
    assert len(bpd) == 40 and bpd[-5:].mean() < bpd[:5].mean() - 0.05
    assert ckpt.card["classes"] == list(range(9)) and ckpt.card["steps"] == 40
    assert set(ckpt.card["metrics"]) == {"test_bpd_digits_0_8", "test_bpd_digit_9"}


@pytest.fixture(scope="module")
def dequantized(digits):
    return _tiny(digits, dequantizer_channels=8)


def test_the_dequantizers_density_is_its_change_of_variables(dequantized, digits):
    """log q(u | x) is the standard normal density of eps less log du/deps (the map acts on each pixel alone)."""
    eps = torch.randn(digits[:2].shape, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    u, log_q = dequantized.dequantizer(digits[:2], eps)
    (slope,) = torch.autograd.grad(u.sum(), [eps])
    expected = (-0.5 * eps ** 2 - 0.5 * math.log(2 * math.pi) - slope.log()).flatten(1).sum(1)
    assert ((u > 0) & (u < 1)).all() and torch.allclose(log_q, expected, rtol=1e-4)


@pytest.mark.parametrize("learned", [True, False])
def test_the_importance_weighted_bound_weighs_its_draws(dequantized, digits, learned):
    """The bound is the log-mean-exp of one-draw bounds: the dequantizer's draws, or uniform ones."""
    x, generator = digits[:4], torch.Generator().manual_seed(0)
    if learned:
        draws = [dequantized.learned_log_prob(x, torch.randn(x.shape, generator=generator)) for _ in range(4)]
    else:
        draws = [dequantized.log_prob(x, generator) for _ in range(4)]
    bound = dequantized.importance_weighted_log_prob(x, 4, torch.Generator().manual_seed(0), learned)
    assert torch.allclose(bound, torch.logsumexp(torch.stack(draws), 0) - math.log(4))


def test_a_dequantizer_trains_on_a_frozen_flow(tmp_path):
    """A trained flow continues with a new dequantizer: the flow's weights stay, the learned bound improves."""
    common = ["--dry-run", "--out", str(tmp_path), "--runs", str(tmp_path)]
    train_flow.main([*common, "--steps", "20"])
    flow_before = checkpoints.load("flow", tmp_path).model.state_dict()
    train_flow.main([*common, "--steps", "120", "--continue-checkpoint", "--dequantizer", "8", "--freeze-flow",
                     "--lr", "1e-2"])
    ckpt = checkpoints.load("flow", tmp_path)
    weights = ckpt.model.state_dict()
    assert all(torch.equal(weights[key], value) for key, value in flow_before.items())
    assert ckpt.model.config.dequantizer_channels == 8 and "--freeze-flow" in ckpt.card["command"]
    bpd = checkpoints.load_history(ckpt.card, tmp_path)["bpd"][20:]
    assert len(bpd) == 100 and bpd[-10:].mean() < bpd[:10].mean() - 0.05


def test_a_flow_with_a_dequantizer_continues_on_uniform_noise_without_it(tmp_path):
    """--dequantizer 0 continues the flow alone: the dequantizer is dropped and the flow trains on."""
    common = ["--dry-run", "--out", str(tmp_path), "--runs", str(tmp_path)]
    train_flow.main([*common, "--steps", "20", "--dequantizer", "8"])
    before = checkpoints.load("flow", tmp_path).model.state_dict()
    train_flow.main([*common, "--steps", "40", "--continue-checkpoint", "--dequantizer", "0"])
    ckpt = checkpoints.load("flow", tmp_path)
    weights = ckpt.model.state_dict()
    assert ckpt.model.dequantizer is None and ckpt.card["steps"] == 40
    assert set(weights) == {key for key in before if not key.startswith("dequantizer.")}
    assert not all(torch.equal(weights[key], before[key]) for key in weights)


def test_grown_steps_start_as_the_identity(digits):
    """A flow grown at level 2 maps images as the flow it grew from, until it trains: codes and log-dets agree."""
    torch.manual_seed(0)
    trained = _randomised(Flow(FlowConfig(steps_per_level=2, hidden_channels=16, coupling="gated", blocks=1)))
    grown = Flow(FlowConfig(steps_per_level=2, hidden_channels=16, coupling="gated", blocks=1, grown_steps=2,
                            grown_hidden_channels=8))
    grown.initialize(digits)  # the data-dependent start leaves the grown steps alone
    missing = grown.load_state_dict(trained.state_dict(), strict=False).missing_keys
    assert missing and {key.split(".")[1] for key in missing} == {"2", "3"} and len(grown.level2) == 4
    y = Flow.dequantize(digits, torch.Generator().manual_seed(0))
    (z, log_det), (z_grown, log_det_grown) = trained(y), grown(y)
    assert torch.allclose(z_grown, z, atol=1e-5) and torch.allclose(log_det_grown, log_det, atol=1e-3)


def test_a_trained_flow_grows_and_trains_on(tmp_path):
    """--grow-steps continues a checkpoint with new steps at level 2: its weights carry over, and all of it trains."""
    common = ["--dry-run", "--coupling", "gated", "--blocks", "1", "--out", str(tmp_path), "--runs", str(tmp_path)]
    train_flow.main([*common, "--steps", "20"])
    before = checkpoints.load("flow", tmp_path).model.state_dict()
    train_flow.main([*common, "--steps", "40", "--continue-checkpoint", "--grow-steps", "2", "--grow-hidden", "8"])
    ckpt = checkpoints.load("flow", tmp_path)
    weights = ckpt.model.state_dict()
    assert ckpt.model.config.grown_steps == 2 and len(ckpt.model.level2) == 4
    assert "--grow-steps 2 --grow-hidden 8" in ckpt.card["command"]
    assert set(before) < set(weights) and not all(torch.equal(weights[key], before[key]) for key in before)
    assert ckpt.model.level2[-1].layers[2].net[-1].conv.weight.abs().sum() > 0  # the grown steps trained too
    assert len(checkpoints.load_history(ckpt.card, tmp_path)["bpd"]) == 40


@pytest.mark.parametrize("options", [["--coupling", "gated"], ["--grow-hidden", "8"]])
def test_growing_needs_the_new_steps_width_and_the_gated_coupling(tmp_path, options):
    with pytest.raises(SystemExit):
        train_flow.main(["--dry-run", "--grow-steps", "2", *options, "--out", str(tmp_path), "--runs", str(tmp_path)])


def test_freezing_the_flow_needs_a_dequantizer(tmp_path):
    with pytest.raises(SystemExit):
        train_flow.main(["--dry-run", "--freeze-flow", "--out", str(tmp_path), "--runs", str(tmp_path)])


def test_gated_coupling_bounds_its_scale():
    coupling = AffineCoupling(4, 8, "gated", 1)
    with torch.no_grad():
        coupling.net[-1].scale.fill_(2.0)  # a zero-initialised output layer made loud
        coupling.net[-1].conv.weight.normal_(0, 10.0)
    log_scale, _ = coupling._log_scale_shift(torch.randn(3, 2, 7, 7))
    assert log_scale.abs().max() <= torch.exp(coupling.log_bound).max() + 1e-6


def test_mixed_precision_dry_run_trains_a_gated_flow(tmp_path):
    train_flow.main(["--dry-run", "--steps", "40", "--coupling", "gated", "--blocks", "1", "--amp",
                     "--out", str(tmp_path), "--runs", str(tmp_path)])
    ckpt = checkpoints.load("flow", tmp_path)
    bpd = checkpoints.load_history(ckpt.card, tmp_path)["bpd"]
    assert ckpt.model.config.coupling == "gated" and bpd[-5:].mean() < bpd[:5].mean() - 0.05


def test_distributed_dry_run_on_two_cpu_processes(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = subprocess.run(torchrun + ["-m", "explorer", "train", "flow", "--dry-run", "--device", "cpu",
                                      "--out", str(tmp_path), "--runs", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    card = checkpoints.load("flow", tmp_path).card
    assert card["hardware"].startswith("2 x cpu") and card["steps"] == 30


def test_far_codes_decode_to_finite_images(flow):
    z = 50 * torch.randn(8, 784, generator=torch.Generator().manual_seed(0))
    images = flow.decode(z)
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1


def test_drawing_runs_in_bf16_where_native_and_decode_stays_exact(flow, digits, monkeypatch):
    """Samples may be drawn in bfloat16 (faster on a CPU with bf16 instructions); round trips must not be."""
    z = flow.sample_latent(8, generator=0)
    monkeypatch.setattr(flow_module, "fast_bf16", lambda device: False)
    assert torch.equal(flow.draw(z), flow.decode(z))
    monkeypatch.setattr(flow_module, "fast_bf16", lambda device: True)  # as on a CPU with bf16 instructions
    drawn = flow.draw(z)
    assert drawn.dtype == torch.float32 and not torch.equal(drawn, flow.decode(z))
    assert (drawn - flow.decode(z)).abs().mean() < 1e-2
    assert (flow.decode(flow.encode(digits)) - digits).abs().max() < 1e-4 + 1 / 256  # exact up to dequantization


def test_a_checkpoint_of_another_design_does_not_continue(tmp_path):
    """Only a dequantizer may be dropped: a flow with more steps than the task's is refused, not cut short."""
    common = ["--dry-run", "--out", str(tmp_path), "--runs", str(tmp_path)]
    train_flow.main([*common, "--steps", "5", "--coupling", "gated", "--blocks", "2"])
    with pytest.raises(RuntimeError, match="Unexpected key"):
        train_flow.main([*common, "--steps", "10", "--continue-checkpoint", "--coupling", "gated", "--blocks", "1"])


@pytest.fixture(scope="module")
def mixed(digits):
    """The tiny flow with a mixture of 2 Gaussians as level 2's prior."""
    return _tiny(digits, prior_components=2)


def test_a_fresh_mixture_prior_leaves_the_flows_likelihood_as_it_is(flow, digits):
    """Unfitted, every component is N(0, I): the same weights give the same likelihood with or without it."""
    with_prior = Flow(FlowConfig(steps_per_level=2, hidden_channels=16, prior_components=3))
    with_prior.load_state_dict(flow.state_dict(), strict=False)
    generator = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.allclose(with_prior.log_prob(digits, generator()), flow.log_prob(digits, generator()), rtol=1e-5)


def test_a_mixture_prior_is_the_density_of_level_2s_code(mixed, digits):
    """log p(z): N(0, I) on the factored-out half, the mixture (checked against torch.distributions) on the rest."""
    z, log_det = mixed(Flow.dequantize(digits))
    prior = mixed.prior
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=prior.logits.detach()),
        torch.distributions.MultivariateNormal(prior.means.detach(), scale_tril=prior.scale_tril().detach()))
    fine = torch.distributions.Normal(0.0, 1.0).log_prob(z[:, :flow_module.HALF]).sum(1)
    expected = fine + mixture.log_prob(z[:, flow_module.HALF:]) + log_det - 784 * math.log(256)
    assert torch.allclose(mixed.log_prob_from(z, log_det), expected, rtol=1e-5)


def test_codes_drawn_from_a_mixture_prior(mixed):
    """At temperature 0 the factored-out half is 0 and level 2's code a component's mean; a seed repeats a draw."""
    cold = mixed.sample_latent(20, 0.0, generator=0)
    nearest = (cold[:, flow_module.HALF:, None] - mixed.prior.means.detach().T).norm(dim=1).min(1).values
    assert (cold[:, :flow_module.HALF] == 0).all() and nearest.max() < 1e-5
    assert torch.equal(mixed.sample_latent(5, generator=3), mixed.sample_latent(5, generator=3))
    assert not torch.equal(mixed.sample_latent(5, generator=3), mixed.sample_latent(5, generator=4))


def test_a_flow_with_a_mixture_prior_meets_the_model_interface(mixed, digits, tmp_path):
    check_generative_model(mixed, digits[:4], tmp_path)
    assert (mixed.decode(mixed.encode(digits)) - digits).abs().max() < 1 / 255


def test_a_trained_flow_gets_a_mixture_prior_fitted_to_its_codes_and_trains_on_with_it(tmp_path):
    """--prior fits a mixture by EM where a checkpoint has none; with no more epochs the bijection stays as it was.
    Trained on, the prior learns with the flow."""
    common = ["--dry-run", "--out", str(tmp_path), "--runs", str(tmp_path)]
    train_flow.main([*common, "--steps", "20"])
    before = checkpoints.load("flow", tmp_path)
    epochs = str(before.card["epochs"])
    train_flow.main([*common, "--epochs", epochs, "--continue-checkpoint", "--prior", "2"])
    fitted = checkpoints.load("flow", tmp_path)
    weights = fitted.model.state_dict()
    assert fitted.model.config.prior_components == 2 and fitted.model.prior.initialized
    assert all(torch.equal(weights[key], value) for key, value in before.model.state_dict().items())
    assert fitted.card["steps"] == 20 and "--prior 2" in fitted.card["command"]
    assert fitted.card["metrics"]["test_bpd_digits_0_8"] != before.card["metrics"]["test_bpd_digits_0_8"]
    train_flow.main([*common, "--steps", "30", "--epochs", "30", "--continue-checkpoint", "--prior", "2"])
    trained = checkpoints.load("flow", tmp_path)
    assert trained.card["steps"] == 30
    assert not torch.equal(trained.model.prior.means, fitted.model.prior.means)
