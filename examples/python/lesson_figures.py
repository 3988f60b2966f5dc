#!/usr/bin/env python3
"""Train the lesson's VAE through the Python bindings and draw its figures.

    python3 examples/python/lesson_figures.py --data examples/data/mnist-subset \\
        --epochs 10 --out lesson-figures

The model is Kingma & Welling's MNIST VAE as the PyTorch example builds it:
784 -> 400 ReLU -> 2-D latent -> 400 ReLU -> 784 Bernoulli, Adam 1e-3,
batch 128. After every epoch the test loss is computed too. Written into
--out (PNG, through matplotlib's Agg backend), with losses.csv:

  curves.png           total, reconstruction and KL per epoch, train and test
  reconstructions.png  test images above their reconstructions
  latent.png           the test set's posterior means, coloured by digit
  samples.png          decoded draws from the prior N(0, I)
  manifold.png         the decoder over an inverse-CDF grid of the latent
  interpolation.png    decoded points on the line between two test digits' means
                       (Model.interpolate)

It needs the libvae package (bindings/python) and libvae.so.1: from a build
tree, set LIBVAE_LIBRARY=build/lib/libvae.so.1, or let this script find
build/lib/libvae.so.1 beside it.
"""

from __future__ import annotations

import argparse
import csv
import os
import pathlib
import sys
import time
from statistics import NormalDist
from typing import Dict, List, Sequence, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[2]


def import_libvae():  # type: ignore[no-untyped-def]
    """The installed package, else the one of this source tree (with the
    library of its build/ when LIBVAE_LIBRARY is not set)."""
    import importlib

    try:
        return importlib.import_module("libvae")
    except ImportError:
        sys.path.insert(0, str(ROOT / "bindings" / "python"))
        built = ROOT / "build" / "lib" / "libvae.so.1"
        if "LIBVAE_LIBRARY" not in os.environ and built.exists():
            import ctypes.util

            if ctypes.util.find_library("vae") is None:
                os.environ["LIBVAE_LIBRARY"] = str(built)
    return importlib.import_module("libvae")


libvae = import_libvae()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SIDE = 28  # MNIST images are 28 x 28


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT / "examples" / "data" / "mnist-subset"),
                   help="directory of train-/t10k- images and labels (IDX, raw or .gz)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs [10]")
    p.add_argument("--out", default="lesson-figures", help="output directory [lesson-figures]")
    p.add_argument("--seed", type=int, default=1, help="seeds the model and the samples [1]")
    p.add_argument("--batch", type=int, default=128, help="images per step [128]")
    p.add_argument("--threads", type=int, default=0, help="GEMM threads [library default]")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNGs [100]")
    return p.parse_args(argv)


def find(data: pathlib.Path, stem: str) -> pathlib.Path:
    for name in (stem, stem + ".gz"):
        if (data / name).exists():
            return data / name
    sys.exit(f"lesson_figures: --data {data}: no {stem}[.gz] there")


def load_split(data: pathlib.Path, split: str) -> "libvae.Dataset":
    return libvae.Dataset.from_idx(find(data, f"{split}-images-idx3-ubyte"),
                                   find(data, f"{split}-labels-idx1-ubyte"))


def train(model: "libvae.Model", train_set: "libvae.Dataset", test_set: "libvae.Dataset",
          epochs: int, batch: int) -> List[Dict[str, float]]:
    """Train, evaluating the test set after every epoch; one row per epoch."""
    adam = libvae.Adam(model, lr=1e-3)
    history = []
    print(f"{'epoch':>5} {'train':>9} {'recon':>9} {'kl':>7} {'test':>9} {'recon':>9} "
          f"{'kl':>7} {'s':>6}")
    for epoch in range(1, epochs + 1):
        t0 = time.monotonic()
        tr = model.train_epoch(adam, train_set, batch_size=batch)
        te = model.evaluate(test_set)
        seconds = time.monotonic() - t0
        print(f"{epoch:5d} {tr.total:9.2f} {tr.recon:9.2f} {tr.kl:7.2f} {te.total:9.2f} "
              f"{te.recon:9.2f} {te.kl:7.2f} {seconds:6.2f}", flush=True)
        history.append({"epoch": epoch, "seconds": seconds,
                        **{f"train_{k}": getattr(tr, k) for k in ("total", "recon", "kl")},
                        **{f"test_{k}": getattr(te, k) for k in ("total", "recon", "kl")}})
    adam.close()
    return history


