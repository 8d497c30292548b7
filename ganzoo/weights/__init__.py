"""Weights files, in one package (docs/weights.md).

- :mod:`ganzoo.weights.format`: the file itself (safetensors + a JSON metadata block): write,
  read, validate, checksums, parts, shapes. Needs no framework and no card.
- :mod:`ganzoo.weights.metadata`: the metadata block a trained version's file carries.
- :mod:`ganzoo.weights.loading`: a file checked against its family's card, and which
  installed backend loads it (``check_file``, ``loader_for``).
- :mod:`ganzoo.weights.generators`: the one way from a weights file or a registered version to
  a loaded generator (``load_generator_from_file``, ``load_version_generator``).

The format's names are re-exported here, so ``from ganzoo.weights import write_weights`` keeps
working; the other modules import the card catalog and are imported by name.
"""

from ganzoo.weights.format import (
    CHECKSUM_KEY,
    FORMAT,
    FORMAT_VERSION,
    OPTIONAL_METADATA,
    PARTS,
    REQUIRED_METADATA,
    WEIGHTS_NAME,
    check_shapes,
    current_umask,
    file_sha256,
    read_metadata,
    read_weights,
    save_atomically,
    select_part,
    tensors_digest,
    write_weights,
)

__all__ = [
    "CHECKSUM_KEY",
    "FORMAT",
    "FORMAT_VERSION",
    "OPTIONAL_METADATA",
    "PARTS",
    "REQUIRED_METADATA",
    "WEIGHTS_NAME",
    "check_shapes",
    "current_umask",
    "file_sha256",
    "read_metadata",
    "read_weights",
    "save_atomically",
    "select_part",
    "tensors_digest",
    "write_weights",
]
