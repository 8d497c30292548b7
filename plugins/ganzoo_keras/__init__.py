"""ganzoo's built-in TF-Keras plugin: the mlp, dcgan and combined families on Keras 3."""
