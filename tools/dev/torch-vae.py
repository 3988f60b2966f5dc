#!/usr/bin/env python3
"""libvae's two reference networks in PyTorch, for the side-by-side figures of
docs/performance.md and docs/variants.md: the lesson's dense VAE (784-400-L,
--arch dense) and the convolutional one (--arch conv); same layers, PyTorch's
default initialisation, Adam 1e-3, batch 128, Bernoulli logits, losses in nats
per image.

    tools/dev/torch-vae.py DATA_DIR [--arch dense|conv] [--epochs N] [--latent L]
                           [--threads T] [--seed S]

Prints per epoch the training loss, wall and process CPU seconds, then the
test loss. Not part of libvae (it needs python3-torch); a benchmark, not a test.
"""
import argparse
import gzip
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    n, r, c = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, r, c).astype(np.float32) / 255


class VAE(nn.Module):
    def __init__(self, latent, arch):
        super().__init__()
        self.latent = latent
        if arch == "dense":  # the lesson's: 784 -> 400 ReLU -> [mu | logvar]; 2 -> 400 -> 784
            self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU(),
                                     nn.Linear(400, 2 * latent))
            self.dec = nn.Sequential(nn.Linear(latent, 400), nn.ReLU(), nn.Linear(400, 784),
                                     nn.Unflatten(1, (1, 28, 28)))
            return
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(),
                                 nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(3136, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                 nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def loss(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.dec(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = 0.5 * torch.sum(mu * mu + logvar.exp() - logvar - 1)
        return (recon + kl) / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--arch", choices=("dense", "conv"), default="conv")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--latent", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    train = torch.from_numpy(idx(f"{a.data}/train-images-idx3-ubyte.gz"))
    test = torch.from_numpy(idx(f"{a.data}/t10k-images-idx3-ubyte.gz"))
    model = VAE(a.latent, a.arch)
    print("parameters:", sum(p.numel() for p in model.parameters()))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, a.epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        perm, total = torch.randperm(len(train)), 0.0
        for i in range(0, len(train), 128):
            x = train[perm[i:i + 128]]
            loss = model.loss(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        print(f"epoch {epoch}: train {total / len(train):.2f}  wall {time.perf_counter() - t0:.2f} s"
              f"  cpu {time.process_time() - c0:.2f} s", flush=True)
    with torch.no_grad():
        t = sum(model.loss(test[i:i + 1000]).item() * 1000 for i in range(0, len(test), 1000))
    print(f"test {t / len(test):.2f}")


if __name__ == "__main__":
    main()
