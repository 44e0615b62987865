# Writes an ImageNet-style folder (ROOT/{train,val}/CLASS/*.JPEG) of small real JPEGs plus
# decompression bombs: 2 KB files whose frame header claims 30000^2, 65000^2, 65500x60000 and
# 8192^2 (exactly the default max_pixels) pixels. Usage: python3 bench/jpeg_bombs.py ROOT
import os, sys, torch
from torchvision.io import encode_jpeg
root = sys.argv[1]
def jpeg(w, h, seed):
    g = torch.Generator().manual_seed(seed)
    return bytes(encode_jpeg(torch.randint(0, 255, (3, h, w), dtype=torch.uint8, generator=g), quality=90).numpy())
def claim(b, w, h):
    b = bytearray(b); i = b.find(b'\xff\xc0')
    b[i+5:i+9] = bytes([h >> 8, h & 255, w >> 8, w & 255]); return bytes(b)
for split in ("train", "val"):
    for k, c in enumerate(("n01440764", "n01443537")):
        d = f"{root}/{split}/{c}"; os.makedirs(d, exist_ok=True)
        for i in range(6):
            open(f"{d}/img_{i}.JPEG", "wb").write(jpeg(48, 40, k * 10 + i))
        for j, (w, h) in enumerate(((30000, 30000), (65000, 65000), (65500, 60000), (8192, 8192))):
            open(f"{d}/bomb_{j}.JPEG", "wb").write(claim(jpeg(40, 30, 99 + j), w, h))
print("ok", os.path.getsize(f"{root}/train/n01440764/bomb_0.JPEG"), "bytes per bomb")
