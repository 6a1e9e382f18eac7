import argparse
import hashlib

import pytest
import torch

from explorer import checkpoints
from explorer.data import load_mnist
from explorer.models.gan import GAN, GANConfig, code_digits, code_hint
from explorer.train import gan as train_gan
from explorer.train.loop import Context
from model_checks import CARD, check_generative_model

SMALL = dict(latent_dim=8, g_width=8, d_width=8, e_width=8)


def _gan(seed: int = 0, **overrides) -> GAN:
    torch.manual_seed(seed)
    return GAN(GANConfig(**{**SMALL, **overrides})).eval().requires_grad_(False)


def _state_hash(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def digits():
    return load_mnist("test").seen().as_float()[:16]


@pytest.mark.parametrize("overrides", [{"loss": "nonsaturating"}, {"loss": "wgan-gp"}, {"loss": "hinge"}, {"g_blocks": 2},
                                       {"loss": "hinge", "digit_code": True, "latent_dim": 16},
                                       {"loss": "hinge", "digit_code": True, "digit_input": 0.05, "latent_dim": 16}])
def test_passes_the_generative_model_checks(overrides, digits, tmp_path):
    check_generative_model(_gan(**overrides), digits, tmp_path)



def test_shapes_and_ranges(digits):
    model = _gan()
    z, reconstruction, error = model.invert(digits, steps=3)
    assert z.shape == (16, 8) and reconstruction.shape == (16, 1, 28, 28) and error.shape == (16,)
    assert torch.isfinite(z).all() and torch.isfinite(error).all() and (error >= 0).all()
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1
    assert model.discriminator(digits).shape == (16,)
    assert torch.allclose(error, (reconstruction - digits).pow(2).flatten(1).mean(1))


def test_encode_is_deterministic_and_seeded(digits):
    model = _gan()
    assert torch.equal(model.encode(digits, steps=5), model.encode(digits, steps=5))
    blind = _gan(e_width=0)
    assert blind.encoder is None
    first = blind.encode(digits, steps=5, generator=torch.Generator().manual_seed(1))
    again = blind.encode(digits, steps=5, generator=torch.Generator().manual_seed(1))
    other = blind.encode(digits, steps=5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_images_are_inverted_independently_of_their_batch(digits):
    model = _gan()
    together = model.encode(digits, steps=10)
    alone = torch.cat([model.encode(digits[i:i + 1], steps=10) for i in range(4)])
    assert torch.allclose(together[:4], alone, atol=1e-5)


def test_encode_never_changes_the_model(digits):
    model = _gan()
    before = _state_hash(model)
    with torch.inference_mode():
        z = model.encode(digits * 1.0, steps=5)  # the images themselves made under inference mode
    assert torch.equal(z, model.encode(digits, steps=5)) and _state_hash(model) == before

    trainable = _gan().requires_grad_(True)  # as during training: no gradient may reach the weights
    before = _state_hash(trainable)
    with torch.no_grad():
        trainable.encode(digits, steps=5)
    assert _state_hash(trainable) == before and all(p.grad is None for p in trainable.parameters())


def test_invert_refuses_training_mode(digits):
    with pytest.raises(RuntimeError, match="eval mode"):
        _gan().train().invert(digits)


def test_optimisation_improves_on_the_first_guess():
    model = _gan()
    model.generator.net[-2].weight.mul_(10)  # a fresh generator's images are all near grey; make them differ
    targets = model.decode(torch.randn(16, 8, generator=torch.Generator().manual_seed(3)))  # on the manifold
    first_guess = model.invert(targets, steps=0)[2]
    refined = model.invert(targets, steps=50)[2]
    assert refined.mean() < 0.5 * first_guess.mean()
    assert (refined <= first_guess).float().mean() >= 0.9


def test_save_load_round_trip_with_history(digits, tmp_path):
    model = _gan()
    history = {"d_loss": torch.rand(7), "epoch_grids": torch.randint(0, 256, (2, 64, 28, 28), dtype=torch.uint8)}
    checkpoints.save(model, CARD, "gan", tmp_path, history=history)
    loaded = checkpoints.load("gan", tmp_path)
    assert loaded.card["kind"] == "gan" and loaded.card["config"]["latent_dim"] == 8
    z = model.sample_latent(8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded.model.decode(z), model.decode(z))
    assert torch.equal(loaded.model.encode(digits, steps=5), model.encode(digits, steps=5))
    stored = checkpoints.load_history(loaded.card, tmp_path)
    assert stored.keys() == history.keys() and all(torch.equal(stored[k], v) for k, v in history.items())


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp", "hinge"])
def test_discriminator_loss_separates_real_from_fake(loss, digits):
    """Only D trains, on one fixed batch: the gap between its outputs on real and generated images must grow."""
    torch.manual_seed(0)
    model = GAN(GANConfig(**SMALL, loss=loss))
    fake = model.generator(torch.randn(16, 8)).detach()
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)

    def gap() -> float:
        with torch.no_grad():
            return (model.discriminator(digits).mean() - model.discriminator(fake).mean()).item()

    start = gap()
    for _ in range(30):
        loss_value = train_gan.discriminator_loss(model.discriminator(digits), model.discriminator(fake), loss)
        optimizer.zero_grad()
        loss_value.backward()
        optimizer.step()
    assert gap() > start + (1 if loss == "hinge" else 5)  # the hinge stops pushing once the gap reaches 2


def test_codes_name_every_digit_equally_often():
    z = torch.randn(90_000, 16, generator=torch.Generator().manual_seed(0))
    named = code_digits(z)
    assert torch.equal(named, z[:, :9].argmax(1))
    shares = torch.bincount(named, minlength=9) / len(z)
    assert len(shares) == 9 and (shares - 1 / 9).abs().max() < 0.005


def test_the_code_hint_is_the_codes_digit_as_a_one_hot_blurred_only_near_a_border():
    z = torch.randn(10_000, 16, generator=torch.Generator().manual_seed(0))
    hint = code_hint(z, 0.05)
    top2 = z[:, :9].topk(2).values
    clear = top2[:, 0] - top2[:, 1] > 0.5  # ten temperatures from the border
    assert hint.shape == (10_000, 9) and torch.allclose(hint.sum(1), torch.ones(10_000))
    assert torch.equal(hint.argmax(1), code_digits(z))
    assert hint[clear].max(1).values.min() > 0.999 and hint[~clear].max(1).values.min() < 0.6


def test_a_generator_told_the_digits_draws_from_the_hint_too():
    """With the code's own columns of G's first layer zeroed, G sees only the hint: codes naming the same digit
    draw the same image, codes naming different digits different ones."""
    model = _gan(latent_dim=16, loss="hinge", digit_code=True, digit_input=0.05)
    first = model.generator.net[0]
    assert first.in_features == 16 + 9
    first.weight[:, :16] = 0
    z = torch.zeros(3, 16)
    z[0, 2], z[1, 2], z[1, 12], z[2, 5] = 3.0, 3.0, -2.0, 3.0  # 0 and 1 name digit 2, 2 names digit 5
    images = model.decode(z)
    assert torch.allclose(images[0], images[1]) and not torch.allclose(images[0], images[2])


def test_digit_codes_need_nine_coordinates_and_the_hint_needs_the_codes():
    with pytest.raises(ValueError, match="latent_dim of at least 9"):
        GAN(GANConfig(**SMALL, loss="hinge", digit_code=True))
    with pytest.raises(ValueError, match="digit_input needs digit_code"):
        GAN(GANConfig(**{**SMALL, "latent_dim": 16}, loss="hinge", digit_input=0.05))


def test_a_discriminator_told_the_digits_learns_which_digit_an_image_is(digits):
    """Only D trains, on the same images under their true digits (real) and under wrong ones (fake): the scores
    can only come apart through the digits, so the gap shows the projection at work."""
    torch.manual_seed(0)
    model = GAN(GANConfig(**{**SMALL, "latent_dim": 16}, loss="hinge", digit_code=True))
    labels = load_mnist("test").seen().labels[:16]
    wrong = (labels + 1) % 9
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)

    def gap() -> float:
        with torch.no_grad():
            return (model.discriminator(digits, labels).mean() - model.discriminator(digits, wrong).mean()).item()

    start = gap()
    for _ in range(30):
        loss_value = train_gan.discriminator_loss(model.discriminator(digits, labels),
                                                  model.discriminator(digits, wrong), "hinge")
        optimizer.zero_grad()
        loss_value.backward()
        optimizer.step()
    assert abs(start) < 0.5 and gap() > 1


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp", "hinge"])
def test_generator_loss_raises_the_discriminator_score(loss):
    """Only G trains, against a fixed D: D's mean output on the generated images must rise."""
    torch.manual_seed(0)
    model = GAN(GANConfig(**SMALL, loss=loss))
    model.discriminator.eval().requires_grad_(False)
    z = torch.randn(32, 8)
    optimizer = torch.optim.Adam(model.generator.parameters(), lr=1e-2)

    def score() -> float:
        with torch.no_grad():
            return model.discriminator(model.generator(z)).mean().item()

    start = score()
    for _ in range(30):
        loss_value = train_gan.generator_loss(model.discriminator(model.generator(z)), loss)
        optimizer.zero_grad()
        loss_value.backward()
        optimizer.step()
    assert score() > start + 0.15  # it rises by about 0.3 (0.3-0.45 over seeds 0-3); it falls if the sign is wrong


