"""sprout models in PyTorch: one call loads a sprout model into the matching torchvision
(ResNet-18/34/50) or torch.nn.Sequential (the MLP) module.

    import sprout_torch
    model = sprout_torch.load("resnet50.safetensors")          # written by `sprout export`
    model = sprout_torch.load("runs/rigl/model.safetensors")   # or a run's model file as it is
    x = sprout_torch.normalize(images_uint8, model.sprout_meta)

Reads both files `sprout export --to torch` writes (dense, or sparse parts as CSR/BSR that
torch.sparse_csr_tensor / torch.sparse_bsr_tensor take) and a run's own model.safetensors
(CSR/BSR values, row_ptr, col_idx; the model named by summary.json beside it). Needs
numpy, safetensors and torch (torchvision for the ResNets); no build step.
"""
import json
import os
import warnings
from collections import OrderedDict

import numpy as np
from safetensors import safe_open

RESNETS = ("resnet18", "resnet34", "resnet50")


def _read(path):
    with safe_open(path, framework="numpy") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, meta


def _densify(row_ptr, col_idx, values, rows, cols, block, shape):
    """A CSR (block 1) or BSR (values [nnz_blocks, b, b], row-major blocks) weight, dense."""
    b = int(block)
    brows, bcols = -(-rows // b), -(-cols // b)
    padded = np.zeros((brows * b, bcols * b), dtype=np.float32)
    block_row = np.repeat(np.arange(brows), np.diff(row_ptr.astype(np.int64)))
    blocks = values.reshape(-1, b, b)
    for k in range(b):
        for j in range(b):
            padded[block_row * b + k, col_idx.astype(np.int64) * b + j] = blocks[:, k, j]
    return padded[:rows, :cols].reshape(shape)


def _run_model(tensors, meta, path):
    """A run's model.safetensors as a torchvision state_dict, with what summary.json says."""
    summary = os.path.join(os.path.dirname(os.path.abspath(path)), "summary.json")
    if not os.path.exists(summary):
        raise ValueError(f"{path}: no summary.json beside it to name the model; use `sprout export`")
    with open(summary) as f:
        cfg = json.load(f)["config"]
    name = cfg["model"]["name"]
    if name in RESNETS and cfg["model"].get("stem", "imagenet") != "imagenet":
        raise ValueError(f"{path}: {name} with the {cfg['model']['stem']} stem has no torchvision counterpart")
    if name != "mlp" and name not in RESNETS:
        raise ValueError(f"{path}: model '{name}' has no exact torchvision counterpart")
    sparse = json.loads(meta.get("sparse", "{}"))
    sd = OrderedDict()
    for key, s in sparse.items():
        parts = [tensors.pop(f"{key}.{p}") for p in ("row_ptr", "col_idx", "values")]
        sd[key] = _densify(*parts, s["rows"], s["cols"], s["block"], s["dense_shape"])
    sd.update(tensors)
    if name in RESNETS:
        for key in [k for k in sd if k.endswith(".running_var")]:
            sd[key[: -len("running_var")] + "num_batches_tracked"] = np.zeros((), dtype=np.int64)
    weights = [k for k in sd if k.endswith(".weight") and sd[k].ndim == 2]
    out = {"format": "sprout-model-v1", "model": name}
    if name == "mlp":
        weights.sort(key=lambda k: int(k.split(".")[0]))
        out["hidden"] = [int(sd[k].shape[0]) for k in weights[:-1]]
        out["in_features"] = int(sd[weights[0]].shape[1])
    out["num_classes"] = int(sd[weights[-1]].shape[0]) if name == "mlp" else int(sd["fc.weight"].shape[0])
    opts = cfg.get("data", {}).get("options", {})
    if "mean" in opts and "std" in opts:
        out["mean"], out["std"] = opts["mean"], opts["std"]
    return sd, out


def _exported(tensors, meta):
    """A `sprout export` file as a dense state_dict (sparse parts made dense)."""
    import torch

    sparse = json.loads(meta.get("sparse", "{}"))
    sd = OrderedDict()
    for key, s in sparse.items():
        crow, col, val = (torch.from_numpy(tensors.pop(f"{key}.{p}")) for p in ("crow_indices", "col_indices", "values"))
        make = torch.sparse_bsr_tensor if s["layout"] == "bsr" else torch.sparse_csr_tensor
        with warnings.catch_warnings():  # torch 1.13 calls its sparse CSR/BSR support beta
            warnings.simplefilter("ignore", UserWarning)
            t = make(crow, col, val, size=tuple(s["size"]))
        sd[key] = t.to_dense().reshape(s["shape"]).numpy()
    sd.update(tensors)
    out = {k: meta[k] for k in ("format", "model", "normalization", "layout") if k in meta}
    for k in ("num_classes", "hidden", "input_shape", "image_size", "mean", "std"):
        if k in meta:
            out[k] = json.loads(meta[k])
    if out["model"] == "mlp":
        first = min((k for k in sd if k.endswith(".weight")), key=lambda k: int(k.split(".")[0]))
        out["in_features"] = int(sd[first].shape[1])
    return sd, out


def state_dict(path):
    """(state_dict of dense torch tensors with torchvision's names, metadata dict)."""
    import torch

    tensors, meta = _read(path)
    fmt = meta.get("format")
    if fmt == "sprout-torch-v1":
        sd, info = _exported(tensors, meta)
    elif fmt == "sprout-model-v1":
        sd, info = _run_model(tensors, meta, path)
    else:
        raise ValueError(f"{path}: not a sprout file (metadata format {fmt!r})")
    return OrderedDict((k, torch.from_numpy(np.ascontiguousarray(v))) for k, v in sd.items()), info


def build(info):
    """The empty torch module the metadata describes."""
    import torch

    if info["model"] == "mlp":
        layers, prev = [], info["in_features"]
        for h in info["hidden"]:
            layers += [torch.nn.Linear(prev, h), torch.nn.ReLU()]
            prev = h
        layers.append(torch.nn.Linear(prev, info["num_classes"]))
        return torch.nn.Sequential(*layers)
    import torchvision

    return getattr(torchvision.models, info["model"])(num_classes=info["num_classes"])


def load(path, device="cpu"):
    """The sprout model at `path` in its torch module (eval mode), loaded with strict=True.
    The MLP flattens nothing itself: give it [N, features] (x.flatten(1))."""
    sd, info = state_dict(path)
    model = build(info)
    model.load_state_dict(sd, strict=True)
    model.sprout_meta = info
    return model.to(device).eval()


def normalize(images, info):
    """uint8 images [N, C, H, W] (or [N, H, W] for one channel) as the model saw them:
    (x / 255 - mean) / std per channel, in float32 as sprout computes it."""
    import torch

    if "mean" not in info or "std" not in info:
        raise ValueError("no normalisation recorded: `sprout export` records it (a run's own model file only "
                         "when its config set data.options.mean and std)")
    x = torch.from_numpy(np.array(images, dtype=np.float32))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    mean = torch.tensor(info["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(info["std"], dtype=torch.float32).view(1, -1, 1, 1)
    return (x / 255.0 - mean) / std
