"""Datasets: registry, resolution order, loading the real files, corrupt copies, downloads.

Real files come from ../shared/datasets (through $GANZOO_DATA) and from the copy bundled in the
package. No test touches the network: downloads are tested against file:// mirrors, and every
other test runs with downloads off and urlopen replaced by a tripwire.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ganzoo.catalog import Catalog
from ganzoo.data import (
    BUNDLED_TEST,
    ChecksumError,
    DatasetMismatchError,
    DatasetNotFoundError,
    DatasetSpec,
    IdxFile,
    IdxFormatError,
    SplitSpec,
    bundled_copy,
    load_dataset,
    resolve,
    write_idx,
)
from ganzoo.data import download as download_module
from ganzoo.data import places as places_module
from ganzoo.data.builtin import BUNDLED_DIR, FASHION, MNIST
from ganzoo.data.idx import idx_bytes
from ganzoo.errors import DatasetError, UsageError
from ganzoo.protocols import Dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not (SHARED / "fashion-mnist").is_dir(),
                                  reason=f"real datasets not found at {SHARED}")


def _no_network(url, *args, **kwargs):
    raise AssertionError(f"a test tried to open {url}")


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A fresh offline machine: no data dir, an empty cache, no well-known copies, no network."""
    for var in ("GANZOO_DATA", "KERAS_HOME", "TORCH_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(places_module, "SYSTEM_DATASET_DIRS", (tmp_path / "usr-share-datasets",))
    monkeypatch.setattr(download_module, "urlopen", _no_network)
    return tmp_path


def _link(folder: Path, files: dict[str, Path]) -> Path:
    """A dataset folder made of symlinks to real files (cheap copies)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in files.items():
        (folder / name).symlink_to(target)
    return folder


def _shared(folder: str, *names: str) -> dict[str, Path]:
    return {f"{n}.gz": SHARED / folder / f"{n}.gz" for n in names}


T10K = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# -- the registry -------------------------------------------------------------------------------


def test_builtins_register_through_the_plugin_hook():
    catalog = Catalog.load(entry_points=False)
    assert set(catalog.datasets) == {"fashion", "mnist"}
    report = catalog.host.reports["datasets"]
    assert report.ok and report.registered == ["dataset fashion", "dataset mnist"]
    fashion = catalog.dataset("fashion")
    assert isinstance(fashion, DatasetSpec) and fashion.folder == "fashion-mnist"
    assert fashion.split_names == ("train", "test", BUNDLED_TEST)
    assert len(fashion.classes) == 10 and fashion.licence == "MIT"
    with pytest.raises(UsageError, match=r"Unknown dataset 'fashoin'\. Did you mean fashion"):
        catalog.dataset("fashoin")


def test_unknown_split_suggests_the_bundled_name():
    with pytest.raises(UsageError, match="Did you mean bundled-test") as info:
        load_dataset(None, "fashion", split="bundled")
    assert info.value.exit_code == 2


def test_bundled_sums_file_agrees_with_the_specs():
    lines = (BUNDLED_DIR / "SHA256SUMS.txt").read_text().splitlines()
    listed = {line.split()[1]: line.split()[0] for line in lines if line.strip()}
    for spec in (FASHION, MNIST):
        for file in spec.split(BUNDLED_TEST).files:
            assert listed[f"{spec.folder}_{file.name}"] == file.sha256
            assert spec.bundled_file(file).is_file()
    total = sum(p.stat().st_size for p in BUNDLED_DIR.glob("*.gz"))
    assert 5_000_000 < total < 7_000_000


@needs_shared
def test_specs_agree_with_the_shared_checksums():
    published = {}
    for line in (SHARED / "SHA256SUMS.txt").read_text().splitlines():
        digest, path = line.split()[:2]
        published[path] = digest
    for spec in (FASHION, MNIST):
        for split in spec.splits:
            for file in split.files:
                key = f"{spec.folder}/{file.name}"
                if key in published:
                    assert file.sha256 == published[key], key


def test_core_imports_no_framework():
    code = "import sys, ganzoo.data, ganzoo.data.adapters; print('torch' in sys.modules, " \
           "'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- loading real files -------------------------------------------------------------------------


def test_bundled_split_loads_offline_with_nothing_else(machine):
    data = load_dataset(None, "fashion", split=BUNDLED_TEST)
    assert isinstance(data, Dataset)
    assert (data.name, data.split, len(data)) == ("fashion", BUNDLED_TEST, 10_000)
    assert data.images.shape == (10_000, 28, 28, 1) and data.images.dtype == np.uint8
    assert data.labels.shape == (10_000,) and data.labels.dtype == np.uint8
    assert np.bincount(data.labels).tolist() == [1000] * 10
    assert "bundled with ganzoo" in data.source and data.verified == "sha256"
    digits = load_dataset(None, "mnist", split=BUNDLED_TEST)
    assert digits.labels[:5].tolist() == [7, 2, 1, 0, 4]  # MNIST's famous first test digits


def test_no_silent_substitution_of_the_bundled_copy(machine):
    """'test' is never served from the bundled copy, and 'train' never from test images."""
    for split in ("test", "train"):
        with pytest.raises(DatasetNotFoundError) as info:
            load_dataset(None, "fashion", split=split)
        assert "--split bundled-test" in str(info.value)


@needs_shared
def test_real_train_split_via_environment(machine, monkeypatch):
    monkeypatch.setenv("GANZOO_DATA", str(SHARED))
    data = load_dataset(Catalog.load(entry_points=False), "fashion", split="train")
    assert data.images.shape == (60_000, 28, 28, 1) and len(data) == 60_000
    assert np.bincount(data.labels).tolist() == [6000] * 10
    assert data.source == f"{SHARED / 'fashion-mnist'} (GANZOO_DATA)"
    assert data.sha256["train-images-idx3-ubyte"] == FASHION.split("train").images.sha256
    assert 0 < data.images.mean() < 255


@needs_shared
def test_shared_test_split_equals_the_bundled_copy(machine, monkeypatch):
    monkeypatch.setenv("GANZOO_DATA", str(SHARED))
    for name in ("fashion", "mnist"):
        shared = load_dataset(None, name, split="test")
        bundled = load_dataset(None, name, split=BUNDLED_TEST)
        assert "GANZOO_DATA" in shared.source and "bundled" in bundled.source
        np.testing.assert_array_equal(shared.images, bundled.images)
        np.testing.assert_array_equal(shared.labels, bundled.labels)


def test_not_found_lists_every_place_and_the_fix(machine, monkeypatch):
    monkeypatch.setenv("GANZOO_DATA", str(machine / "my-data"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(None, "mnist", split="train")
    message = str(info.value)
    for expected in (
        f"GANZOO_DATA {machine / 'my-data' / 'mnist'}: no such folder",
        f"ganzoo cache {machine / 'cache' / 'datasets' / 'mnist'}",
        f"system datasets folder {machine / 'usr-share-datasets' / 'mnist'}",
        f"Keras cache {machine / 'home' / '.keras' / 'datasets' / 'mnist.npz'}: no such file",
        f"torchvision layout {machine / 'data' / 'MNIST' / 'raw'}",
        "download: off, because GANZOO_OFFLINE is set",
        "Fix: when online, ganzoo downloads train-images-idx3-ubyte.gz",
        "--data-dir DIR or set GANZOO_DATA=DIR",
        "--data mnist --split bundled-test",
    ):
        assert expected in message


def test_download_false_says_so(machine, monkeypatch):
    monkeypatch.delenv("GANZOO_OFFLINE")
    with pytest.raises(DatasetNotFoundError, match=r"download: not attempted \(download=False\)"):
        load_dataset(None, "fashion", split="test", download=False)


def test_missing_data_dir_is_an_error_not_a_fallback(machine):
    with pytest.raises(DatasetNotFoundError, match=r"--data-dir .*nowhere is not a folder"):
        load_dataset(None, "fashion", split="test", data_dir=machine / "nowhere")


# -- resolution order and layouts ---------------------------------------------------------------


def _empty_split(folder: Path, prefix: str = "t10k") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("images-idx3", "labels-idx1"):
        (folder / f"{prefix}-{kind}-ubyte.gz").touch()
    return folder


def test_resolution_order(machine, monkeypatch):
    """Each place wins over the ones after it (resolution reads no file, so empty ones do)."""
    home = machine / "home"
    places = [
        ("torchvision layout", machine / "data" / "FashionMNIST" / "raw"),
        ("Keras cache", home / ".keras" / "datasets" / "fashion-mnist"),
        ("Debian package dataset-fashion-mnist", machine / "usr-share-datasets" / "fashion-mnist"),
        ("ganzoo cache", machine / "cache" / "datasets" / "fashion-mnist"),
        ("GANZOO_DATA", machine / "env" / "fashion-mnist"),
        ("--data-dir", machine / "flag" / "fashion-mnist"),
    ]
    monkeypatch.setenv("GANZOO_DATA", str(machine / "env"))
    test = FASHION.split("test")
    (machine / "flag").mkdir()
    for label, folder in places:
        _empty_split(folder)
        found = resolve(FASHION, test, data_dir=machine / "flag").found
        assert found is not None and found.label == label and found.images.parent == folder


def test_data_dir_layouts(machine):
    test = FASHION.split("test")
    torch_root = _empty_split(machine / "tv" / "FashionMNIST" / "raw")
    assert resolve(FASHION, test, machine / "tv").found.location == torch_root
    named = _empty_split(machine / "x" / "fashion-mnist")
    assert resolve(FASHION, test, named).found.location == named  # the folder itself
    half = machine / "half" / "fashion-mnist"
    half.mkdir(parents=True)
    (half / "t10k-images-idx3-ubyte.gz").touch()
    resolution = resolve(FASHION, test, machine / "half")
    assert resolution.found is None
    assert "no t10k-labels-idx1-ubyte.gz (has the other one)" in str(resolution.looked[0])


@needs_shared
def test_debian_layout_loads(machine):
    _link(machine / "usr-share-datasets" / "fashion-mnist", _shared("fashion-mnist", *T10K))
    data = load_dataset(None, "fashion", split="test")
    assert "Debian package dataset-fashion-mnist" in data.source and len(data) == 10_000


@needs_shared
def test_torchvision_layout_with_raw_files(machine):
    raw = machine / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in T10K:  # torchvision keeps the decompressed files: raw ones are read first
        (raw / name).write_bytes(gzip.decompress((SHARED / "mnist" / f"{name}.gz").read_bytes()))
    data = load_dataset(None, "mnist", split="test")
    assert data.source == f"{raw} (torchvision layout)"
    assert data.verified == "sha256"


def test_keras_npz_is_checked_like_the_idx_files(machine):
    bundled = load_dataset(None, "mnist", split=BUNDLED_TEST)
    npz = machine / "home" / ".keras" / "datasets" / "mnist.npz"
    npz.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8)
    train_y = rng.integers(0, 10, 60_000, dtype=np.uint8)
    np.savez(npz, x_train=train_x, y_train=train_y, x_test=bundled.images[..., 0],
             y_test=bundled.labels)
    test = load_dataset(None, "mnist", split="test")
    assert "Keras cache" in test.source and test.verified == "sha256"
    assert test.sha256 == bundled.sha256  # the IDX content hash, rebuilt from the arrays
    # No content hash is published for MNIST train: header/size checks only, and it says so.
    train = load_dataset(None, "mnist", split="train")
    assert train.verified.startswith("header, count and size")
    bad = bundled.images[..., 0].copy()
    bad[0, 0, 0] ^= 1
    np.savez(npz, x_test=bad, y_test=bundled.labels)
    with pytest.raises(ChecksumError, match=r"mnist.npz \[x_test\]: checksum mismatch"):
        load_dataset(None, "mnist", split="test")


# -- corrupt copies -----------------------------------------------------------------------------


def _bundled_bytes(spec: DatasetSpec, name: str) -> bytes:
    return gzip.decompress((BUNDLED_DIR / f"{spec.folder}_{name}.gz").read_bytes())


def _data_dir_with(machine: Path, spec: DatasetSpec, images: bytes, labels: bytes | None = None,
                   compress: bool = True) -> Path:
    folder = machine / "corrupt" / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    labels = labels if labels is not None else _bundled_bytes(spec, T10K[1])
    for name, content in zip(T10K, (images, labels), strict=True):
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content, compresslevel=1))
        else:
            (folder / name).write_bytes(content)
    return folder.parent


@pytest.mark.parametrize("compress", [True, False])
def test_one_flipped_pixel_byte_is_a_checksum_error(machine, compress):
    images = bytearray(_bundled_bytes(MNIST, T10K[0]))
    images[16 + 5000 * 784 + 400] ^= 0x01
    root = _data_dir_with(machine, MNIST, bytes(images), compress=compress)
    with pytest.raises(ChecksumError) as info:
        load_dataset(None, "mnist", split="test", data_dir=root)
    message = str(info.value)
    assert str(root / "mnist" / "t10k-images-idx3-ubyte") in message
    assert "checksum mismatch" in message and MNIST.split("test").images.sha256 in message
    assert "Delete it and rerun" in message


def test_a_damaged_gzip_file_is_an_error_naming_it(machine):
    root = _data_dir_with(machine, MNIST, _bundled_bytes(MNIST, T10K[0]))
    path = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(DatasetError, match=str(path)):
        load_dataset(None, "mnist", split="test", data_dir=root)


@pytest.mark.parametrize("compress", [True, False])
def test_truncated_file(machine, compress):
    images = _bundled_bytes(MNIST, T10K[0])
    root = _data_dir_with(machine, MNIST, images, compress=compress)
    name = T10K[0] + (".gz" if compress else "")
    path = root / "mnist" / name
    content = path.read_bytes()
    path.write_bytes(content[: len(content) * 2 // 3])
    with pytest.raises(IdxFormatError, match=r"truncated|ends early") as info:
        load_dataset(None, "mnist", split="test", data_dir=root)
    assert str(path) in str(info.value)


def test_labels_file_passed_as_images(machine):
    labels = _bundled_bytes(FASHION, T10K[1])
    root = _data_dir_with(machine, FASHION, images=labels, labels=labels)
    with pytest.raises(DatasetMismatchError) as info:
        load_dataset(None, "fashion", split="test", data_dir=root)
    message = str(info.value)
    assert str(root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz") in message
    assert "IDX labels file (10000, uint8)" in message and "swapped" in message


@needs_shared
def test_another_splits_file(machine):
    folder = _link(machine / "mixed" / "fashion-mnist", {
        "t10k-images-idx3-ubyte.gz": SHARED / "fashion-mnist" / "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz": SHARED / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz",
    })
    with pytest.raises(DatasetMismatchError, match="holds 60,000 images, but split 'test'"):
        load_dataset(None, "fashion", split="test", data_dir=folder.parent)


def test_mnist_passed_as_fashion_fails_its_checksum(machine):
    root = _data_dir_with(machine, FASHION, _bundled_bytes(MNIST, T10K[0]),
                          _bundled_bytes(MNIST, T10K[1]))
    with pytest.raises(ChecksumError, match="Fashion-MNIST's t10k-images-idx3-ubyte"):
        load_dataset(None, "fashion", split="test", data_dir=root)


def test_wrong_image_size_and_label_out_of_range(machine):
    spec = _tiny_spec(sha=False)
    folder = machine / "tiny-data" / "tiny"
    folder.mkdir(parents=True)
    write_idx(folder / "t-images.gz", np.zeros((4, 32, 32), np.uint8))
    write_idx(folder / "t-labels.gz", np.array([0, 1, 2, 3], np.uint8))
    with pytest.raises(DatasetMismatchError, match="holds 32x32 images, Tiny's are 28x28"):
        load_dataset(spec, split="test", data_dir=folder.parent)
    write_idx(folder / "t-images.gz", np.zeros((4, 28, 28), np.uint8))
    write_idx(folder / "t-labels.gz", np.array([0, 1, 7, 3], np.uint8))
    with pytest.raises(DatasetMismatchError, match="label 7 at index 2, but tiny has 3 classes"):
        load_dataset(spec, split="test", data_dir=folder.parent)


# -- downloads (file:// mirrors only) -----------------------------------------------------------

TINY_IMAGES = np.arange(4 * 28 * 28, dtype=np.uint8).reshape(4, 28, 28)
TINY_LABELS = np.array([0, 1, 2, 1], np.uint8)


def _tiny_spec(mirrors: tuple[str, ...] = (), sha: bool = True,
               md5: str | None = None) -> DatasetSpec:
    def file(name: str, array: np.ndarray) -> IdxFile:
        content = idx_bytes(array)
        digest = hashlib.sha256(content).hexdigest() if sha else None
        return IdxFile(name, len(content), digest, md5)

    test = SplitSpec("test", 4, file("t-images", TINY_IMAGES), file("t-labels", TINY_LABELS))
    return DatasetSpec(name="tiny", title="Tiny", folder="tiny", licence="CC0", homepage="",
                       classes=("a", "b", "c"), splits=(test, bundled_copy(test)),
                       mirrors=mirrors)


def _mirror(root: Path, images: np.ndarray = TINY_IMAGES) -> str:
    root.mkdir(parents=True, exist_ok=True)
    write_idx(root / "t-images.gz", images)
    write_idx(root / "t-labels.gz", TINY_LABELS)
    return root.as_uri() + "/"


@pytest.fixture
def online(machine, monkeypatch):
    """Downloads on, but only file:// URLs may be opened."""
    monkeypatch.delenv("GANZOO_OFFLINE")
    opened: list[str] = []

    def local_only(url, *args, **kwargs):
        assert url.startswith("file:"), f"a test tried to open {url}"
        opened.append(url)
        return urllib.request.urlopen(url, *args, **kwargs)

    monkeypatch.setattr(download_module, "urlopen", local_only)
    return opened


def test_download_into_the_cache_then_reuse(machine, online):
    spec = _tiny_spec((_mirror(machine / "mirror"),))
    data = load_dataset(spec, split="test")
    cache = machine / "cache" / "datasets" / "tiny"
    assert sorted(p.name for p in cache.iterdir()) == ["t-images.gz", "t-labels.gz"]
    assert data.source == f"{cache} (ganzoo cache, just downloaded)"
    np.testing.assert_array_equal(data.images[..., 0], TINY_IMAGES)
    assert len(online) == 2
    again = load_dataset(spec, split="test")
    assert again.source == f"{cache} (ganzoo cache)" and len(online) == 2


def test_download_falls_back_to_the_next_mirror(machine, online):
    bad = _mirror(machine / "bad", images=TINY_IMAGES[::-1].copy())  # wrong content
    spec = _tiny_spec((bad, _mirror(machine / "good")))
    data = load_dataset(spec, split="test", progress=True)
    np.testing.assert_array_equal(data.images[..., 0], TINY_IMAGES)
    assert not list((machine / "cache").rglob("*.part"))


def test_failed_download_is_a_not_found_error_with_each_reason(machine, online):
    bad = _mirror(machine / "bad", images=TINY_IMAGES[::-1].copy())
    missing = (machine / "missing").as_uri() + "/"
    spec = _tiny_spec((bad, missing))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(spec, split="test")
    message = str(info.value)
    assert f"{bad}t-images.gz: " in message and "checksum mismatch" in message
    assert f"{missing}t-images.gz: " in message
    assert not list((machine / "cache").rglob("*.gz*"))  # nothing unchecked left behind


def test_download_without_content_hash_checks_the_release_md5(machine, online):
    mirror = _mirror(machine / "mirror")
    spec = _tiny_spec((mirror,), sha=False, md5="0" * 32)
    with pytest.raises(DatasetNotFoundError, match="is not the official release's 0000"):
        load_dataset(spec, split="test")
    md5 = hashlib.md5((machine / "mirror" / "t-images.gz").read_bytes()).hexdigest()
    labels_md5 = hashlib.md5((machine / "mirror" / "t-labels.gz").read_bytes()).hexdigest()
    test = spec.split("test")
    test = replace(test, images=replace(test.images, archive_md5=md5),
                   labels=replace(test.labels, archive_md5=labels_md5))
    spec = replace(spec, splits=(test,))
    assert load_dataset(spec, split="test").verified.startswith("header, count and size")


def test_offline_never_opens_a_url(machine):
    spec = _tiny_spec(("https://example.invalid/",))
    with pytest.raises(DatasetNotFoundError, match="GANZOO_OFFLINE is set"):
        load_dataset(spec, split="test")  # the tripwire urlopen would fail the test


def test_bundled_split_of_a_plugin_without_files(machine):
    with pytest.raises(DatasetNotFoundError, match="tiny bundles no files"):
        load_dataset(_tiny_spec(), split="bundled-test")
