"""The PyTorch side of docs/memory.md: the activation bytes torchvision's ResNet-50 keeps
for backward in a CPU training step, counted by PyTorch itself. Every tensor autograd
saves passes through torch.autograd.graph.saved_tensors_hooks; the distinct storages
among them (in-place ReLU outputs and views share one) are summed. That is the set held
from the end of the forward pass into backward: the peak of what a masked-RigL run in
PyTorch holds beside its parameters (its backward adds gradient temporaries on top, so
this is a lower bound). Activations are linear in the batch: two batches give the
per-image slope. Prints one JSON object.

  /usr/bin/python3 bench/torch_resnet50_activations.py --batches 4,8 --image-size 224
"""
import argparse
import json
import os

import torch
import torchvision

MIB = 1024.0 * 1024.0


def saved_bytes(model, batch, image_size):
    """Bytes of the distinct storages autograd saves in one forward pass (and the loss),
    the parameters (which conv and BatchNorm save too) left out."""
    storages = {}
    params = {p.data_ptr() for p in model.parameters()}

    def pack(t):
        s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage().untyped()
        if s.data_ptr() not in params:
            storages[s.data_ptr()] = max(storages.get(s.data_ptr(), 0), s.nbytes())
        return t

    x = torch.randn(batch, 3, image_size, image_size)
    y = torch.randint(0, 1000, (batch,))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    input_bytes = x.numel() * x.element_size()
    del loss
    # The input batch is counted under data in sprout's table, not activations.
    return sum(storages.values()) - (input_bytes if x.data_ptr() in storages else 0), len(storages)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="4,8", help="two batch sizes, for the per-image slope")
    ap.add_argument("--image-size", type=int, default=224)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    model.train()
    b1, b2 = [int(v) for v in a.batches.split(",")]
    (s1, n1), (s2, n2) = saved_bytes(model, b1, a.image_size), saved_bytes(model, b2, a.image_size)
    per_image = (s2 - s1) / float(b2 - b1)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "model": "torchvision resnet50", "torch": torch.__version__, "torchvision": torchvision.__version__,
        "image_size": a.image_size, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "saved_bytes": {str(b1): s1, str(b2): s2}, "saved_storages": {str(b1): n1, str(b2): n2},
        "activations_per_image_bytes": per_image, "activations_fixed_bytes": s1 - per_image * b1,
        "activations_per_image_mib": round(per_image / MIB, 3), "parameters": params,
        "dense_param_side_bytes_sgd_momentum": 12 * params,
    }, indent=2))


if __name__ == "__main__":
    main()