def tile(images: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """[n x 784] images as one picture of rows x cols cells, with light grey
    gaps between them (values are ink: 0 blank, 1 black)."""
    n = images.shape[0]
    rows = -(-n // cols)
    cell = SIDE + pad
    canvas = np.full((rows * cell - pad, cols * cell - pad), 0.15, dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * cell:r * cell + SIDE, c * cell:c * cell + SIDE] = img.reshape(SIDE, SIDE)
    return canvas


def show_digits(ax: "plt.Axes", canvas: np.ndarray) -> None:
    # Ink dark on white, as digits are written: 1 - probability of a lit pixel.
    ax.imshow(1.0 - canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def save(fig: "plt.Figure", out: pathlib.Path, name: str, dpi: int, grey: bool = False) -> None:
    """Write the figure; a figure without colour as 8-bit grey (half the bytes
    of matplotlib's RGBA, and exact, as every pixel is grey)."""
    path = out / name
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    if grey:
        from PIL import Image  # matplotlib's own dependency

        with Image.open(path) as im:
            im.load()
            im.convert("L").save(path, optimize=True)
    print(f"wrote {path}")


def figure_curves(history: List[Dict[str, float]], out: pathlib.Path, dpi: int) -> None:
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    titles = {"total": "negative ELBO (total)", "recon": "reconstruction term",
              "kl": "KL term"}
    for ax, part in zip(axes, ("total", "recon", "kl")):
        ax.plot(epochs, [h[f"train_{part}"] for h in history], "o-", label="train")
        ax.plot(epochs, [h[f"test_{part}"] for h in history], "s--", label="test")
        ax.set_title(titles[part])
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[0].set_ylabel("nats per image")
    axes[0].legend()
    fig.tight_layout()
    save(fig, out, "curves.png", dpi)


def figure_reconstructions(model: "libvae.Model", test_set: "libvae.Dataset",
                           out: pathlib.Path, dpi: int, n: int = 12) -> None:
    x, _ = test_set.get(0, n)
    y = model.reconstruct(x)
    fig, ax = plt.subplots(figsize=(n * 0.6, 1.5))
    show_digits(ax, tile(np.concatenate([x, y]), n))
    ax.set_yticks([SIDE / 2, SIDE * 1.5 + 2])
    ax.set_yticklabels(["test image", "reconstruction"])
    ax.tick_params(length=0)
    ax.set_title("test images (top) and decode(mean of q(z|x)) (bottom)", fontsize=9)
    save(fig, out, "reconstructions.png", dpi, grey=True)


def figure_latent(mu: np.ndarray, labels: np.ndarray, out: pathlib.Path, dpi: int) -> None:
    fig, ax = plt.subplots(figsize=(6, 5.4))
    cmap = plt.get_cmap("tab10")
    for digit in range(10):
        pick = labels == digit
        ax.scatter(mu[pick, 0], mu[pick, 1], s=5, color=cmap(digit), label=str(digit),
                   alpha=0.8, linewidths=0)
    # The prior's 1- and 2-sigma circles, for scale.
    t = np.linspace(0, 2 * np.pi, 200)
    for r in (1, 2):
        ax.plot(r * np.cos(t), r * np.sin(t), color="0.4", lw=0.8, ls=":")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_aspect("equal")
    ax.set_title(f"means of q(z|x) for the {len(labels)} test images")
    ax.legend(title="digit", markerscale=3, loc="center left", bbox_to_anchor=(1.0, 0.5))
    save(fig, out, "latent.png", dpi)


def figure_samples(model: "libvae.Model", seed: int, out: pathlib.Path, dpi: int) -> None:
    x = model.sample(64, seed=seed)
    fig, ax = plt.subplots(figsize=(5, 5))
    show_digits(ax, tile(x, 8))
    ax.set_title("64 draws z ~ N(0, I), decoded", fontsize=10)
    save(fig, out, "samples.png", dpi, grey=True)


def manifold_grid(n: int) -> Tuple[np.ndarray, np.ndarray]:
    """Kingma & Welling's figure 4: n evenly spaced quantiles of N(0, 1) per
    axis, so every cell holds the same prior mass. Row-major, z2 decreasing
    down the rows so that the picture reads like a plot."""
    q = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)], dtype=np.float32)
    z1, z2 = np.meshgrid(q, q[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1), q


def figure_manifold(model: "libvae.Model", out: pathlib.Path, dpi: int, n: int = 20) -> None:
    z, q = manifold_grid(n)
    x = model.decode(z)
    fig, ax = plt.subplots(figsize=(7, 7))
    canvas = tile(x, n, pad=0)
    show_digits(ax, canvas)
    ticks = [0, n // 4, n - 1 - n // 4, n - 1]  # symmetric about 0
    centres = [(i + 0.5) * SIDE - 0.5 for i in ticks]
    ax.set_xticks(centres)
    ax.set_xticklabels([f"{q[i]:.2f}" for i in ticks])
    ax.set_yticks(centres)
    ax.set_yticklabels([f"{q[::-1][i]:.2f}" for i in ticks])
    ax.set_xlabel("$z_1 = \\Phi^{-1}(u_1)$")
    ax.set_ylabel("$z_2 = \\Phi^{-1}(u_2)$")
    ax.set_title(f"the decoder over a {n} x {n} grid of normal quantiles", fontsize=10)
    save(fig, out, "manifold.png", dpi, grey=True)


def typical(mu: np.ndarray, labels: np.ndarray, digit: int) -> int:
    """Index of the test image of ``digit`` whose mean lies nearest the
    median of that digit's means: a typical one, not an outlier."""
    idx = np.flatnonzero(labels == digit)
    centre = np.median(mu[idx], axis=0)
    return int(idx[np.argmin(np.sum((mu[idx] - centre) ** 2, axis=1))])


def figure_interpolation(model: "libvae.Model", test_set: "libvae.Dataset", mu: np.ndarray,
                         labels: np.ndarray, out: pathlib.Path, dpi: int,
                         steps: int = 10) -> None:
    i, j = typical(mu, labels, 1), typical(mu, labels, 0)
    # The straight line between the two means, decoded: z(t) = (1 - t) mu_i + t mu_j.
    decoded, _ = model.interpolate(mu[i], mu[j], steps, kind="linear")
    xi, _ = test_set.get(i, 1)
    xj, _ = test_set.get(j, 1)
    row = np.concatenate([xi, decoded, xj])
    fig, ax = plt.subplots(figsize=((steps + 2) * 0.75, 1.6))
    show_digits(ax, tile(row, steps + 2))
    ax.set_xticks([SIDE / 2] + [(k + 1.5) * (SIDE + 2) - 2 for k in (0, steps - 1)]
                  + [(steps + 1.5) * (SIDE + 2) - 2])
    ax.set_xticklabels([f"test image\n#{i}", "t = 0", "t = 1", f"test image\n#{j}"],
                       fontsize=8)
    ax.tick_params(length=0)
    ax.set_title(f"decode((1 - t) mu_a + t mu_b): digit {labels[i]} to digit {labels[j]}, "
                 f"{steps} steps", fontsize=9)
    save(fig, out, "interpolation.png", dpi, grey=True)


def write_csv(history: List[Dict[str, float]], out: pathlib.Path) -> None:
    with open(out / "losses.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        for h in history:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in h.items()})


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.epochs < 1:
        sys.exit("lesson_figures: --epochs must be at least 1")
    data, out = pathlib.Path(args.data), pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        libvae.set_threads(args.threads)

    with load_split(data, "train") as train_set, load_split(data, "t10k") as test_set, \
            libvae.Model(input_dim=train_set.dim, latent_dim=2, hidden=400,
                         seed=args.seed) as model:
        if train_set.dim != SIDE * SIDE:
            sys.exit(f"lesson_figures: the images have {train_set.dim} pixels, not 28 x 28")
        print(f"libvae {libvae.version()} ({libvae.active_backend()}, "
              f"{libvae.get_threads()} threads) | {len(train_set)} train + {len(test_set)} "
              f"test images | {model!r}")
        history = train(model, train_set, test_set, args.epochs, args.batch)
        write_csv(history, out)

        x_test, labels = test_set.get()
        mu, _ = model.encode(x_test)
        figure_curves(history, out, args.dpi)
        figure_reconstructions(model, test_set, out, args.dpi)
        figure_latent(mu, labels, out, args.dpi)
        figure_samples(model, args.seed, out, args.dpi)
        figure_manifold(model, out, args.dpi)
        figure_interpolation(model, test_set, mu, labels, out, args.dpi)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
