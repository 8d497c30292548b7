"""An example third-party ganzoo plugin: the ``tinymlp`` family on ganzoo's torch backend."""

__version__ = "0.1.0"
