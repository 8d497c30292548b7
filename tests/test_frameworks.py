"""Both frameworks in one process, whatever order a user names the models in."""

from __future__ import annotations

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
