"""``ganzoo.noise.as_latent_batch``: the checks mutation testing found unguarded (docs/testing.md).

The latent batch a user hands to ``sample``/``export`` is converted to float32 with its values
kept, and any shape other than (N, latent_dim) is refused with a message naming both shapes.
"""

from __future__ import annotations

import numpy as np
import pytest

from ganzoo.noise import as_latent_batch


def test_a_list_of_float64_rows_becomes_float32_with_its_values():
    rows = [[0.1, -2.5, 3.0], [1e-3, 0.0, -7.25]]
    batch = as_latent_batch(rows, 3)
    assert isinstance(batch, np.ndarray)
    assert batch.dtype == np.float32 and batch.shape == (2, 3)
    np.testing.assert_array_equal(batch, np.asarray(rows, dtype=np.float32))


def test_an_empty_batch_of_the_right_width_is_accepted():
    assert as_latent_batch(np.zeros((0, 4)), 4).shape == (0, 4)


@pytest.mark.parametrize(
    ("shape", "latent_dim"),
    [((3,), 3), ((2, 4), 3), ((2, 3, 1), 3), ((1, 1, 3), 3), ((5, 2), 3), ((2, 2), 2 + 1)],
)
def test_any_other_shape_is_refused_naming_both_shapes(shape, latent_dim):
    with pytest.raises(ValueError) as caught:
        as_latent_batch(np.zeros(shape), latent_dim)
    assert str(caught.value) == f"noise must be (N, {latent_dim}), got {shape}"
