"""Train the flow by maximum likelihood on dequantized digits 0-8 (bits/dim is the loss).

    python -m explorer train flow --epochs 30 --steps-per-level 8 --hidden-channels 128
    python -m explorer train flow ... --epochs 31 --continue-checkpoint --dequantizer 32 --freeze-flow
    python -m explorer train flow --coupling gated ... --epochs 36 --continue-checkpoint --grow-steps 4 --grow-hidden 64

The second trains a learned dequantizer (``models.flow.Dequantizer``) for one more epoch on the trained flow,
which stays as it is; without ``--freeze-flow`` the flow trains on the dequantizer's draws with it, as in Flow++.
Continued with ``--dequantizer 0``, a flow trains on uniform noise again and its dequantizer is dropped.
The third grows a trained flow of gated couplings by 4 steps at the end of level 2, nets 64 wide, each starting as
the identity, and trains all of it; later runs of that flow repeat the two options.

    python -m explorer train flow ... --epochs 99 --continue-checkpoint --prior 10

gives a trained flow a mixture of 10 Gaussians as level 2's prior, fitted by EM to the training digits' codes (with
--epochs at the checkpoint's, that fit is all the run does; more epochs then train the flow and its prior together).
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn

from ..data import HELD_OUT_DIGIT, load_mnist
from ..fewshot import flow_lower, flow_upper
from ..metrics import mean_bits_per_dim
from ..models.flow import HALF, IMAGE_DIM, Flow, FlowConfig
from .loop import Context, Task, add_common_args, fit, make_context, parse, set_learning_rate
from .schedules import warmup_cosine

WARMUP_STEPS = 500


class Dequantized(nn.Module):
    """The flow on dequantized images, as one module so DDP sees the flow, its prior and its dequantizer in one
    forward: images (N, 1, 28, 28) -> the bound log p(x + u) - log q(u | x) (N,) in nats (q = 1 for uniform u)."""

    def __init__(self, flow: Flow):
        super().__init__()
        self.flow = flow

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.flow.dequantizer is None:
            noise, log_q = torch.rand_like(x), torch.zeros(len(x), device=x.device)
        else:
            noise, log_q = self.flow.dequantizer(x, torch.randn_like(x))
        z, log_det = self.flow(Flow.dequantize(x, noise=noise))
        with torch.autocast(x.device.type, enabled=False):  # the prior and the sum stay float32
            return self.flow.log_prob_from(z.float(), log_det.float()) - log_q


class FlowTask(Task):
    def __init__(self, config: FlowConfig, args: argparse.Namespace, ctx: Context, first_batch: torch.Tensor):
        model = Flow(config).to(ctx.device)
        model.initialize(first_batch)  # ActNorm's data-dependent init, before DDP copies rank 0's weights
        if args.freeze_flow:
            model.requires_grad_(False).dequantizer.requires_grad_(True)
        trained = [p for p in model.parameters() if p.requires_grad]
        super().__init__(name="flow", modules={"flow": model}, optimizers={"adam": torch.optim.Adam(trained, lr=args.lr)})
        self.model, self.net, self.ctx, self.args = model, ctx.wrap(Dequantized(model)), ctx, args

    def adopt(self, model: Flow) -> None:
        # A checkpoint continues into a task that adds a dequantizer (the new one keeps its start) or drops one
        # (--dequantizer 0 trains the flow on uniform noise again; a dequantizer is then trained for the new flow).
        own = self.model.state_dict()
        kept = {k: v for k, v in model.state_dict().items() if k in own or not k.startswith("dequantizer.")}
        self.model.load_state_dict({**own, **kept})  # any other key that does not fit still fails the load

    def prepare(self, train_x: torch.Tensor) -> None:
        """A level-2 mixture prior the weights do not have yet is fitted by EM to the training digits' codes (seeded
        uniform dequantization): the flow's likelihood and samples start from where the digits' codes lie."""
        prior = self.model.prior
        if prior is None or prior.initialized:
            return
        codes = flow_upper(self.model, *flow_lower(self.model, train_x, self.args.seed))[0]
        prior.fit(codes[:, HALF:], seed=self.args.seed)

    def step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        opt = self.optimizers["adam"]
        lr = set_learning_rate(warmup_cosine(self.args.lr, step - self.cycle_start, self.total_steps - self.cycle_start,
                                             WARMUP_STEPS), opt)
        with self.ctx.autocast():
            bpd = -self.net(x).mean() / (IMAGE_DIM * math.log(2))
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
    parser.add_argument("--dequantizer", type=int, default=defaults.dequantizer_channels, metavar="CHANNELS",
                        help="learn the dequantization with a net this wide (0: uniform)")
    parser.add_argument("--freeze-flow", action="store_true", help="train only the dequantizer")
    parser.add_argument("--grow-steps", type=int, default=defaults.grown_steps,
                        help="steps appended to level 2, starting as the identity")
    parser.add_argument("--grow-hidden", type=int, default=defaults.grown_hidden_channels, metavar="CHANNELS",
                        help="width of the appended steps' nets")
    parser.add_argument("--prior", type=int, default=defaults.prior_components, metavar="COMPONENTS",
                        help="level 2's prior: a mixture of this many full-covariance Gaussians, fitted by EM to the "
                             "training digits' codes where the weights have none, then trained with the flow "
                             "(0: N(0, I))")
    add_common_args(parser, epochs=30, batch_size=64, lr=1e-3)
    args = parse(parser, argv)
    if args.dry_run:
        args.steps_per_level, args.hidden_channels, args.steps = 2, 16, args.steps or 30
    config = FlowConfig(steps_per_level=args.steps_per_level, hidden_channels=args.hidden_channels, alpha=args.alpha,
                        coupling=args.coupling, blocks=args.blocks, dequantizer_channels=args.dequantizer,
                        grown_steps=args.grow_steps, grown_hidden_channels=args.grow_hidden,
                        prior_components=args.prior)
    if args.freeze_flow and not args.dequantizer:
        parser.error("--freeze-flow trains the dequantizer alone: give --dequantizer CHANNELS")
    if args.grow_steps and (args.grow_hidden < 1 or args.coupling != "gated"):
        parser.error("--grow-steps needs the new steps' width (--grow-hidden CHANNELS) and --coupling gated, "
                     "whose steps start as the identity")
    ctx = make_context(args)
    first = load_mnist("train").seen().as_float(ctx.device)[:512]
    fit(FlowTask(config, args, ctx, first), args, ctx)


if __name__ == "__main__":
    main()
