"""``ganzoo.load``: a trained generator from a version, a weights file or a Hub folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganzoo.errors import UsageError

if TYPE_CHECKING:
    from PIL import Image

    from ganzoo.protocols import Generator

GENERATE_BATCH = 500  # images per backend call: bounded memory for any n
DTYPES = ("uint8", "float32")


class LoadedGenerator:
    """A generator ready to sample: the backend's network and its weights file's metadata.

    ``source`` is what was loaded (a version ref, or a path); ``ref`` the registered version
    (``None`` for a file or folder). ``meta`` is the weights file's metadata (docs/weights.md).
    """

    def __init__(self, generator: Generator, meta: dict[str, Any], source: str,
                 ref: str | None = None) -> None:
        self.network = generator
        self.meta = meta
        self.source = source
        self.ref = ref

    @property
    def model_id(self) -> str:
        return str(self.meta["model_id"])

    @property
    def family(self) -> str:
        return str(self.meta["family"])

    @property
    def backend(self) -> str:
        return str(self.meta["backend"])

    @property
    def latent_dim(self) -> int:
        return int(self.meta["latent_dim"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.meta["image_shape"])  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (f"LoadedGenerator({self.ref or self.source!r}: {self.family}, recipe "
                f"{self.meta['recipe']}, {self.backend} backend, images {self.image_shape})")

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """The latent vectors ``sample(n, seed)`` uses: the model's own noise distribution."""
        from ganzoo.noise import draw_noise

        return draw_noise(self.meta["noise"], n, self.latent_dim, seed)

    def sample(self, n: int, seed: int = 0, label: int | None = None, *,
               dtype: str = "uint8") -> np.ndarray:
        """``n`` images, shape ``(n, H, W, C)`` (channels last, whatever the backend).

        ``dtype="uint8"`` (the default): pixels in 0..255, as ``ganzoo sample`` saves them and
        the metrics read them. ``dtype="float32"``: the generator's raw output in [-1, 1]. The
        same ``seed`` gives the same images as ``ganzoo sample --seed`` and ``ganzoo eval``.
        ``label`` is for class-conditional families (``cgan``): every image of that class;
        a conditional model sampled without ``label`` draws labels uniformly (seeded).
        """
        from ganzoo.conditioning import check_label, uniform_labels
        from ganzoo.images import to_uint8

        classes = getattr(self.network, "classes", None)
        if label is not None:
            if classes is None:
                raise UsageError(f"{self.model_id} is unconditional: it cannot generate a "
                                 "chosen class; call sample() without label")
            check_label(label, classes, self.model_id)
        if dtype not in DTYPES:
            raise UsageError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        if n < 1:
            raise UsageError(f"n must be at least 1, not {n}")
        noise = self.noise(n, seed)
        labels = None
        if classes is not None:
            labels = (np.full(n, int(label), np.int64) if label is not None
                      else uniform_labels(n, classes, seed))
        out = np.empty((n, *self.image_shape), dtype=np.float32)
        for i in range(0, n, GENERATE_BATCH):
            chunk = noise[i:i + GENERATE_BATCH]
            made = (self.network.generate(chunk) if labels is None
                    else self.network.generate(chunk, labels[i:i + GENERATE_BATCH]))
            out[i:i + GENERATE_BATCH] = np.asarray(made, dtype=np.float32)
        return to_uint8(out) if dtype == "uint8" else out

    def grid(self, n: int = 64, seed: int = 0, *, ncols: int | None = None,
             scale: int = 2) -> Image.Image:
        """A PIL image of ``n`` samples tiled in a grid (what ``ganzoo sample`` writes)."""
        from PIL import Image

        from ganzoo.images import make_grid

        picture = make_grid(self.sample(n, seed, dtype="float32"), ncols)
        image = Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture)
        if scale > 1:
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
        return image

    def _repr_png_(self) -> bytes:
        """Jupyter shows a loaded generator as a grid of 16 samples."""
        import io

        buffer = io.BytesIO()
        self.grid(16).save(buffer, format="PNG")
        return buffer.getvalue()


def _is_path(source: str | os.PathLike[str]) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return (source.endswith(".safetensors") or os.sep in source or "/" in source
            or Path(source).exists())


def load(source: str | os.PathLike[str], *, backend: str | None = None) -> LoadedGenerator:
    """A generator to sample from.

    ``source`` is a registered version (``"dcgan-torch@latest"``, ``"dcgan-torch@3"``, or a
    model id for its latest version), a weights file written by ``ganzoo export``, or a Hub
    folder written by ``ganzoo export --hub-dir`` (or downloaded from the Hub). ``backend``
    (for files and folders) builds the network with another backend than the one that trained
    it. Loading imports the backend's framework; listing and this module's import do not.
    """
    from ganzoo.api.listing import catalog as get_catalog
    from ganzoo.hub import weights_in
    from ganzoo.weights.generators import load_generator_from_file, version_weights

    catalog = get_catalog()
    ref = None
    if _is_path(source):
        path = Path(source)
        if path.is_dir():
            path = weights_in(path)
    else:
        if backend is not None:
            raise UsageError("backend= applies to weights files and Hub folders; a version "
                             "loads with the backend that trained it")
        path, record = version_weights(str(source), catalog)
        ref = record.ref
    network, meta = load_generator_from_file(catalog, path, backend)
    return LoadedGenerator(network, meta, str(source), ref)
