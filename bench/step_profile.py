#!/usr/bin/env python3
"""Where a training step's CPU time goes, by kind of work, from a `perf` profile.

Records `sprout bench step` under `perf record` (sampling starts after --delay seconds,
so model setup and the warm-up step stay out) and sums the samples of each function
into the categories below: the weight layers' kernels (sparse SpMM and SDDMM, BLAS, the
unfolding around them) and the work every step does whatever the density (BatchNorm,
pooling, elementwise). The second group is the floor a sparse step cannot go below.

  python3 bench/step_profile.py --sprout build-dev/bin/sprout --density 0.1 --batch 32
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

# First match wins; names are perf's demangled symbols.
CATEGORIES = [
    ("sparse SpMM", ["csr_item", "bsr_item", "run_items", "spmm"]),
    ("sparse SDDMM", ["csr_range", "bsr_range", "sddmm"]),
    ("BLAS (dense layers)", ["sgemm", "dgemm", "gemm_"]),
    ("unfold / fold / layout", ["im2col", "col2im", "conv_pack", "conv_unpack", "cnhw_to_nchw", "nchw_to_cnhw",
                                "transpose"]),
    ("BatchNorm + ReLU", ["bn_act", "train_channel", "backward_channel", "batchnorm", "bn_"]),
    ("pooling", ["pool", "subsample"]),
    ("add / copy / fill", ["add<", "memmove", "memset", "memcpy", "copy", "fill"]),
    ("optimizer", ["sgd", "optim", "momentum"]),
    ("kernel (page faults, scheduling)", ["[k]"]),
]
WEIGHT = {"sparse SpMM", "sparse SDDMM", "BLAS (dense layers)", "unfold / fold / layout"}


def categorize(report):
    totals = {}
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(.*)", line)
        if not m:
            continue
        share, name = float(m.group(1)), m.group(2)
        cat = next((c for c, keys in CATEGORIES if any(k in name for k in keys)), "other")
        totals[cat] = totals.get(cat, 0.0) + share
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sprout", default="build/bin/sprout")
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--delay", type=float, default=30.0, help="seconds before sampling starts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        bench = [args.sprout, "bench", "step", "--model", args.model, "--batch", str(args.batch), "--densities",
                 str(args.density), "--steps", str(args.steps)]
        try:
            run = subprocess.run(["perf", "record", "-q", "-D", str(int(args.delay * 1000)), "-F", "499", "-o", data,
                                  "--"] + bench, capture_output=True, text=True)
        except FileNotFoundError:
            sys.exit("error: perf is not installed (Debian: linux-perf)")
        if run.returncode != 0:
            sys.exit("error: perf record failed: " + (run.stderr.strip().splitlines() or ["?"])[-1])
        median = re.search(r'"step_ms_median":([\d.]+)', run.stdout)
        report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "-g", "none"],
                                capture_output=True, text=True).stdout
    totals = categorize(report)
    step_s = float(median.group(1)) / 1000 if median else None
    print("%s, density %g, batch %d: median step %s" % (args.model, args.density, args.batch,
                                                        "%.2f s" % step_s if step_s else "?"))
    for group, weight in (("weight layers", True), ("every step's floor", False)):
        rows = [(c, v) for c, v in totals.items() if (c in WEIGHT) == weight]
        share = sum(v for _, v in rows)
        print("%-34s %6.1f%%%s" % (group, share, "  %.2f s" % (share / 100 * step_s) if step_s else ""))
        for c, v in sorted(rows, key=lambda r: -r[1]):
            print("  %-32s %6.1f%%" % (c, v))


if __name__ == "__main__":
    main()
