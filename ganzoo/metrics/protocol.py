"""The protocol stored with every evaluation: everything needed to reproduce its numbers.

FID and precision/recall depend on the sample counts, the reference set and the extractor, so
numbers are only put side by side when their protocols match (:func:`protocol_key`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ganzoo import __version__
from ganzoo.metrics.extractor import Extractor
from ganzoo.metrics.suite import MetricSettings

# Recorded for the reader, but not part of what makes two evaluations comparable.
_INFORMATIONAL = ("ganzoo_version", "real_source")


def make_protocol(*, dataset: str, n: int, seed: int, real_split: str, real_n: int,
                  real_source: str, extractor: Extractor,
                  settings: MetricSettings) -> dict[str, Any]:
    """The protocol of an evaluation of ``n`` generated images against a real split."""
    return {
        "dataset": dataset,
        "n": n,
        "seed": seed,
        "noise": f"draw_noise(<model's noise kind>, {n}, <latent_dim>, seed={seed})",
        "real_split": real_split,
        "real_n": real_n,
        "real_source": real_source,
        "extractor": extractor.describe(),
        "features": "penultimate layer; images quantised to uint8 first",
        "metrics": settings.to_dict(),
        "ganzoo_version": __version__,
    }


def protocol_key(protocol: dict[str, Any]) -> str:
    """A short digest that is equal exactly when two protocols give comparable numbers."""
    core = {k: v for k, v in protocol.items() if k not in _INFORMATIONAL}
    if isinstance(core.get("extractor"), dict):
        core["extractor"] = {"name": core["extractor"].get("name"),
                             "sha256": core["extractor"].get("sha256")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:12]


def describe(protocol: dict[str, Any]) -> str:
    """One line: sample count, seed, real set and extractor."""
    ext = protocol.get("extractor", {})
    m = protocol.get("metrics", {})
    return (f"n={protocol.get('n'):,} generated (seed {protocol.get('seed')}) vs "
            f"{protocol.get('dataset')}/{protocol.get('real_split')} "
            f"({protocol.get('real_n'):,} images); extractor {ext.get('name')} "
            f"sha256 {str(ext.get('sha256', ''))[:12]}; KID {m.get('kid_subsets')}x"
            f"{m.get('kid_subset_size')}, P/R k={m.get('pr_k')}")


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The settings in which two protocols differ, in words (empty when comparable)."""
    out = []
    for key in sorted(set(a) | set(b)):
        if key in _INFORMATIONAL:
            continue
        va, vb = a.get(key), b.get(key)
        if key == "extractor":
            va = (va or {}).get("sha256", "")[:12]
            vb = (vb or {}).get("sha256", "")[:12]
        if va != vb:
            out.append(f"{key}: {va} vs {vb}")
    return out