def test_top_k_training_updates_the_generator_through_the_best_scored_images_only():
    scores = torch.tensor([0.3, -2.0, 1.5, 0.1, -0.4], requires_grad=True)
    kept = train_gan.most_realistic(scores, 0.4)
    assert sorted(kept.tolist()) == pytest.approx([0.3, 1.5])
    train_gan.generator_loss(kept, "hinge").backward()
    assert scores.grad.tolist() == [-0.5, 0, -0.5, 0, 0]
    assert len(train_gan.most_realistic(scores, 1.0)) == 5 and len(train_gan.most_realistic(scores, 0.01)) == 1


def test_top_k_must_be_a_fraction_of_the_batch(capsys):
    with pytest.raises(SystemExit):
        train_gan.main(["--dry-run", "--top-k", "1.5"])
    assert "--top-k is a fraction of the batch in (0, 1], not 1.5" in capsys.readouterr().err


def test_gradient_penalty_of_a_linear_critic():
    """A linear critic's input gradient is its weight everywhere, so the penalty is (|w| - 1)^2."""
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 1, bias=False))
    with torch.no_grad():
        critic[1].weight.fill_(3.0 / 28)  # |w| = 3
    critic = torch.nn.Sequential(critic, torch.nn.Flatten(0))
    penalty = train_gan.gradient_penalty(critic, torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28))
    assert penalty.item() == pytest.approx(4.0, rel=1e-5)


