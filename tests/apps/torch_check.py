"""PyTorch's side of tests/apps/torch_interop_test.cpp (run by Debian's /usr/bin/python3
with torch and torchvision):
  logits IO FILE...               torchvision loads each file (strict) and gives io's logits
  accuracy FASHION_ROOT N FILE... correct count of each model on the first N test images
  save_resnet18 OUT CLASSES       a torchvision resnet18 state_dict saved by safetensors.torch
  compare_init TORCH_FILE MODEL   a run's model file holds the torch weights (at stored entries)
Prints one line of numbers; exits non-zero when a check fails.
"""
import gzip
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import sprout_torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402


def logits(io_file, *files):
    """The first file through torchvision alone (load_file, load_state_dict strict), every
    file through sprout_torch.state_dict into the same module."""
    import torchvision

    io = load_file(io_file)
    info = sprout_torch.state_dict(files[0])[1]
    model = getattr(torchvision.models, info["model"])(num_classes=info["num_classes"]).eval()
    dicts = [load_file(files[0])] + [sprout_torch.state_dict(f)[0] for f in files]
    worst = 0.0
    for sd in dicts:
        model.load_state_dict(sd, strict=True)
        with torch.no_grad():
            worst = max(worst, (model(io["x"]) - io["logits"]).abs().max().item())
    print(f"max_abs_diff {worst:.3g} over {len(dicts)} loads, max_abs_logit {io['logits'].abs().max().item():.3g}")
    return 0 if worst <= 1e-4 else 1


def accuracy(root, n, *paths):
    n = int(n)
    with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:n]
    info = None
    for path in paths:
        model = sprout_torch.load(path)
        info = info or model.sprout_meta  # a run's own file does not record the normalisation
        x = sprout_torch.normalize(images, info).flatten(1)
        with torch.no_grad():
            pred = model(x).argmax(1).numpy()
        print(f"correct {int((pred == labels).sum())} of {len(labels)}")
    return 0


def save_resnet18(out, classes):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=int(classes))
    for m in model.modules():  # non-trivial statistics, as pretrained weights have
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    return 0


def compare_init(torch_file, model_file):
    want = load_file(torch_file)
    got, _ = sprout_torch.state_dict(model_file)
    with open(os.path.join(os.path.dirname(model_file), "summary.json")) as f:
        stored = {l["name"]: l for l in json.load(f)["layers"]}
    worst, checked, sparse = 0.0, 0, 0
    for k, v in got.items():
        if "running_" in k or k.endswith("num_batches_tracked"):
            continue  # a training step moves BatchNorm's statistics
        mask = v != 0 if k in stored and stored[k].get("format") in ("csr", "bsr") else torch.ones_like(v, dtype=torch.bool)
        sparse += int(k in stored and stored[k].get("format") in ("csr", "bsr"))
        worst = max(worst, (v[mask] - want[k][mask]).abs().max().item() if mask.any() else 0.0)
        checked += 1
    print(f"max_abs_diff {worst:.3g} tensors {checked} sparse {sparse}")
    return 0 if worst == 0.0 and checked > 0 and sparse > 0 else 1


if __name__ == "__main__":
    sys.exit(globals()[sys.argv[1]](*sys.argv[2:]))
