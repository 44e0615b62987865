"""The PyTorch side of `sprout bench step --model resnet50`: the median dense ResNet-50
training step (torchvision's model, SGD with Nesterov momentum 0.9, lr 0.1, weight decay
5e-5, cross-entropy) on one random batch, timed the way sprout times it. Prints one JSON
line. Run beside sprout on the same machine and thread count, e.g.

  OMP_NUM_THREADS=2 python3 bench/torch_resnet50_step.py --batch 32 --steps 3
"""
import argparse
import json
import statistics
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 keeps the default")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = torchvision.models.resnet50()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-5)
    x = torch.randn(a.batch, 3, a.image_size, a.image_size)
    y = torch.randint(0, 1000, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    ms = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"peer": "torch", "torch": torch.__version__, "torchvision": torchvision.__version__,
                      "model": "resnet50", "batch": a.batch, "threads": torch.get_num_threads(),
                      "step_ms_median": statistics.median(ms), "step_ms_min": min(ms)}))


if __name__ == "__main__":
    main()
