#!/usr/bin/env python3
"""Runs every sparse-training method on Fashion-MNIST (MLP 784-1000-1000-1000-10) at
densities 0.1, 0.05 and 0.01 (plus the dense baseline) and writes the table
docs/results/fashion-mnist.md: test accuracy, seconds per epoch, reached density, and
the parameter-side bytes (weights + indices + gradients + optimizer) beside the dense
equivalent. Seeds are the configs' train.seed (0) unless --seed is given.

Usage: scripts/fashion_results.py [--epochs 5] [--methods rigl,set,...] [--densities 0.1,0.05,0.01]
                                  [--binary build/bin/sprout] [--out runs/fashion] [--threads 2]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

METHODS = ["static", "set", "set_magnitude", "rigl", "granet", "gmp", "snip", "kstarts", "kstarts_dissipating",
           "dissipating", "polarize", "east"]


def density_sets(method, d):
    """The --set overrides that put a method at final density d."""
    if method == "kstarts_dissipating":
        return [f"sparsity.final_density={d}", f"sparsity.density={min(1.0, 2 * d)}"]
    if method in ("granet", "gmp", "dissipating"):
        return [f"sparsity.final_density={d}"] + ([f"sparsity.init_density={min(1.0, 5 * d)}"]
                                                  if method in ("granet", "dissipating") else [])
    if method == "east":
        return [f"sparsity.density={d}"]
    if method == "polarize":
        return []
    return [f"sparsity.density={d}"]


def run(binary, config, sets, out, threads):
    cmd = [binary, "train", "--config", config, "--device", "cpu", "--out", out, "--quiet",
           "--set", f"train.threads={threads}"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    s = json.load(open(os.path.join(out, "summary.json")))
    m = s["memory"]
    side = sum(m[k]["current_bytes"] for k in ("weights", "indices", "gradients", "optimizer"))
    de = m["dense_equivalent"]
    dense = de["weights_bytes"] + de["gradients_bytes"] + de["optimizer_bytes"]
    return {"test_accuracy": s["test_accuracy"], "density": s["density"],
            "seconds_per_epoch": s["time"]["seconds_per_epoch"],
            "samples_per_second": s["time"]["samples_per_second"],
            "param_side_bytes": side, "dense_param_side_bytes": dense, "wall_seconds": time.time() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--densities", default="0.1,0.05,0.01")
    ap.add_argument("--binary", default="build/bin/sprout")
    ap.add_argument("--out", default="runs/fashion")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--table", default="docs/results/fashion-mnist.md")
    args = ap.parse_args()
    results = {}
    common = [f"train.epochs={args.epochs}", f"train.seed={args.seed}"]
    r = run(args.binary, "configs/fashion_mlp_dense.json", common, f"{args.out}/dense", args.threads)
    results["dense"] = {"1.0": r}
    print("dense", json.dumps(r), flush=True)
    for d in args.densities.split(","):
        for method in args.methods.split(","):
            cfg = f"configs/fashion_{method}.json"
            if not os.path.exists(cfg):
                print(f"skip {method}: no {cfg}", flush=True)
                continue
            if method == "polarize" and d != args.densities.split(",")[0]:
                continue  # structured: its target is a unit fraction, not a weight density
            results.setdefault(method, {})
            r = run(args.binary, cfg, common + density_sets(method, float(d)), f"{args.out}/{method}_{d}", args.threads)
            results[method][d] = r
            print(method, d, json.dumps(r), flush=True)
            write_table(args, results)
    write_table(args, results)


def write_table(args, results):
    os.makedirs(args.out, exist_ok=True)
    json.dump(results, open(f"{args.out}/results.json", "w"), indent=1)
    dens = args.densities.split(",")
    lines = ["# Fashion-MNIST: sparse-training methods on the CPU", "",
             f"MLP 784-1000-1000-1000-10, {args.epochs} epochs, batch 128, SGD momentum 0.9, lr 0.05 cosine, "
             f"wd 5e-4, seed {args.seed}, {args.threads} threads on {platform.processor() or platform.machine()} "
             f"({os.cpu_count()} cores). Produced by `scripts/fashion_results.py --epochs {args.epochs}`.",
             "Each cell: test accuracy / seconds per epoch / reached density (over sparse layers) / "
             "parameter-side MiB (weights + indices + gradients + optimizer; dense equivalent in the header).", ""]
    d0 = results.get("dense", {}).get("1.0", {"error": "not run"})
    if "error" not in d0:
        lines.append(f"Dense baseline: accuracy {d0['test_accuracy']:.4f}, {d0['seconds_per_epoch']:.1f} s/epoch, "
                     f"{d0['param_side_bytes'] / 2**20:.2f} MiB parameter side.")
        lines.append("")
    lines.append("| method | " + " | ".join(f"density {d}" for d in dens) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in dens) + " |")
    for method, row in results.items():
        if method == "dense":
            continue
        cells = []
        for d in dens:
            r = row.get(d, {"error": "not run"})
            if method == "polarize" and d != dens[0]:
                cells.append("(structured: one run)" if d == dens[1] else "")
            elif "error" in r:
                cells.append("error: " + r["error"][:60])
            else:
                cells.append(f"{r['test_accuracy']:.4f} / {r['seconds_per_epoch']:.1f} s / {r['density']:.4f} / "
                             f"{r['param_side_bytes'] / 2**20:.2f} MiB")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    os.makedirs(os.path.dirname(args.table), exist_ok=True)
    open(args.table, "w").write("\n".join(lines) + "\n")
    print("wrote", args.table)


if __name__ == "__main__":
    sys.exit(main())
