"""``python -m ganzoo``: the command line (also how torchrun starts each rank)."""

from ganzoo.cli import main

main()
