"""Training the shipped feature extractors (torch): ``python -m tools.extractor.train``.

The runtime (``ganzoo.metrics.extractor``) evaluates them in numpy and needs nothing from here.
"""
