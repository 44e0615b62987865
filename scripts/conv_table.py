#!/usr/bin/env python3
"""Turns `sprout bench conv --json FILE` into a Markdown table: one row per ResNet-50
convolution shape and density, dense beside im2col + SpMM, the direct (unfolding-free)
product and the path sprout takes, forward and backward in milliseconds, each sparse
time's speedup over dense beside the ideal (the FLOP ratio).
Usage: python3 scripts/conv_table.py conv.json > conv.md
"""
import json
import sys


def ms(v):
    return "" if v is None else f"{v:.2f}"


def ratio(dense, sparse):
    return "" if not sparse else f"{dense / sparse:.2f}x"


def main():
    with open(sys.argv[1]) as f:
        bench = json.load(f)
    print(f"batch {bench['batch']}, device {bench['device']}; times in ms (median), speedup = dense / sparse\n")
    print("| shape | density | dense fwd | dense bwd | im2col fwd | im2col bwd | direct fwd | direct bwd "
          "| sprout fwd | sprout bwd | sprout speedup fwd / bwd | ideal |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in bench["rows"]:
        df, db = row["dense_forward_ms"], row["dense_backward_ms"]
        for s in row["sparse"]:
            uf, ub = s.get("unfold_forward_ms"), s.get("unfold_backward_ms")
            jf, jb = s.get("implicit_forward_ms"), s.get("implicit_backward_ms")
            same = uf is None  # the path sprout takes is the only one (1x1, stride 1)
            print(f"| {row['shape']} | {s['density']:.3f} | {ms(df)} | {ms(db)} | "
                  f"{'same' if same else ms(uf)} | {'same' if same else ms(ub)} | "
                  f"{'same' if same else ms(jf)} | {'same' if same else ms(jb)} | "
                  f"{ms(s['forward_ms'])} | {ms(s['backward_ms'])} | "
                  f"{ratio(df, s['forward_ms'])} / {ratio(db, s['backward_ms'])} | {s['ideal_speedup']:.1f}x |")


if __name__ == "__main__":
    main()
