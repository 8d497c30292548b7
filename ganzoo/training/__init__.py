"""The training shell shared by every backend and family."""
