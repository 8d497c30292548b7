"""Both frameworks in one process, whatever order a user names the models in."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.torch, pytest.mark.keras]

BOTH = textwrap.dedent("""
    import sys
    import numpy as np
    from ganzoo.catalog import Catalog
    catalog = Catalog.load(plugins=["torch", "keras"])
    # Keras first on purpose: importing tensorflow before torchvision crashes some machines,
    # so ganzoo must import torch first by itself.
    order = sys.argv[1].split(",")
    noise = np.zeros((2, 100), dtype=np.float32)
    for model_id in order:
        spec = catalog.model(model_id)
        recipe = spec.card.recipe()
        backend = spec.load_backend()
        weights = {name: np.zeros(shape, np.float32)
                   for name, shape in recipe.generator.tensor_shapes("generator").items()}
        for name in weights:
            if name.endswith("running_var") or (name.endswith(".weight") and len(
                    weights[name].shape) == 1):
                weights[name][:] = 1.0
        images = backend.load_generator(recipe, weights).generate(noise)
        assert images.shape == (2, 28, 28, 1), images.shape
    import torchvision  # noqa: F401  (the import that crashes when tensorflow came first)
    print("OK", sorted(m for m in ("torch", "tensorflow") if m in sys.modules))
""")


@pytest.mark.parametrize("order", ["mlp-keras,dcgan-torch", "dcgan-torch,combined-keras"])
def test_keras_and_torch_models_load_in_one_process(order):
    proc = subprocess.run([sys.executable, "-c", BOTH, order], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OK ['tensorflow', 'torch']" in proc.stdout


def test_import_tensorflow_imports_torch_first():
    code = ("import sys; from ganzoo.frameworks import import_tensorflow; import_tensorflow(); "
            "import torchvision; print(list(sys.modules).index('torch') < "
            "list(sys.modules).index('tensorflow'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "True"


def test_no_code_or_test_imports_tensorflow_behind_ganzoos_back():
    """``pytest.importorskip("tensorflow")`` or a bare ``import tensorflow`` in a test process
    loads TensorFlow before torchvision; a torch test later in the same run then segfaults
    when torch._dynamo first loads triton. Everything goes through import_tensorflow."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bare = re.compile(r"^\s*(import tensorflow|from tensorflow\b|import keras\b|from keras\b)"
                      r"|importorskip\(\s*[\"'](tensorflow|keras)[\"']", re.MULTILINE)
    # after import_tensorflow() on the line before:
    allowed = {"ganzoo/frameworks.py", "plugins/ganzoo_keras/runtime.py",
               "tests/test_torch_keras_parity.py"}
    offenders = []
    for folder in ("ganzoo", "plugins", "tests", "benchmarks", "tools"):
        for path in (root / folder).rglob("*.py"):
            rel = path.relative_to(root).as_posix()
            if rel in allowed or rel == "tests/test_frameworks.py":
                continue
            for match in bare.finditer(path.read_text(encoding="utf-8")):
                offenders.append(f"{rel}: {match.group(0).strip()}")
    assert offenders == [], offenders
