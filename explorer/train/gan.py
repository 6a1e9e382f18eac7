"""Train the GAN on digits 0-8: non-saturating DCGAN, SN-GAN with the hinge loss or WGAN-GP, a discriminator
(and generator) optionally told the digits, an averaged generator, a first-guess encoder.

    python -m explorer train gan --name gan --epochs 20
    python -m explorer train gan --name gan-wgan --loss wgan-gp --n-critic 5 --gp-weight 10
    python -m explorer train gan --name gan-sn --loss hinge --d-width 64   # spectrally normalised D, hinge loss
    python -m explorer train gan --loss hinge --d-width 64 --digit-code   # D told the digits, each code names one
    python -m explorer train gan --loss hinge --d-width 64 --g-blocks 1 --digit-code --digit-input 0.05 --epochs 36 --decay-from 18 --amp   # shipped: this, then
    python -m explorer train gan --loss hinge --d-width 64 --g-blocks 1 --digit-code --digit-input 0.05 --epochs 52 --decay-from 40 --amp --continue-checkpoint

Each step makes ``--n-critic`` discriminator updates, one per batch of ``--batch-size`` real images
(so the loop's batch, and the card's batch_size, is n_critic times larger), then one generator update.
Defaults follow the papers: DCGAN's Adam(2e-4, betas 0.5, 0.999) for the non-saturating loss;
WGAN-GP's Adam(1e-4, betas 0, 0.9), 5 critic updates and penalty weight 10; SN-GAN's Adam(2e-4, betas 0, 0.9)
for the hinge loss.

The shipped generator is an exponential moving average of the trained one (Yazici et al. 2019,
https://arxiv.org/abs/1806.04498), which smooths the oscillations of adversarial training; its batch
norm statistics are re-estimated over fresh samples at every epoch end. The first-guess encoder trains
alongside the GAN, one step per training step on half a batch of fresh pairs (G(z), z) from the
averaged generator, so at the end it fits the generator that ships.

With ``--top-k F`` below 1 the generator learns only from the fraction F of its batch that D scores
highest (top-k training), and its recorded g_loss is over those.

Recorded per step: d_loss (for WGAN-GP with the penalty), g_loss, d_real and d_fake (mean D(x), D(G(z)): probabilities for the
non-saturating loss, critic scores for WGAN-GP), for WGAN-GP also wasserstein (the critic's estimate
of the distance) and gradient_penalty, and encoder_loss. At each epoch end the averaged generator
renders one fixed noise batch: ``epoch_grids``, uint8 (epochs, 64, 28, 28).
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..data import load_mnist
from ..models.gan import GAN, LOSSES, GANConfig, code_digits
from .loop import Context, Task, add_common_args, fit, make_context, parse, set_learning_rate, update_average
from .schedules import hold_then_linear

GRID_SIZE = 64
RECALIBRATION_SAMPLES = 4096
OPTIMIZER_DEFAULTS = {"nonsaturating": (2e-4, (0.5, 0.999)), "wgan-gp": (1e-4, (0.0, 0.9)), "hinge": (2e-4, (0.0, 0.9))}


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, loss: str) -> torch.Tensor:
    """What D minimises, from its outputs (N,) on real and generated images (without WGAN-GP's penalty)."""
    if loss == "wgan-gp":
        return fake_scores.mean() - real_scores.mean()
    if loss == "hinge":
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()  # -log D(x) - log(1 - D(G(z)))


def generator_loss(fake_scores: torch.Tensor, loss: str) -> torch.Tensor:
    """What G minimises, from D's outputs (N,) on its images: -log D(G(z)) (non-saturating) or -D(G(z))."""
    if loss in ("wgan-gp", "hinge"):
        return -fake_scores.mean()
    return F.softplus(-fake_scores).mean()


def most_realistic(fake_scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """The highest ``fraction`` of D's scores (N,) on a generated batch: top-k training (Sinha et al. 2020,
    https://arxiv.org/abs/2002.06224) updates G only through the images D finds most realistic, so the ones
    stuck between two digits stop pulling the generator towards them."""
    return fake_scores.topk(max(1, round(fraction * len(fake_scores)))).values


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's penalty: mean (|grad_x critic(x)| - 1)^2 at random points between real and fake images (N, 1, 28, 28)."""
    eps = torch.rand(len(real), 1, 1, 1, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), [mixed], create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


@torch.no_grad()
def recalibrate_batch_norm(generator: nn.Module, latent_dim: int, n: int, seed: int, batch_size: int = 256) -> None:
    """Replace the running statistics of ``generator``'s batch norms by their averages over ``n`` fresh samples."""
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average
    noise = torch.Generator().manual_seed(seed)
    generator.train()
    device = next(generator.parameters()).device
    for i in range(0, n, batch_size):
        generator(torch.randn(min(batch_size, n - i), latent_dim, generator=noise).to(device))
    generator.eval()
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


class GANTask(Task):
    def __init__(self, config: GANConfig, args: argparse.Namespace, ctx: Context):
        model = GAN(config).to(ctx.device)
        generator = copy.deepcopy(model.generator)  # the one trained; model.generator is its average
        model.generator.eval().requires_grad_(False)
        optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=args.lr, betas=args.betas),
            "discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=args.lr, betas=args.betas),
        }
        if model.encoder is not None:
            optimizers["encoder"] = torch.optim.Adam(model.encoder.parameters(), lr=1e-3)
        super().__init__(name="gan", modules={"gan": model, "generator": generator}, optimizers=optimizers)
        self.model, self.config, self.args, self.ctx = model, config, args, ctx
        self.g, self.d = ctx.wrap(generator), ctx.wrap(model.discriminator)
        self.e = ctx.wrap(model.encoder) if model.encoder is not None else None
        self.recalibration_samples = 256 if args.dry_run else RECALIBRATION_SAMPLES
        self.fixed_noise = torch.randn(GRID_SIZE, config.latent_dim,
                                       generator=torch.Generator().manual_seed(args.seed)).to(ctx.device)

    def adopt(self, model: GAN) -> None:
        self.model.load_state_dict(model.state_dict())
        self.modules["generator"].load_state_dict(model.generator.state_dict())  # trained on from the average

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, device=self.ctx.device)

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        loss, wgan = self.config.loss, self.config.loss == "wgan-gp"
        opt_d, opt_g = self.optimizers["discriminator"], self.optimizers["generator"]
        if self.args.decay_from is not None:
            set_learning_rate(hold_then_linear(self.args.lr, step, self.args.decay_from * self.total_steps //
                                               self.args.epochs, self.total_steps), opt_d, opt_g)
        totals: dict[str, float] = {}
        chunks = x.chunk(self.args.n_critic)
        told = self.config.digit_code  # D is told the digits: the labels of real images, the codes' of fakes
        labels = y.chunk(self.args.n_critic) if told else [None] * len(chunks)
        for i, (real, digits) in enumerate(zip(chunks, labels)):
            last = i == len(chunks) - 1  # its generated batch also serves the generator's update
            z = self.noise(len(real))
            asked = code_digits(z) if told else None
            with torch.set_grad_enabled(last), self.ctx.autocast():
                fake = self.g(z).float()
            with self.ctx.autocast():
                real_scores = self.d(real, digits).float()
                fake_scores = self.d(fake.detach(), asked).float()
            d_loss = discriminator_loss(real_scores, fake_scores, loss)
            numbers = {"d_loss": d_loss.item()}
            if wgan:
                penalty = gradient_penalty(self.d, real, fake.detach())
                d_loss = d_loss + self.args.gp_weight * penalty
                numbers.update(d_loss=d_loss.item(), wasserstein=(real_scores.mean() - fake_scores.mean()).item(),
                               gradient_penalty=penalty.item())
            scores = loss != "nonsaturating"  # raw scores; the non-saturating loss's logits read as probabilities
            real_out, fake_out = (real_scores, fake_scores) if scores else (real_scores.sigmoid(), fake_scores.sigmoid())
            numbers.update(d_real=real_out.mean().item(), d_fake=fake_out.mean().item())
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            for key, value in numbers.items():
                totals[key] = totals.get(key, 0.0) + value / len(chunks)

        # The generator's update goes through the plain discriminator with its weights frozen: no gradients
        # are computed for them, and DDP does not wait for gradients the discriminator will not get.
        self.model.discriminator.requires_grad_(False)
        with self.ctx.autocast():
            fake_scores = self.model.discriminator(fake, asked).float()  # through D's weights as they are now
            g_loss = generator_loss(most_realistic(fake_scores, self.args.top_k), loss)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        self.model.discriminator.requires_grad_(True)
        update_average(self.model.generator, self.modules["generator"], self.args.ema, step)
        totals["g_loss"] = g_loss.item()
        if self.e is not None:
            totals["encoder_loss"] = self.encoder_step(max(1, len(chunks[0]) // 2))
        self.log(**totals)
        return {k: totals[k] for k in ("d_loss", "g_loss", "d_real", "d_fake")}

    def encoder_step(self, n: int) -> float:
        """One regression step of the encoder from G(z) to z, on fresh codes and the averaged generator."""
        z = self.noise(n)
        with torch.no_grad(), self.ctx.autocast():
            images = self.model.generator(z).float()
        with self.ctx.autocast():
            loss = F.mse_loss(self.e(images).float(), z)
        opt = self.optimizers["encoder"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    @torch.no_grad()
    def end_epoch(self, epoch: int) -> None:
        recalibrate_batch_norm(self.model.generator, self.config.latent_dim, self.recalibration_samples, seed=epoch)
        grid = (self.model.generator(self.fixed_noise) * 255).round().to(torch.uint8).squeeze(1).cpu()  # (64, 28, 28)
        # Row ``epoch`` is replaced, not appended: a run stopped mid-epoch and resumed renders that epoch again.
        previous = self.artifacts.get("epoch_grids", torch.empty(0, GRID_SIZE, 28, 28, dtype=torch.uint8))
        self.artifacts["epoch_grids"] = torch.cat([previous[:epoch], grid[None]])

    def evaluate(self, test_x: torch.Tensor, test_y: torch.Tensor) -> dict[str, float]:
        """How closely the generator can reproduce test digits: inversion error (pixel MSE) on 256 of each kind."""
        n = 32 if self.args.dry_run else 256
        nines = load_mnist("test").held_out().as_float(self.ctx.device)[:n]
        seen = test_x[:n]
        metrics = {"invert_mse_digits_0_8": self.model.invert(seen)[2].mean().item(),
                   "invert_mse_digit_9": self.model.invert(nines)[2].mean().item()}
        if self.model.encoder is not None:
            metrics["first_guess_mse_digits_0_8"] = self.model.invert(seen, steps=0)[2].mean().item()
        return {k: round(v, 5) for k, v in metrics.items()}


TASK = GANTask  # this kind's trainer, for tools that drive any kind's training step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m explorer train gan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = GANConfig()
    parser.add_argument("--loss", choices=LOSSES, default=defaults.loss)
    parser.add_argument("--latent-dim", type=int, default=defaults.latent_dim)
    parser.add_argument("--g-width", type=int, default=defaults.g_width)
    parser.add_argument("--g-blocks", type=int, default=defaults.g_blocks,
                        help="extra 3x3 convolutions in the generator at each resolution")
    parser.add_argument("--d-width", type=int, default=defaults.d_width)
    parser.add_argument("--e-width", type=int, default=defaults.e_width, help="first-guess encoder width; 0: none")
    parser.add_argument("--n-critic", type=int, default=None,
                        help="discriminator updates per generator update (default: 5 for wgan-gp, else 1)")
    parser.add_argument("--gp-weight", type=float, default=10.0, help="WGAN-GP's penalty weight lambda")
    parser.add_argument("--ema", type=float, default=0.999, help="decay of the generator average (0: no averaging)")
    parser.add_argument("--top-k", type=float, default=1.0, metavar="FRACTION",
                        help="update G through this fraction of its batch, the images D scores highest (1: all)")
    parser.add_argument("--digit-code", action="store_true",
                        help="tell D each image's digit (a code's: the largest of its first nine coordinates), so G "
                             "learns to draw the digit its code names")
    parser.add_argument("--digit-input", type=float, default=defaults.digit_input, metavar="TEMPERATURE",
                        help="with --digit-code: G also sees its code's digit, softmax(z[:9] / TEMPERATURE) (0: not)")
    parser.add_argument("--decay-from", type=int, default=None, metavar="EPOCH",
                        help="hold the learning rates until this epoch, then take them linearly to zero at the last step")
    add_common_args(parser, epochs=20, batch_size=64, lr=None)
    args = parse(parser, argv)
    if args.digit_code and args.loss == "wgan-gp":
        parser.error("--digit-code needs --loss hinge or nonsaturating: WGAN-GP's penalty is taken without digits")
    if args.digit_input < 0 or (args.digit_input and not args.digit_code):
        parser.error("--digit-input is a positive temperature and needs --digit-code")
    if not 0 < args.top_k <= 1:
        parser.error(f"--top-k is a fraction of the batch in (0, 1], not {args.top_k}")
    default_lr, args.betas = OPTIMIZER_DEFAULTS[args.loss]
    args.lr = args.lr or default_lr
    args.n_critic = args.n_critic or (5 if args.loss == "wgan-gp" else 1)
    if args.dry_run:
        args.latent_dim, args.g_width, args.d_width, args.e_width = 16, 8, 8, min(args.e_width, 8)
        args.batch_size, args.steps = 16, args.steps or 30
    args.batch_size *= args.n_critic  # the loop's batch: one real batch per discriminator update
    config = GANConfig(latent_dim=args.latent_dim, g_width=args.g_width, g_blocks=args.g_blocks, d_width=args.d_width,
                       e_width=args.e_width, loss=args.loss, digit_code=args.digit_code,
                       digit_input=args.digit_input)
    ctx = make_context(args)
    fit(GANTask(config, args, ctx), args, ctx)


if __name__ == "__main__":
    main()
