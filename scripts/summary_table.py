#!/usr/bin/env python3
"""Prints the short table that ends scripts/train.sh: accuracy, density, and the
parameter-side memory (weights, indices, gradients, optimizer) beside its dense
equivalent, from a run's summary.json."""
import json
import sys

s = json.load(open(sys.argv[1]))
m = s["memory"]
side = sum(m[k]["current_bytes"] for k in ("weights", "indices", "gradients", "optimizer"))
d = m["dense_equivalent"]
dense = d["weights_bytes"] + d["gradients_bytes"] + d["optimizer_bytes"]
mib = 1024 * 1024
print()
print(f"{'method':<12}{'test acc':>10}{'density':>10}{'param-side MiB':>16}{'dense MiB':>12}{'ratio':>8}")
print(f"{s['config']['sparsity']['method']:<12}{s['test_accuracy']:>10.4f}{s['density']:>10.4f}"
      f"{side / mib:>16.2f}{dense / mib:>12.2f}{side / dense:>8.3f}")
print(f"device {s['device']}, {s['time']['seconds_per_epoch']:.1f} s/epoch, "
      f"{s['time']['samples_per_second']:.0f} samples/s")
