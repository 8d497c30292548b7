"""Maintainers' tools: run from the checkout (``python -m tools.<name>``), never installed."""
