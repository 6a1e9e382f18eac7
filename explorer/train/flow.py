"""Train the flow by maximum likelihood on dequantized digits 0-8 (bits/dim is the loss).

    python -m explorer train flow --epochs 30 --steps-per-level 8 --hidden-channels 128
"""

from __future__ import annotations

import argparse
import math

import torch

from ..data import HELD_OUT_DIGIT, load_mnist
from ..metrics import mean_bits_per_dim
from ..models.flow import IMAGE_DIM, Flow, FlowConfig
from .loop import Context, Task, add_common_args, fit, make_context, parse, set_learning_rate
from .schedules import warmup_cosine

WARMUP_STEPS = 500


class FlowTask(Task):
    def __init__(self, config: FlowConfig, args: argparse.Namespace, ctx: Context, first_batch: torch.Tensor):
        model = Flow(config).to(ctx.device)
        model.initialize(first_batch)  # ActNorm's data-dependent init, before DDP copies rank 0's weights
        super().__init__(name="flow", modules={"flow": model},
                         optimizers={"adam": torch.optim.Adam(model.parameters(), lr=args.lr)})
        self.model, self.net, self.ctx, self.args = model, ctx.wrap(model), ctx, args

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        opt = self.optimizers["adam"]
        lr = set_learning_rate(warmup_cosine(self.args.lr, step - self.cycle_start, self.total_steps - self.cycle_start,
                                             WARMUP_STEPS), opt)
        noise = torch.rand_like(x)
        with self.ctx.autocast():
            z, log_det = self.net(Flow.dequantize(x, noise=noise))
        bpd = -Flow.log_prob_from(z.float(), log_det.float()).mean() / (IMAGE_DIM * math.log(2))
        opt.zero_grad(set_to_none=True)
        bpd.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 100.0)
        opt.step()
        self.log(bpd=bpd.item(), grad_norm=grad_norm.item(), lr=lr)
        return {"bpd": bpd.item()}

    def evaluate(self, test_x: torch.Tensor, test_y: torch.Tensor) -> dict[str, float]:
        nines = load_mnist("test").held_out().as_float(self.ctx.device)
        return {"test_bpd_digits_0_8": round(mean_bits_per_dim(self.model, test_x), 4),
                f"test_bpd_digit_{HELD_OUT_DIGIT}": round(mean_bits_per_dim(self.model, nines), 4)}



TASK = FlowTask  # this kind's trainer, for tools that drive any kind's training step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m explorer train flow", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = FlowConfig()
    parser.add_argument("--steps-per-level", type=int, default=defaults.steps_per_level)
    parser.add_argument("--hidden-channels", type=int, default=defaults.hidden_channels)
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--coupling", choices=("plain", "gated"), default=defaults.coupling)
    parser.add_argument("--blocks", type=int, default=defaults.blocks)
    add_common_args(parser, epochs=30, batch_size=64, lr=1e-3)
    args = parse(parser, argv)
    if args.dry_run:
        args.steps_per_level, args.hidden_channels, args.steps = 2, 16, args.steps or 30
    config = FlowConfig(steps_per_level=args.steps_per_level, hidden_channels=args.hidden_channels, alpha=args.alpha,
                        coupling=args.coupling, blocks=args.blocks)
    ctx = make_context(args)
    first = load_mnist("train").seen().as_float(ctx.device)[:512]
    fit(FlowTask(config, args, ctx, first), args, ctx)


if __name__ == "__main__":
    main()
