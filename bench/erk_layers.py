#!/usr/bin/env python3
"""ERK densities of ResNet-50's conv and fc layers, and what they leave a sparse step.

Computes ERK (ALGORITHMS.md: density proportional to (sum of the weight's dims) /
(its element count), layers that would exceed 1 kept dense and the rest rescaled) over
torchvision's resnet50, independently of sprout, and each layer's multiply-adds per
image. Layers above --dense-above (sprout's sparsity.dense_compute_above) are computed
densely by sprout, so they cost their dense FLOPs whatever their density. Prints the
FLOP ratio, and the weight layers' work when those layers cost their dense FLOPs: the
least a step's weight layers can cost against dense, with every kernel at the dense
library's rate.

  /usr/bin/python3 bench/erk_layers.py --density 0.1
"""
import argparse

import torch
import torchvision


def layer_table():
    model = torchvision.models.resnet50()
    out_shapes, hooks = {}, []
    for name, mod in model.named_modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            hooks.append(mod.register_forward_hook(lambda m, i, o, n=name: out_shapes.__setitem__(n, o.shape)))
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    rows = []
    for name, mod in model.named_modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            w = mod.weight
            o = out_shapes[name]
            columns = o[2] * o[3] if len(o) == 4 else 1
            rows.append((name, w.numel(), sum(w.shape) / w.numel(), w.numel() * columns))
    return rows


def erk(rows, density):
    total = sum(r[1] for r in rows)
    dense = set()
    while True:
        budget = density * total - sum(r[1] for r in rows if r[0] in dense)
        eps = budget / sum(r[2] * r[1] for r in rows if r[0] not in dense)
        over = {r[0] for r in rows if r[0] not in dense and eps * r[2] > 1}
        if not over:
            return {r[0]: 1.0 if r[0] in dense else eps * r[2] for r in rows}
        dense |= over


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--dense-above", type=float, default=0.3)
    ap.add_argument("--layers", action="store_true", help="print every layer")
    args = ap.parse_args()
    rows = layer_table()
    d = erk(rows, args.density)
    dense_macs = sum(r[3] for r in rows)
    sparse_macs = sum(r[3] * d[r[0]] for r in rows)
    high = [r for r in rows if d[r[0]] > args.dense_above]
    floor = sum(r[3] for r in high) + sum(r[3] * d[r[0]] for r in rows if d[r[0]] <= args.dense_above)
    print("ERK %.3f over %d layers: FLOP ratio %.4f" % (args.density, len(rows), sparse_macs / dense_macs))
    print("%d layers above %.2f: %.3f of the dense FLOPs, %.3f of the sparse ones" %
          (len(high), args.dense_above, sum(r[3] for r in high) / dense_macs,
           sum(r[3] * d[r[0]] for r in high) / sparse_macs))
    print("weight layers' work with those computed densely: %.4f of dense" % (floor / dense_macs))
    if args.layers:
        for name, numel, _, macs in rows:
            print("  %-24s density %.3f  %8.1fM multiply-adds per image" % (name, d[name], macs / 1e6))


if __name__ == "__main__":
    main()
