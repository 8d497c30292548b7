"""ganzoo's built-in PyTorch plugin: the mlp, dcgan and combined families on torch."""
