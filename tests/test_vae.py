import pytest
import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.models.vae import VAE, VAEConfig
from explorer.train import vae as train_vae
from explorer.train.schedules import cosine, hold_then_linear, linear_warmup
from model_checks import CARD, check_generative_model

SMALL = VAEConfig(latent_dim=4, channels=(8, 16), hidden=32)


@pytest.fixture(scope="module")
def digits():
    return load_mnist("test").seen().as_float()[:16]


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(SMALL).eval()


def test_vae_meets_the_model_interface(vae, digits, tmp_path):
    check_generative_model(vae, digits, tmp_path)


def test_posterior_shapes_and_encode_is_its_mean(vae, digits):
    mu, logvar = vae.encode_posterior(digits)
    assert mu.shape == logvar.shape == (16, 4) and torch.isfinite(mu).all() and torch.isfinite(logvar).all()
    assert torch.equal(vae.encode(digits), mu)
    logits = vae.decoder_logits(mu)
    assert logits.shape == (16, 1, 28, 28)
    assert torch.allclose(vae.decode(mu), torch.sigmoid(logits))


def test_reparameterize_is_seeded_and_centred_on_the_mean(vae, digits):
    mu, logvar = vae.encode_posterior(digits)
    draw = lambda seed: vae.reparameterize(mu, logvar, torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(1), draw(1)) and not torch.equal(draw(1), draw(2))
    assert torch.equal(vae.reparameterize(mu, torch.full_like(logvar, -torch.inf)), mu)


def test_save_load_keeps_the_posterior(vae, digits, tmp_path):
    checkpoints.save(vae, CARD, "vae", tmp_path)
    loaded = checkpoints.load("vae", tmp_path).model
    assert tuple(loaded.config.channels) == (8, 16)
    for a, b in zip(loaded.encode_posterior(digits), vae.encode_posterior(digits)):
        assert torch.equal(a, b)


def test_schedules():
    assert linear_warmup(2.0, 0, 0) == 2.0
    assert linear_warmup(2.0, 4, 10) == pytest.approx(1.0) and linear_warmup(2.0, 50, 10) == 2.0
    assert cosine(1.0, 0, 100) == 1.0 and cosine(1.0, 50, 100) == pytest.approx(0.5) and cosine(1.0, 100, 100) == 0.0
    assert hold_then_linear(2.0, 59, 60, 100) == 2.0 and hold_then_linear(2.0, 80, 60, 100) == pytest.approx(1.0)
    assert hold_then_linear(2.0, 100, 60, 100) == 0.0


def test_dry_run_loss_goes_down_and_writes_a_checkpoint(tmp_path):
    train_vae.main(["--dry-run", "--epochs", "15", "--steps", "30", "--lr", "3e-3", "--beta", "0.5", "--warmup-epochs", "2",
                    "--out", str(tmp_path), "--runs", str(tmp_path)])
    ckpt = checkpoints.load("vae", tmp_path)
    assert ckpt.card["config"]["beta"] == 0.5 and ckpt.card["steps"] == 30
    history = checkpoints.load_history(ckpt.card, tmp_path)
    assert set(history) == {"loss", "recon", "kl"} and len(history["loss"]) == 30
    assert history["loss"][-5:].mean() < history["loss"][:5].mean() - 5
    assert ckpt.card["metrics"]["test_neg_elbo_nats_digits_0_8"] > 0
