"""Measuring generated images against real ones, offline, with numpy only.

- :mod:`~ganzoo.metrics.extractor`: the shipped per-dataset classifiers, run in numpy; their
  penultimate layer gives the features (``python -m tools.extractor.train`` in a checkout
  trains them, with the torch network of ``tools/extractor/net.py``).
- :mod:`~ganzoo.metrics.fid`, :mod:`~ganzoo.metrics.kid`, :mod:`~ganzoo.metrics.manifold`
  (precision and recall), :mod:`~ganzoo.metrics.classes` (IS-like score, class coverage): the
  metrics over (N, D) features or (N, C) probabilities.
- :mod:`~ganzoo.metrics.suite`: all of them at once, with their settings.
- :mod:`~ganzoo.metrics.reference`: real-set features (cached) and the real-vs-real floor.
- :mod:`~ganzoo.metrics.protocol`: what is recorded with each result, and when two compare.

See docs/metrics.md.
"""
