"""The shared training loop's options reach the modules a training step calls."""

import argparse

import torch

from explorer.train.loop import _unwrap, make_context


def context(**options):
    args = argparse.Namespace(device="cpu", seed=0, amp=False, compile=False)
    vars(args).update(options)
    return make_context(args)


def test_compile_option_compiles_what_the_step_calls_and_leaves_the_module_plain():
    module = torch.nn.Linear(3, 2)
    compiled = context(compile=True).wrap(module)
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule) and _unwrap(compiled) is module
    assert context().wrap(module) is module
