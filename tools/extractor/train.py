"""Train the domain feature extractor of a dataset and write it where ganzoo ships it.

    python -m tools.extractor.train --data fashion
    python -m tools.extractor.train --data mnist

Inception weights cannot be downloaded offline, so ganzoo measures generated images with a
small classifier trained on the real data. Fashion-MNIST: trained on its 60,000 train images,
accuracy measured on the 10,000 test images. MNIST: only the 10,000 t10k images are available
offline, so it trains on 8,000 of them (a seeded permutation) and reports accuracy on the other
2,000. Seeded and deterministic on CPU for a given torch version and thread count (default 1).
Writes ``<data>-extractor.safetensors`` and ``<data>-extractor.json`` (accuracy, data, command,
sha256) into ``ganzoo/metrics/weights/`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.metrics.extractor import (
    ARCHITECTURE,
    EXTRACTOR_FORMAT,
    WEIGHTS_DIR,
    card_path,
    weights_path,
)
from tools.extractor.net import FEATURE_DIM, build_net, net_arrays

MNIST_TRAIN_COUNT = 8_000  # of the 10,000 t10k images; the other 2,000 measure accuracy


@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28, 1) uint8 and labels, with a sentence saying where they came from."""

    images: np.ndarray
    labels: np.ndarray
    described: str


def training_data(dataset: str, seed: int, data_dir: str | None) -> tuple[Split, Split, tuple]:
    """(train, held-out) splits for ``dataset`` and its class names."""
    from ganzoo.data import load_dataset

    if dataset == "fashion":
        train = load_dataset(None, "fashion", "train", data_dir=data_dir)
        test = load_dataset(None, "fashion", "test", data_dir=data_dir)
        return (Split(train.images, train.labels, "fashion/train: all 60,000 images"),
                Split(test.images, test.labels, "fashion/test: all 10,000 images"),
                train.classes)
    if dataset == "mnist":
        # MNIST's train split has no offline copy; the t10k split is split in two instead.
        t10k = load_dataset(None, "mnist", "test", data_dir=data_dir)
        order = np.random.default_rng(seed).permutation(len(t10k))
        tr, ho = order[:MNIST_TRAIN_COUNT], order[MNIST_TRAIN_COUNT:]
        how = f"np.random.default_rng({seed}).permutation(10000)"
        return (Split(t10k.images[tr], t10k.labels[tr],
                      f"mnist/test (t10k): {len(tr):,} images, the first {len(tr):,} of {how}; "
                      "MNIST's train split is not available offline"),
                Split(t10k.images[ho], t10k.labels[ho],
                      f"mnist/test (t10k): the other {len(ho):,} images (held out)"),
                t10k.classes)
    raise SystemExit(f"no extractor recipe for dataset '{dataset}' (fashion, mnist)")


def _tensor(images: np.ndarray) -> Any:
    import torch

    x = np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0
    return torch.from_numpy(np.ascontiguousarray(x))


def accuracy(net: Any, split: Split, batch: int = 1000) -> float:
    """Top-1 accuracy of ``net`` (eval mode) on ``split``."""
    import torch

    net.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(split.images), batch):
            logits = net(_tensor(split.images[i:i + batch]))
            right += int((logits.argmax(1).numpy() == split.labels[i:i + batch]).sum())
    return right / len(split.images)


def fit(train: Split, held_out: Split, num_classes: int, epochs: int, batch: int, lr: float,
        seed: int, log: Any = print) -> Any:
    """Train the network: Adam with a one-cycle schedule, cross-entropy, no augmentation."""
    from ganzoo.frameworks import import_torch

    torch = import_torch()
    torch.manual_seed(seed)
    net = build_net(num_classes)
    x_all = _tensor(train.images)
    y_all = torch.from_numpy(train.labels.astype(np.int64))
    steps = epochs * (len(x_all) // batch)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x_all), generator=gen)
        total = 0.0
        for s in range(len(x_all) // batch):
            idx = order[s * batch:(s + 1) * batch]
            loss = torch.nn.functional.cross_entropy(net(x_all[idx]), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        log(f"epoch {epoch + 1}/{epochs}: loss {total / (len(x_all) // batch):.4f}, "
            f"held-out accuracy {accuracy(net, held_out):.4f}")
    return net.eval()


def feature_scale(net: Any, split: Split, batch: int = 1000) -> float:
    """1 / RMS of the penultimate features over ``split``: scaled features have mean square 1.

    Raw ReLU features run to tens, which puts KID's polynomial kernel (x.y / D + 1)^3 far from
    the regime it was designed for (Inception features, x.y / D around 1). The scale is fixed at
    training time and stored in the weights file, so it is covered by the file's sha256.
    """
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(split.images), batch):
            f = net.features(_tensor(split.images[i:i + batch])).double()
            total += float((f * f).sum())
            count += f.numel()
    return float(1.0 / np.sqrt(total / count))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.extractor.train",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, choices=("fashion", "mnist"))
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 6 for fashion, 15 for mnist (8,000 images)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    # One thread: bit-exact on any machine, and faster than two on a busy 2-core box.
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (results are bit-exact for a fixed count)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    epochs = args.epochs or (6 if args.data == "fashion" else 15)

    from safetensors.numpy import save_file

    from ganzoo import __version__
    from ganzoo.frameworks import import_torch

    torch = import_torch()
    torch.set_num_threads(args.threads)
    train, held_out, classes = training_data(args.data, args.seed, args.data_dir)
    print(f"training the {args.data} extractor on {train.described}", flush=True)
    start = time.perf_counter()
    net = fit(train, held_out, len(classes), epochs, args.batch_size, args.lr, args.seed,
              log=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - start
    acc = accuracy(net, held_out)
    scale = round(feature_scale(net, train), 6)

    name = f"{args.data}-extractor"
    header = {"format": EXTRACTOR_FORMAT, "name": name, "dataset": args.data,
              "architecture": ARCHITECTURE,
              "classes": list(classes), "feature_dim": FEATURE_DIM, "feature_scale": scale,
              "input": "NCHW float32, pixels / 127.5 - 1"}
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / weights_path(args.data).name
    # One metadata key: safetensors writes several in hash order, and the file's sha256 must
    # not change from run to run when the weights do not.
    save_file(net_arrays(net), str(out), metadata={"ganzoo": json.dumps(header)})
    command = f"python -m tools.extractor.train --data {args.data}"
    if argv is None and len(sys.argv) > 1:
        command = "python -m tools.extractor.train " + " ".join(sys.argv[1:])
    card = {
        **header,
        "sha256": sha256_of(out),
        "trained_on": train.described,
        "accuracy_on": held_out.described,
        "accuracy": round(acc, 4),
        "epochs": epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
        "threads": args.threads, "train_time_s": round(seconds, 1),
        "command": command,
        "torch_version": torch.__version__, "ganzoo_version": __version__,
    }
    (args.out / card_path(args.data).name).write_text(json.dumps(card, indent=2) + "\n")
    print(f"accuracy {acc:.4f} on {held_out.described}; {seconds:.0f}s; wrote {out} "
          f"(sha256 {card['sha256']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
