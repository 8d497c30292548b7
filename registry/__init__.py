"""The built-in model cards (one TOML file per family), installed as package data."""
