import copy
import math

import pytest
import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.models import cnf as cnf_module
from explorer.models.cnf import CNF, CNFConfig
from explorer.train import cnf as train_cnf
from model_checks import check_generative_model


@pytest.fixture(scope="module")
def digits():
    return load_mnist("test").seen().as_float()[:8]


@pytest.fixture(scope="module")
def cnf():
    """A small field with every weight perturbed: a fresh one outputs zero velocity, which would make checks vacuous."""
    torch.manual_seed(0)
    model = CNF(CNFConfig(channels=8, blocks=1, steps=4))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
    return model.eval()


def test_cnf_meets_the_model_interface(cnf, digits, tmp_path):
    check_generative_model(cnf, digits[:4], tmp_path)
    assert cnf.inversion == "ode" and cnf.latent_dim == 784


def test_round_trip_error_falls_as_solver_steps_grow(cnf, digits, monkeypatch):
    exact = copy.deepcopy(cnf)
    exact.config.bf16_solver = False  # the solver's own error, without bfloat16's rounding
    assert not torch.allclose(exact.encode(digits).view_as(digits), CNF.to_data(digits), atol=1e-2)  # the field moves
    errors = [(exact.decode(exact.encode(digits, steps), steps) - digits).abs().mean().item() for steps in (1, 2, 8)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-4
    monkeypatch.setattr(cnf_module, "fast_bf16", lambda device: True)  # as on a CPU with bf16 instructions
    in_bf16 = (cnf.decode(cnf.encode(digits, 8), 8) - digits).abs().mean().item()
    assert errors[2] < in_bf16 < 2e-3  # bfloat16 costs a little exactness, well within the round trip's bar


def test_without_native_bf16_the_solver_stays_in_float32(cnf, digits, monkeypatch):
    """Emulated bf16 runs the field many times slower than float32 (an AVX2-only CPU), so it is not used there."""
    exact = copy.deepcopy(cnf)
    exact.config.bf16_solver = False
    monkeypatch.setattr(cnf_module, "fast_bf16", lambda device: False)
    assert torch.equal(cnf.decode(cnf.sample_latent(4, generator=0)), exact.decode(exact.sample_latent(4, generator=0)))


def test_path_runs_from_the_code_to_the_decoded_image(cnf):
    z = cnf.sample_latent(3, generator=0)
    times, frames = cnf.path(z, frames=5, steps=8)
    assert frames.shape == (5, 3, 1, 28, 28)
    assert times == [cnf_module.solver_times(8)[i] for i in (0, 2, 4, 6, 8)]
    assert torch.allclose(frames[0], ((z.view(3, 1, 28, 28) + 1) / 2).clamp(0, 1))
    assert torch.allclose(frames[-1], cnf.decode(z, steps=8), atol=1e-5)


def test_the_solver_steps_shorten_toward_the_digit():
    times = cnf_module.solver_times(8)
    steps = [b - a for a, b in zip(times, times[1:])]
    assert times[0] == 0 and times[-1] == 1 and all(a > b > 0 for a, b in zip(steps, steps[1:]))


def test_divergence_is_hutchinsons_estimate_of_the_jacobian_trace(cnf, digits):
    x = CNF.to_data(digits[:1])
    jacobian = torch.autograd.functional.jacobian(
        lambda v: cnf.velocity(v.view(1, 1, 28, 28), torch.tensor([0.3])).flatten(), x.flatten())
    probes = (torch.randint(0, 2, (50, 1, 1, 28, 28), generator=torch.Generator().manual_seed(0)) * 2 - 1).float()
    _, estimate = cnf._velocity_and_divergence(x, 0.3, probes)
    flat = probes.flatten(1)
    expected = torch.einsum("ki,ij,kj->k", flat, jacobian, flat).mean()  # E[e^T J e] = trace J for Rademacher e
    assert estimate.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-4)


def test_log_likelihood_of_a_still_field_is_the_gaussian_density(digits):
    """A fresh field is zero: codes are the images themselves, so bits/dim is the prior's at the dequantized image."""
    model = CNF(CNFConfig(channels=8, blocks=1, steps=2)).eval()
    bpd = model.bits_per_dim(digits)
    y = CNF.to_data((torch.round(digits * 255) + 0.5) / 256)
    log_p = -0.5 * (y ** 2).flatten(1).sum(1) - 392 * math.log(2 * math.pi) + 784 * math.log(2 / 256)
    assert torch.allclose(bpd, -log_p / (784 * math.log(2)), atol=1e-4)


