"""Train the continuous flow by conditional flow matching on dequantized digits 0-8.

    python -m explorer train cnf --epochs 20 --amp
    python -m explorer train cnf --name cnf-guide --channels 16 --blocks 1 --epochs 8 --amp   # a small, brief field
    python -m explorer train cnf --attach-guide cnf-guide --guidance 2   # cnf follows it with autoguidance

Each step draws codes x0 ~ N(0, I) and times t ~ U(0, 1) for a batch of images x1 and regresses the velocity field
at x_t = (1 - t) x0 + t x1 onto x1 - x0. The checkpoint holds an exponential moving average of the weights, which
gives cleaner samples than the last step's.

``--attach-guide GUIDE`` trains nothing: the checkpoint ``--name`` in ``--out`` gets checkpoint GUIDE's field as its
autoguidance guide with weight ``--guidance`` (``explorer.models.cnf``), and its card adds the guide's runs. A guided
checkpoint continued with ``--continue-checkpoint`` keeps its guide; only its own field trains.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

from .. import checkpoints
from ..data import HELD_OUT_DIGIT, load_mnist
from ..metrics import mean_bits_per_dim
from ..models.cnf import CNF, CNFConfig
from ..models.flow import Flow
from .loop import (Context, Task, add_common_args, fit, hardware_so_far, make_context, parse, set_learning_rate,
                   update_average)
from .schedules import warmup_cosine

WARMUP_STEPS = 500
EVAL_IMAGES = 500  # test images whose bits/dim the card gets; ``python -m explorer evaluate`` measures all


class CNFTask(Task):
    """Trains one velocity field; a guide, where the continued checkpoint has one, rides along untrained and ships
    with the weights."""

    def __init__(self, config: CNFConfig, args: argparse.Namespace, ctx: Context, guide: CNF | None = None):
        average = CNF(config).to(ctx.device)
        trained = copy.deepcopy(average)
        super().__init__(name="cnf", modules={"cnf": trained, "average": average},
                         optimizers={"adam": torch.optim.Adam(trained.parameters(), lr=args.lr)})
        self.model, self.net, self.ctx, self.args, self.guide = average, ctx.wrap(trained), ctx, args, guide

    def shipped(self) -> CNF:
        if self.guide is not None:
            guide = self.guide.config
            self.model.attach_guide(self.guide.guide, guide.guide_channels, guide.guide_blocks, guide.guidance)
        return self.model

    def adopt(self, model: CNF) -> None:
        for module in (self.model, self.modules["cnf"]):
            module.velocity.load_state_dict(model.velocity.state_dict())
            if module.guide is not None and model.guide is not None:
                module.guide.load_state_dict(model.guide.state_dict())

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        opt = self.optimizers["adam"]
        lr = set_learning_rate(warmup_cosine(self.args.lr, step - self.cycle_start, self.total_steps - self.cycle_start,
                                             WARMUP_STEPS), opt)
        x1 = CNF.to_data(Flow.dequantize(x, noise=torch.rand_like(x)))
        x0, t = torch.randn_like(x1), torch.rand(len(x1), device=x1.device)
        with self.ctx.autocast():
            loss = self.net(x1, x0, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        update_average(self.model, self.modules["cnf"], self.args.ema, step)
        self.log(loss=loss.item(), lr=lr)
        return {"loss": loss.item()}

    def evaluate(self, test_x: torch.Tensor, test_y: torch.Tensor) -> dict[str, float]:
        n = 50 if self.args.dry_run else EVAL_IMAGES  # a dry run checks the wiring in seconds
        nines = load_mnist("test").held_out().as_float(self.ctx.device)
        matched = test_x[:500] if self.args.dry_run else test_x
        metrics = {"test_matching_loss_digits_0_8": round(matching_loss(self.model, matched), 5)}  # the field alone
        for key, images in (("test_bpd_digits_0_8", test_x), (f"test_bpd_digit_{HELD_OUT_DIGIT}", nines)):
            metrics[key] = round(mean_bits_per_dim(self.model, images[:n]), 4)
        metrics["bpd_images"] = n
        return metrics


@torch.no_grad()
def matching_loss(model: CNF, images: torch.Tensor, seed: int = 0, batch_size: int = 500) -> float:
    """The flow-matching loss on ``images`` with seeded codes and times: a held-out number that needs no solver."""
    generator, total = torch.Generator().manual_seed(seed), 0.0
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        x1 = CNF.to_data(Flow.dequantize(x, generator))
        x0 = torch.randn(x1.shape, generator=generator).to(x1.device)
        t = torch.rand(len(x1), generator=generator).to(x1.device)
        total += model(x1, x0, t).item() * len(x)
    return total / len(images)


TASK = CNFTask  # this kind's trainer, for tools that drive any kind's training step


def continued_guide(args: argparse.Namespace) -> CNF | None:
    """The checkpoint that ``--continue-checkpoint`` continues, where it follows a guide (read again when the run
    resumes from its snapshot, since the checkpoint is only replaced at the end)."""
    name = args.name or "cnf"
    if not args.continue_checkpoint or name not in checkpoints.available(args.out):
        return None
    model = checkpoints.load(name, args.out).model
    return model if model.guide is not None else None


def attach_guide(args: argparse.Namespace) -> Path:
    """``--attach-guide``: checkpoint ``--name`` follows checkpoint ``args.attach_guide``'s field with weight
    ``args.guidance``; its card names the guide's runs and keeps only the metrics the guide leaves true."""
    name = args.name or "cnf"
    main, guide = checkpoints.load(name, args.out), checkpoints.load(args.attach_guide, args.out)
    model, guide_config = main.model, guide.model.config
    model.attach_guide(guide.model.velocity, guide_config.channels, guide_config.blocks, args.guidance)
    card = {k: v for k, v in main.card.items() if k not in ("format_version", "name", "kind", "config",
                                                            "weights_sha256", "history", "guide")}
    card.update(
        train_time_s=round(main.card["train_time_s"] + guide.card["train_time_s"], 1),
        hardware=hardware_so_far(main.card["hardware"], guide.card["hardware"]),
        command=" && ".join([main.card["command"], guide.card["command"], args.command]),
        metrics={k: v for k, v in main.card["metrics"].items() if k == "test_matching_loss_digits_0_8"},
        guide={k: guide.card[k] for k in ("name", "config", "epochs", "steps", "train_time_s", "hardware", "command")},
    )
    return checkpoints.save(model, card, name, args.out, history=checkpoints.load_history(main.card, args.out) or None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m explorer train cnf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = CNFConfig()
    parser.add_argument("--channels", type=int, default=defaults.channels)
    parser.add_argument("--blocks", type=int, default=defaults.blocks)
    parser.add_argument("--solver-steps", type=int, default=defaults.steps,
                        help="Runge-Kutta steps of encode and decode, stored in the config (changeable later)")
    parser.add_argument("--ema", type=float, default=0.999, help="decay of the weight average that ships")
    parser.add_argument("--attach-guide", metavar="GUIDE", help="train nothing: give checkpoint --name the field of "
                                                                "checkpoint GUIDE (in --out) as its guide")
    parser.add_argument("--guidance", type=float, default=2.0, help="autoguidance weight w for --attach-guide")
    add_common_args(parser, epochs=20, batch_size=128, lr=1e-3)
    args = parse(parser, argv)
    if args.attach_guide:
        print(f"wrote {attach_guide(args)}", file=sys.stderr)
        return
    if args.dry_run:
        args.channels, args.blocks, args.solver_steps, args.steps = 8, 1, 2, args.steps or 30
    config = CNFConfig(channels=args.channels, blocks=args.blocks, steps=args.solver_steps)
    ctx = make_context(args)
    fit(CNFTask(config, args, ctx, guide=continued_guide(args)), args, ctx)


if __name__ == "__main__":
    main()
