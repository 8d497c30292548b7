"""The built-in datasets, Fashion-MNIST and MNIST, registered through the hook any plugin uses.

Checksums are sha256 of the *decompressed* IDX bytes: gzip headers differ between mirrors
(Debian recompresses), the pixels do not. They come from ../shared/datasets/SHA256SUMS.txt, plus
Fashion-MNIST's train labels, hashed from the same Debian copy. Nobody publishes a content hash
of MNIST's train files, so those are checked by header and size, and on download against the
md5 of the original release's .gz (the one torchvision pins).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganzoo.data.spec import DatasetSpec, IdxFile, SplitSpec, bundled_copy
from ganzoo.hookspecs import hookimpl

BUNDLED_DIR = Path(__file__).parent / "bundled"

_IMAGES_10K = 10_000 * 28 * 28 + 16
_LABELS_10K = 10_000 + 8
_IMAGES_60K = 60_000 * 28 * 28 + 16
_LABELS_60K = 60_000 + 8


_FASHION_TEST = SplitSpec(
    "test", 10_000,
    IdxFile("t10k-images-idx3-ubyte", _IMAGES_10K,
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    IdxFile("t10k-labels-idx1-ubyte", _LABELS_10K,
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
)

FASHION = DatasetSpec(
    name="fashion",
    title="Fashion-MNIST",
    folder="fashion-mnist",
    licence="MIT",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"),
    splits=(
        SplitSpec(
            "train", 60_000,
            IdxFile("train-images-idx3-ubyte", _IMAGES_60K,
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            IdxFile("train-labels-idx1-ubyte", _LABELS_60K,
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        ),
        _FASHION_TEST,
        bundled_copy(_FASHION_TEST),
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    bundled_dir=BUNDLED_DIR,
    debian_package="dataset-fashion-mnist",
    torchvision_name="FashionMNIST",
    description="Zalando's article images: 10 classes of clothing, 28x28 grey.",
)

_MNIST_TEST = SplitSpec(
    "test", 10_000,
    IdxFile("t10k-images-idx3-ubyte", _IMAGES_10K,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    IdxFile("t10k-labels-idx1-ubyte", _LABELS_10K,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
)

MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    folder="mnist",
    licence="CC BY-SA 3.0",
    homepage="http://yann.lecun.com/exdb/mnist/",
    classes=tuple(str(d) for d in range(10)),
    splits=(
        SplitSpec(
            "train", 60_000,
            IdxFile("train-images-idx3-ubyte", _IMAGES_60K,
                    archive_md5="f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            IdxFile("train-labels-idx1-ubyte", _LABELS_60K,
                    archive_md5="d53e105ee54ea40749a09fcbcd1e9432"),
        ),
        _MNIST_TEST,
        bundled_copy(_MNIST_TEST),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    bundled_dir=BUNDLED_DIR,
    keras_npz="mnist.npz",
    torchvision_name="MNIST",
    description="Handwritten digits 0-9 (LeCun, Cortes and Burges), 28x28 grey.",
)

BUILTIN_DATASETS = (FASHION, MNIST)


@hookimpl
def register_datasets(register: Callable[[Any], None]) -> None:
    """Register Fashion-MNIST (``fashion``) and MNIST (``mnist``)."""
    for spec in BUILTIN_DATASETS:
        register(spec)