def test_seeded_likelihood_is_reproducible_and_finite(cnf, digits):
    a = cnf.bits_per_dim(digits, torch.Generator().manual_seed(0))
    b = cnf.bits_per_dim(digits, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.isfinite(a).all()


def test_without_a_generator_an_image_reads_the_same_alone_and_in_a_batch(cnf, digits):
    together = cnf.log_prob(digits[:4], steps=2)
    alone = torch.cat([cnf.log_prob(digits[i:i + 1], steps=2) for i in range(4)])
    assert torch.allclose(together, alone, rtol=1e-5)


def test_dry_run_trains_and_writes_an_averaged_checkpoint(tmp_path):
    train_cnf.main(["--dry-run", "--steps", "40", "--lr", "3e-3", "--out", str(tmp_path), "--runs", str(tmp_path)])
    ckpt = checkpoints.load("cnf", tmp_path)
    loss = checkpoints.load_history(ckpt.card, tmp_path)["loss"]
    assert len(loss) == 40 and loss[-5:].mean() < loss[:5].mean() - 0.05
    assert ckpt.card["kind"] == "cnf" and ckpt.card["classes"] == list(range(9))
    assert {"test_matching_loss_digits_0_8", "test_bpd_digits_0_8", "test_bpd_digit_9"} <= set(ckpt.card["metrics"])
    assert ckpt.model.config.steps == 2


@pytest.fixture(scope="module")
def guided(cnf):
    """``cnf`` following a guide of another width with weight 2."""
    torch.manual_seed(1)
    guide = CNF(CNFConfig(channels=16, blocks=1))
    with torch.no_grad():
        for p in guide.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    model = copy.deepcopy(cnf)
    model.attach_guide(guide.velocity, 16, 1, guidance=2.0)
    return model.eval()


def test_autoguidance_follows_the_guide_plus_w_times_the_difference(cnf, guided, digits):
    x, t = CNF.to_data(digits[:2]), torch.tensor([0.2, 0.7])
    v, v_guide = cnf.velocity(x, t), guided.guide(x, t)
    assert not torch.allclose(v, v_guide, atol=1e-3)
    assert torch.allclose(guided.field(x, t), v_guide + 2 * (v - v_guide), atol=1e-5)
    assert torch.equal(guided.field(x, t, guidance=1), v)  # weight 1: the trained field alone
    z = cnf.sample_latent(2, generator=0)
    assert not torch.allclose(guided.decode(z), cnf.decode(z), atol=1e-3)
    assert torch.allclose(guided.decode(z, guidance=1), cnf.decode(z))


def test_a_guided_model_meets_the_interface_and_keeps_its_guide_through_save_and_load(guided, digits, tmp_path):
    check_generative_model(guided, digits[:4], tmp_path)
    assert not any(p.requires_grad for p in guided.guide.parameters())


def test_a_guide_is_attached_by_the_trainer_and_rides_along_when_training_continues(tmp_path):
    out = ["--out", str(tmp_path), "--runs", str(tmp_path / "runs")]
    train_cnf.main(["--dry-run", "--steps", "5", *out])
    train_cnf.main(["--dry-run", "--steps", "5", "--name", "cnf-guide", "--seed", "1", *out])
    train_cnf.main(["--attach-guide", "cnf-guide", "--guidance", "1.5", *out])
    attached, guide = checkpoints.load("cnf", tmp_path), checkpoints.load("cnf-guide", tmp_path)
    assert attached.model.config.guidance == 1.5 and attached.model.config.guide_channels == 8
    assert torch.equal(attached.model.guide.inp.weight, guide.model.velocity.inp.weight)
    assert attached.card["guide"]["name"] == "cnf-guide" and "--name cnf-guide" in attached.card["command"]
    assert attached.card["command"].endswith("--attach-guide cnf-guide --guidance 1.5")
    assert attached.card["train_time_s"] == pytest.approx(
        checkpoints.read_card("cnf-guide", tmp_path)["train_time_s"] + attached.card["train_time_s"]
        - guide.card["train_time_s"])
    train_cnf.main(["--dry-run", "--steps", "10", "--continue-checkpoint", "--epochs", "4", *out])
    continued = checkpoints.load("cnf", tmp_path).model
    assert torch.equal(continued.guide.inp.weight, guide.model.velocity.inp.weight)  # the guide is not trained
    assert not torch.equal(continued.velocity.inp.weight, attached.model.velocity.inp.weight)
    assert continued.config.guidance == 1.5