def test_recalibration_sets_batch_norm_statistics_to_the_samples():
    model = _gan()
    train_gan.recalibrate_batch_norm(model.generator, 8, n=512, seed=0, batch_size=512)
    assert not model.generator.training
    norm = model.generator.net[2]
    z = torch.randn(512, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = model.generator.net[:2](z)  # (512, 16, 7, 7): what the first batch norm sees
    assert torch.allclose(norm.running_mean, features.mean(dim=(0, 2, 3)), atol=1e-5)
    assert norm.momentum == 0.1


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp", "hinge"])
def test_dry_run_writes_checkpoint_history_and_grids(loss, tmp_path):
    train_gan.main(["--dry-run", "--loss", loss, "--out", str(tmp_path), "--runs", str(tmp_path)])
    loaded = checkpoints.load("gan", tmp_path)
    assert loaded.card["kind"] == "gan" and loaded.card["config"]["loss"] == loss
    assert loaded.card["steps"] == 30 and "invert_mse_digits_0_8" in loaded.card["metrics"]
    history = checkpoints.load_history(loaded.card, tmp_path)
    keys = {"d_loss", "g_loss", "d_real", "d_fake", "encoder_loss"}
    if loss == "wgan-gp":
        keys |= {"wasserstein", "gradient_penalty"}
    assert keys <= history.keys() and all(len(history[k]) == 30 and torch.isfinite(history[k]).all() for k in keys)
    grids = history["epoch_grids"]
    assert grids.dtype == torch.uint8 and grids.ndim == 4 and grids.shape[1:] == (64, 28, 28) and len(grids) >= 2
    samples = loaded.model.sample(64, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (64, 1, 28, 28)



def test_dry_run_with_digit_code_keeps_it_in_the_card(tmp_path):
    train_gan.main(["--dry-run", "--loss", "hinge", "--digit-code", "--out", str(tmp_path), "--runs", str(tmp_path)])
    loaded = checkpoints.load("gan", tmp_path)
    assert loaded.card["config"]["digit_code"] is True and loaded.model.discriminator.embed is not None


def test_dry_run_with_digit_input_keeps_it_in_the_card(tmp_path):
    train_gan.main(["--dry-run", "--loss", "hinge", "--digit-code", "--digit-input", "0.05", "--out", str(tmp_path),
                    "--runs", str(tmp_path)])
    loaded = checkpoints.load("gan", tmp_path)
    assert loaded.card["config"]["digit_input"] == 0.05 and loaded.model.generator.digit_input == 0.05


def test_digit_input_needs_digit_code(capsys):
    with pytest.raises(SystemExit):
        train_gan.main(["--dry-run", "--loss", "hinge", "--digit-input", "0.05"])
    assert "--digit-input is a positive temperature and needs --digit-code" in capsys.readouterr().err


def test_digit_code_refuses_wgan_gp(capsys):
    with pytest.raises(SystemExit):
        train_gan.main(["--dry-run", "--loss", "wgan-gp", "--digit-code"])
    assert "--digit-code needs --loss hinge or nonsaturating" in capsys.readouterr().err


def test_a_resumed_epoch_replaces_its_grid():
    """A run stopped mid-epoch renders that epoch's grid again when resumed: one row per epoch all the same."""
    args = argparse.Namespace(lr=2e-4, betas=(0.5, 0.999), n_critic=1, gp_weight=10.0, ema=0.999, seed=0,
                              dry_run=True)
    task = train_gan.GANTask(GANConfig(**SMALL), args, Context(torch.device("cpu")))
    for epoch in (0, 1, 1, 2):
        task.end_epoch(epoch)
    assert task.artifacts["epoch_grids"].shape == (3, 64, 28, 28)


def test_decay_from_holds_the_learning_rates_then_takes_them_linearly_to_zero(digits):
    args = argparse.Namespace(lr=2e-4, betas=(0.5, 0.999), n_critic=1, gp_weight=10.0, ema=0.999, seed=0,
                              dry_run=True, decay_from=1, epochs=2, top_k=1.0)
    task = train_gan.GANTask(GANConfig(**SMALL), args, Context(torch.device("cpu")))
    task.total_steps = 10  # 5 steps an epoch: decay from step 5 to zero at step 10
    rates = []
    for step in (0, 4, 5, 8):
        task.step(digits[:8], None, step)
        rates.append({g["lr"] for name in ("generator", "discriminator") for g in task.optimizers[name].param_groups})
    assert rates[:3] == [{2e-4}] * 3
    assert len(rates[3]) == 1 and rates[3].pop() == pytest.approx(0.8e-4)
