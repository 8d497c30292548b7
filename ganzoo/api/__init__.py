"""The Python API: what the CLI does, from a notebook (docs/python.md).

``ganzoo.models``, ``ganzoo.load``, ``ganzoo.train``, ``ganzoo.evaluate`` and ``ganzoo.compare``
are these functions, re-exported lazily by ``ganzoo/__init__.py``: importing ganzoo imports no
framework; torch or TensorFlow is imported when a model is loaded or trained. They call the same
functions as the CLI (the training shell, the evaluator, the comparison, the exchange of weights
files), so a notebook and a terminal get the same versions and the same numbers.
"""

from ganzoo.api.generator import LoadedGenerator, load
from ganzoo.api.listing import models
from ganzoo.api.measuring import CompareResult, EvalResult, compare, evaluate
from ganzoo.api.training import train

__all__ = ["CompareResult", "EvalResult", "LoadedGenerator", "compare", "evaluate", "load",
           "models", "train"]
