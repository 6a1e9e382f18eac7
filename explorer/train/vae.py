"""Train the VAE on dynamically binarized digits 0-8: Bernoulli reconstruction plus beta-weighted KL.

    python -m explorer train vae --name vae --latent-dim 16 --epochs 12 --lr 1.5e-3 --warmup-epochs 1
    python -m explorer train vae --name vae2 --latent-dim 2 --channels 16 32 --hidden 128 --epochs 14 --lr 2e-3

Each step draws a fresh binarization x ~ Bernoulli(image), which regularises far better than a fixed one.
beta can be warmed up linearly from 0 over ``--warmup-epochs`` (seed 001), which keeps early training from
collapsing latent dimensions; the learning rate follows a cosine decay to zero.
"""

from __future__ import annotations

import argparse

import torch

from ..metrics import binarize, vae_negative_elbo
from ..models.vae import VAE, VAEConfig
from .loop import Context, Task, add_common_args, fit, make_context, parse, set_learning_rate
from .schedules import cosine, linear_warmup


class VAETask(Task):
    def __init__(self, config: VAEConfig, args: argparse.Namespace, ctx: Context):
        model = VAE(config).to(ctx.device)
        super().__init__(name="vae", modules={"vae": model},
                         optimizers={"adam": torch.optim.Adam(model.parameters(), lr=args.lr)})
        self.model, self.net, self.ctx, self.args, self.config = model, ctx.wrap(model), ctx, args, config

    def beta(self, step: int) -> float:
        steps_per_epoch = self.total_steps / max(1, self.args.epochs)
        return linear_warmup(self.config.beta, step, round(self.config.warmup_epochs * steps_per_epoch))

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        opt = self.optimizers["adam"]
        set_learning_rate(cosine(self.args.lr, step, self.total_steps), opt)
        x = torch.bernoulli(x)
        with self.ctx.autocast():
            logits, mu, logvar = self.net(x)
        recon, kl = (term / len(x) for term in VAE.elbo_terms(logits, x, mu, logvar))
        loss = recon + self.beta(step) * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.log(loss=loss.item(), recon=recon.item(), kl=kl.item())
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    def evaluate(self, test_x: torch.Tensor, test_y: torch.Tensor) -> dict[str, float]:
        """The plain (beta = 1) negative ELBO on a fixed binarization; ``explorer evaluate`` adds the IWAE bound."""
        return {"test_neg_elbo_nats_digits_0_8": round(vae_negative_elbo(self.model, binarize(test_x, seed=0)), 3)}


TASK = VAETask  # this kind's trainer, for tools that drive any kind's training step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m explorer train vae", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = VAEConfig()
    parser.add_argument("--latent-dim", type=int, default=defaults.latent_dim)
    parser.add_argument("--channels", type=int, nargs=2, default=list(defaults.channels), metavar=("C1", "C2"))
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--beta", type=float, default=defaults.beta, help="weight of the KL term (1: the ELBO)")
    parser.add_argument("--warmup-epochs", type=int, default=defaults.warmup_epochs,
                        help="ramp beta linearly from 0 over this many epochs")
    add_common_args(parser, epochs=12, batch_size=128, lr=1.5e-3)
    args = parse(parser, argv)
    if args.dry_run:
        args.channels, args.hidden, args.steps = [8, 16], 32, args.steps or 30
    config = VAEConfig(latent_dim=args.latent_dim, channels=tuple(args.channels), hidden=args.hidden,
                       beta=args.beta, warmup_epochs=args.warmup_epochs)
    ctx = make_context(args)
    fit(VAETask(config, args, ctx), args, ctx)


if __name__ == "__main__":
    main()
