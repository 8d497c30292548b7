"""Forward + backward time and GFLOP/s of each convolution of a card, per torch formulation.

This is the measurement behind ``ganzoo_torch.builder.speed_up_for``: for every conv /
transposed-conv layer of a card's networks it times, on the CPU, the layer as the plain build
computes it (NCHW), in channels-last memory, and (stride-1 transposes) as a convolution with
the flipped kernel, at the recipe's batch size, input gradients included as in training.

    python benchmarks/torch_conv_layers.py                     # dcgan seed000, combined seed001
    python benchmarks/torch_conv_layers.py --cards dcgan:seed000 --repeats 7 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from ganzoo.cards import builtin_cards
from ganzoo_torch.builder import build_network
from ganzoo_torch.layers import SameConv2d, SameConvTranspose2d


def layer_flops(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Multiply-adds x2 of one forward (the same count for a conv and its transpose)."""
    k = module.kernel_size[0] * module.kernel_size[1]
    if isinstance(module, SameConvTranspose2d):  # every input pixel meets the whole kernel
        return 2.0 * x.numel() * module.out_channels * k
    return 2.0 * y.numel() * module.in_channels * k


def time_layer(module: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of forward + backward (input and weight gradients)."""
    x = x.detach().requires_grad_()
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        y = module(x)
        y.backward(torch.ones_like(y))
        if i:  # the first call warms oneDNN's primitive cache
            times.append(time.perf_counter() - start)
        module.zero_grad(set_to_none=True)
    return statistics.median(times)


def variants(module: torch.nn.Module) -> dict[str, tuple[torch.nn.Module, bool]]:
    """Formulations to time: name -> (module, channels-last input)."""
    out = {"nchw": (module, False)}
    out["channels_last"] = (copy.deepcopy(module).to(memory_format=torch.channels_last), True)
    if isinstance(module, SameConvTranspose2d) and module.can_compute_as_conv():
        as_conv = copy.deepcopy(module)
        as_conv.compute_as_conv = True
        out["as_conv_nchw"] = (as_conv, False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", default="dcgan:seed000,combined:seed001")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cards = {c.family: c for c in builtin_cards()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          "ms = median forward + backward")
    print(f"{'layer':34s} {'formulation':14s} {'ms':>8s} {'GFLOP/s':>8s}")
    for item in args.cards.split(","):
        family, recipe_name = item.split(":")
        recipe = cards[family].recipe(recipe_name)
        for net_name in ("generator", "discriminator"):
            spec = getattr(recipe, net_name)
            net = build_network(spec)
            x = torch.randn(recipe.batch_size, *spec.input_shape)
            if spec.label is not None and spec.label.mode == "concat":
                # a conditional generator's layers see [z, embed(y)]: only the width matters
                x = torch.randn(recipe.batch_size, spec.input_shape[0] + spec.label.dim)
            if x.dim() == 4:
                x = x.permute(0, 3, 1, 2).contiguous()
            for index, module in enumerate(net):
                if isinstance(module, SameConv2d | SameConvTranspose2d):
                    with torch.no_grad():
                        y = module(x)
                    flops = 3 * layer_flops(module, x, y)  # forward + two backward products
                    label = (f"{family} {net_name[0].upper()}[{index}] "
                             f"{module.in_channels}->{module.out_channels} s{module.stride[0]}")
                    for name, (variant, cl) in variants(module).items():
                        xin = x.contiguous(memory_format=torch.channels_last) if cl else x
                        seconds = time_layer(variant, xin, args.repeats)
                        print(f"{label:34s} {name:14s} {seconds * 1e3:8.1f} "
                              f"{flops / seconds / 1e9:8.1f}")
                with torch.no_grad():
                    x = module(x)


if __name__ == "__main__":
    main()
